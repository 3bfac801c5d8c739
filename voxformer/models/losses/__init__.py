"""voxformer.models.losses."""
