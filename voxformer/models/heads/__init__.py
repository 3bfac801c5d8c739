"""voxformer.models.heads."""
