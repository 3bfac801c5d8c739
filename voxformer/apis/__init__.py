"""voxformer.apis."""
