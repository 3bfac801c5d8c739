"""voxformer.datasets."""
