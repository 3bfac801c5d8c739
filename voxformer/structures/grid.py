"""Grid geometry derived from a config: never type a sparse shape by hand; the range's bird's-eye view.

:func:`derive_sparse_shape` (the (Z, Y, X) cells of a range and voxel size) is the ops' own check, so a
config and :func:`voxformer.ops.voxelize` accept the same grids.
"""

from __future__ import annotations

from collections.abc import Sequence

from voxformer.errors import ConfigError
from voxformer.ops import derive_sparse_shape

__all__ = ["check_window_fits", "derive_sparse_shape", "in_bev_range"]


def check_window_fits(sparse_shape: Sequence[int], window_shape: Sequence[int], key: str = "window_shape") -> None:
    """Raise :class:`ConfigError` naming ``key`` when a (wz, wy, wx) window is larger than the (Z, Y, X) grid
    or not positive."""
    if len(window_shape) != 3:
        raise ConfigError(f"{key} must be (wz, wy, wx), got {list(window_shape)}")
    for axis, w, s in zip("zyx", window_shape, sparse_shape):
        if w <= 0 or w > s:
            raise ConfigError(
                f"{key} {list(window_shape)} does not fit sparse_shape {list(sparse_shape)}: "
                f"{axis} window {w} must be between 1 and {s}"
            )


def in_bev_range(centres, point_cloud_range: Sequence[float]):
    """(N,) bool (NumPy array or tensor, as ``centres``): x0 <= x < x1 and y0 <= y < y1 for the first two
    columns of ``centres`` (N, 2+) and ``point_cloud_range`` (x0, y0, z0, x1, y1, z1)."""
    x0, y0, _, x1, y1, _ = point_cloud_range
    x, y = centres[:, 0], centres[:, 1]
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
