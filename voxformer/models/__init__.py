"""voxformer.models: voxel encoders, 3D backbones, BEV stage, heads, detectors and segmentors, registered in
``voxformer.registry.MODELS`` (importing this package registers them)."""

from . import backbones3d, bev, detectors, heads, losses, segmentors, voxel_encoders
from .checkpoint import LoadReport, load_model_weights

__all__ = ["LoadReport", "backbones3d", "bev", "detectors", "heads", "load_model_weights", "losses", "segmentors",
           "voxel_encoders"]
