"""voxformer.evaluation.metrics."""
