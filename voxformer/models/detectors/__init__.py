"""voxformer.models.detectors."""
