"""The Python API: build a detector from a config and checkpoint, run it on point clouds."""

from .inference import Detections, inference_detector, init_detector

__all__ = ["Detections", "inference_detector", "init_detector"]
