"""voxformer.engine: hooks and training helpers used by the mmengine runner."""
