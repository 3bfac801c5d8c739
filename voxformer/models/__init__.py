"""voxformer.models."""
