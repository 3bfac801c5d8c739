"""Sparse voxels <-> dense bird's-eye-view (BEV) maps, batched (no loop over samples), with autograd.

Voxel coords are (M, 4) int (b, z, y, x); z is ignored and the (b, y, x) cells are assumed unique
(pillars, or voxels after height compression). Maps are (B, C, Y, X); empty cells are 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _check_coords(coords: torch.Tensor, num_voxels: int | None = None) -> None:
    if coords.dim() != 2 or coords.shape[1] != 4 or coords.is_floating_point():
        raise ValueError(f"coords: expected an integer (M, 4) (b, z, y, x) tensor, got {tuple(coords.shape)}")
    if num_voxels is not None and coords.shape[0] != num_voxels:
        raise ValueError(f"coords: expected {num_voxels} rows to match features, got {coords.shape[0]}")


def _cell_index(coords: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample index (M,) and flattened y * X + x cell (M,) of each voxel."""
    c = coords.long()
    return c[:, 0], c[:, 2] * width + c[:, 3]


def scatter_to_bev(
    features: torch.Tensor, coords: torch.Tensor, batch_size: int, grid_yx: Sequence[int]
) -> torch.Tensor:
    """(B, C, Y, X) map with each voxel's (C,) features at its (b, y, x) cell; zeros elsewhere."""
    if features.dim() != 2:
        raise ValueError(f"features: expected (M, C), got {tuple(features.shape)}")
    _check_coords(coords, features.shape[0])
    if len(grid_yx) != 2:
        raise ValueError(f"grid_yx: expected (Y, X), got {list(grid_yx)}")
    height, width = (int(s) for s in grid_yx)
    sample, cell = _cell_index(coords, width)
    # A (B, Y*X, C) view of a (B, C, Y*X) buffer: the index_put writes straight into the channel-first layout.
    bev = features.new_zeros(batch_size, features.shape[1], height * width).transpose(1, 2)
    bev = bev.index_put((sample, cell), features)
    return bev.transpose(1, 2).reshape(batch_size, features.shape[1], height, width)


def gather_from_bev(bev: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """(M, C) features of ``bev`` (B, C, Y, X) at each voxel's (b, y, x) cell."""
    if bev.dim() != 4:
        raise ValueError(f"bev: expected (B, C, Y, X), got {tuple(bev.shape)}")
    _check_coords(coords)
    batch_size, channels, height, width = bev.shape
    sample, cell = _cell_index(coords, width)
    return bev.reshape(batch_size, channels, height * width).transpose(1, 2)[sample, cell]
