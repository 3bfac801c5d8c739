"""Data types that flow between modules. ``Det3DSample`` needs mmengine and is imported on use."""

from .boxes3d import BOX_DIM, Boxes3D, rotation_z, wrap_angle
from .grid import check_window_fits, derive_sparse_shape, in_bev_range
from .kitti_calib import KittiCalib
from .sparse_voxels import SparseVoxels

__all__ = [
    "BOX_DIM",
    "Boxes3D",
    "KittiCalib",
    "SparseVoxels",
    "check_window_fits",
    "derive_sparse_shape",
    "in_bev_range",
    "rotation_z",
    "wrap_angle",
]
