"""voxformer.visualization."""
