"""Segmentors: per-point class labels for LiDAR scans, and their per-voxel heads."""

from .seg_head import VoxelSegHead
from .voxel_segmentor import VoxelSegmentor, nearest_voxel_index

__all__ = ["VoxelSegHead", "VoxelSegmentor", "nearest_voxel_index"]
