"""voxformer.datasets.transforms."""
