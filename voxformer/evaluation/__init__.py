"""voxformer.evaluation."""
