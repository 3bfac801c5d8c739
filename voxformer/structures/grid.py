"""Grid geometry derived from a config: never type a sparse shape by hand; the range's bird's-eye view."""

from __future__ import annotations

from collections.abc import Sequence


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


def check_window_fits(sparse_shape: Sequence[int], window_shape: Sequence[int], key: str = "window_shape") -> None:
    """Raise ``ValueError`` naming ``key`` when a (wz, wy, wx) window is larger than the (Z, Y, X) grid
    or not positive."""
    if len(window_shape) != 3:
        raise ValueError(f"{key} must be (wz, wy, wx), got {list(window_shape)}")
    for axis, w, s in zip("zyx", window_shape, sparse_shape):
        if w <= 0 or w > s:
            raise ValueError(
                f"{key} {list(window_shape)} does not fit sparse_shape {list(sparse_shape)}: "
                f"{axis} window {w} must be between 1 and {s}"
            )


def in_bev_range(centres, point_cloud_range: Sequence[float]):
    """(N,) bool (NumPy array or tensor, as ``centres``): x0 <= x < x1 and y0 <= y < y1 for the first two
    columns of ``centres`` (N, 2+) and ``point_cloud_range`` (x0, y0, z0, x1, y1, z1)."""
    x0, y0, _, x1, y1, _ = point_cloud_range
    x, y = centres[:, 0], centres[:, 1]
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
