"""Deployment: export a detector to ONNX / ``torch.export`` and run it with onnxruntime (docs/deploy.md).

The data-dependent indexing (voxelization, window / set / group partitions) runs outside the graph
(:mod:`.indexing`); the graph (:mod:`.graph`) holds the voxel encoder, backbone, BEV stage and head and returns
the raw head maps; decoding and NMS run after it (:mod:`.runtime`). :mod:`.export` writes the file.
"""

from .export import FORMATS, check_exportable, config_hash, export_model
from .runtime import OnnxDetector

__all__ = ["FORMATS", "OnnxDetector", "check_exportable", "config_hash", "export_model"]
