"""voxformer.ops: tensor-in, tensor-out ops for sparse voxel detectors.

Depends on torch only (numba and triton are optional fast backends). Every op has a plain-PyTorch
reference and dispatches to a fast backend by device; see :mod:`voxformer.ops.backends`.
"""

from .backends import BACKEND_ENV, usable_backends

__all__ = ["BACKEND_ENV", "usable_backends"]

from .boxes import (  # noqa: E402
    boxes_iou3d,
    boxes_iou_aligned,
    boxes_iou_bev,
    circle_nms,
    count_points_in_boxes,
    nms_rotated,
    points_in_boxes,
)

__all__ += [
    "boxes_iou3d",
    "boxes_iou_aligned",
    "boxes_iou_bev",
    "circle_nms",
    "count_points_in_boxes",
    "nms_rotated",
    "points_in_boxes",
]

from .voxelize import DynamicVoxels, HardVoxels, voxelize  # noqa: E402

__all__ += ["DynamicVoxels", "HardVoxels", "voxelize"]

from .bev import gather_from_bev, scatter_to_bev  # noqa: E402
from .segment import segment_reduce  # noqa: E402

__all__ += ["gather_from_bev", "scatter_to_bev", "segment_reduce"]

from .serialization import Serialization, serialize  # noqa: E402

__all__ += ["Serialization", "serialize"]

from .sparse_conv import sparse_conv_neighbors, sparse_depthwise_conv  # noqa: E402

__all__ += ["sparse_conv_neighbors", "sparse_depthwise_conv"]

from .partition import FlatGroups, SetPartition, WindowPartition, dsvt_sets, flat_groups, window_partition  # noqa: E402

__all__ += ["FlatGroups", "SetPartition", "WindowPartition", "dsvt_sets", "flat_groups", "window_partition"]

from .attention import scattered_linear_attention, set_attention, varlen_window_attention  # noqa: E402

__all__ += ["scattered_linear_attention", "set_attention", "varlen_window_attention"]
