"""voxformer.models.voxel_encoders."""
