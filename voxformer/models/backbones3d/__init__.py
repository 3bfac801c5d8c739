"""voxformer.models.backbones3d."""
