"""The voxel grid: its cell counts from a point-cloud range and a voxel size, and the linear voxel key.

Key of voxel (b, z, y, x) on a (Z, Y, X) grid: ((b * Z + z) * Y + y) * X + x, int64. For
0 <= z < Z, 0 <= y < Y, 0 <= x < X the keys sort as (b, z, y, x) and :func:`decode_voxel_keys` inverts
them. The same encoding numbers windows (b, window z, y, x) on the grid of windows, and a voxel's slot
(window, z, y, x) inside a window.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def derive_sparse_shape(
    point_cloud_range: Sequence[float], voxel_size: Sequence[float], tolerance: float = 1e-4
) -> tuple[int, int, int]:
    """(Z, Y, X) cells for ``point_cloud_range`` (x0, y0, z0, x1, y1, z1) and ``voxel_size`` (vx, vy, vz).

    Raises ``ValueError`` naming ``point_cloud_range`` and ``voxel_size`` and the numbers when an
    extent is not a whole number of voxels (within ``tolerance`` voxels) or is not positive.
    """
    if len(point_cloud_range) != 6:
        raise ValueError(f"point_cloud_range must have 6 numbers (x0, y0, z0, x1, y1, z1), got {point_cloud_range}")
    if len(voxel_size) != 3:
        raise ValueError(f"voxel_size must have 3 numbers (vx, vy, vz), got {voxel_size}")
    cells = []
    for axis, index in (("x", 0), ("y", 1), ("z", 2)):
        extent = point_cloud_range[index + 3] - point_cloud_range[index]
        size = voxel_size[index]
        if size <= 0 or extent <= 0:
            raise ValueError(
                f"point_cloud_range {list(point_cloud_range)} and voxel_size {list(voxel_size)}: "
                f"the {axis} extent ({extent:g}) and voxel size ({size:g}) must be positive"
            )
        count = extent / size
        if abs(count - round(count)) > tolerance:
            raise ValueError(
                f"point_cloud_range {list(point_cloud_range)} is not a whole number of voxel_size "
                f"{list(voxel_size)} along {axis}: {extent:g} m / {size:g} m = {count:.4f} voxels"
            )
        cells.append(int(round(count)))
    x_cells, y_cells, z_cells = cells
    return z_cells, y_cells, x_cells


def encode_voxel_keys(columns: Sequence[torch.Tensor], sparse_shape: Sequence[int]) -> torch.Tensor:
    """int64 key ((b * Z + z) * Y + y) * X + x of ``columns`` (b, z, y, x) on a (Z, Y, X) grid.

    The four integer tensors broadcast against each other; the result has their broadcast shape.
    """
    lead, *digits = columns
    key = lead.long()
    for digit, size in zip(digits, sparse_shape, strict=True):
        key = key * int(size) + digit
    return key


def decode_voxel_keys(keys: torch.Tensor, sparse_shape: Sequence[int]) -> torch.Tensor:
    """(M, 4) int32 (b, z, y, x) of (M,) keys made by :func:`encode_voxel_keys` on a (Z, Y, X) grid."""
    z_size, y_size, x_size = (int(s) for s in sparse_shape)
    x = keys % x_size
    rest = keys // x_size
    y = rest % y_size
    rest = rest // y_size
    return torch.stack([rest // z_size, rest % z_size, y, x], dim=1).int()
