"""voxformer.datasets.formats."""
