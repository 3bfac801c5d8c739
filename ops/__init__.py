"""voxformer.ops: tensor-in, tensor-out ops for sparse voxel detectors.

Depends on torch only (numba and triton are optional fast backends). Every op has a plain-PyTorch
reference and dispatches to a fast backend by device; see :mod:`voxformer.ops.backends` and
``docs/ops_api.md``.
"""

from .attention import scattered_linear_attention, set_attention, varlen_window_attention
from .backends import BACKEND_ENV, usable_backends
from .bev import gather_from_bev, scatter_to_bev
from .boxes import (
    batched_circle_nms,
    batched_nms_rotated,
    boxes_iou3d,
    boxes_iou_aligned,
    boxes_iou_bev,
    circle_nms,
    count_points_in_boxes,
    nms_rotated,
    points_in_boxes,
)
from .grid import decode_voxel_keys, derive_sparse_shape, encode_voxel_keys
from .partition import FlatGroups, SetPartition, WindowPartition, dsvt_sets, flat_groups, window_partition
from .radial_partition import cubic_window_partition, radial_window_partition, spherical_coordinates, window_positions
from .rpe_attention import rpe_window_attention
from .segment import segment_reduce
from .serialization import Serialization, serialize
from .sparse_conv import sparse_conv_neighbors, sparse_depthwise_conv
from .voxelize import DynamicVoxels, HardVoxels, voxelize

__all__ = [
    "BACKEND_ENV",
    "DynamicVoxels",
    "FlatGroups",
    "HardVoxels",
    "Serialization",
    "SetPartition",
    "WindowPartition",
    "batched_circle_nms",
    "batched_nms_rotated",
    "boxes_iou3d",
    "boxes_iou_aligned",
    "boxes_iou_bev",
    "circle_nms",
    "count_points_in_boxes",
    "cubic_window_partition",
    "decode_voxel_keys",
    "derive_sparse_shape",
    "dsvt_sets",
    "encode_voxel_keys",
    "flat_groups",
    "gather_from_bev",
    "nms_rotated",
    "points_in_boxes",
    "radial_window_partition",
    "rpe_window_attention",
    "scatter_to_bev",
    "scattered_linear_attention",
    "segment_reduce",
    "serialize",
    "set_attention",
    "sparse_conv_neighbors",
    "sparse_depthwise_conv",
    "spherical_coordinates",
    "usable_backends",
    "varlen_window_attention",
    "voxelize",
    "window_partition",
    "window_positions",
]
