"""Detectors and their data preprocessor."""

from .data_preprocessor import VoxelDataPreprocessor
from .voxel_detector import VoxelDetector

__all__ = ["VoxelDataPreprocessor", "VoxelDetector"]
