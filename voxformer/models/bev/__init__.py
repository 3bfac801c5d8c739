"""voxformer.models.bev."""
