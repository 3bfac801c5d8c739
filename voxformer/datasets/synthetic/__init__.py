"""voxformer.datasets.synthetic."""
