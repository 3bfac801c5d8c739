"""SparseVoxels: the data object that flows through every 3D backbone.

It carries features, integer coordinates and a cache of partitions (window ids, sort orders,
DSVT sets, FlatFormer groups) so that the blocks of a stage compute a partition once and reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import torch


class SparseVoxels:
    """M occupied voxels of a batch of B samples on a (Z, Y, X) grid.

    - ``features``: (M, C) float.
    - ``coords``: (M, 4) int32, columns (batch, z, y, x) (spconv's order); rows are unique.
    - ``sparse_shape``: (Z, Y, X), derived from the point-cloud range and voxel size.
    - ``batch_size``: B (samples may hold no voxel).
    - ``cache``: partitions keyed by their parameters; shared by :meth:`replace_features`.
    """

    def __init__(
        self,
        features: torch.Tensor,
        coords: torch.Tensor,
        sparse_shape: Sequence[int],
        batch_size: int,
        cache: dict | None = None,
    ):
        if coords.dim() != 2 or coords.shape[1] != 4:
            raise ValueError(f"coords: expected (M, 4) (batch, z, y, x), got {tuple(coords.shape)}")
        if features.dim() != 2 or features.shape[0] != coords.shape[0]:
            raise ValueError(
                f"features: expected (M, C) with M = {coords.shape[0]}, got {tuple(features.shape)}"
            )
        if len(sparse_shape) != 3:
            raise ValueError(f"sparse_shape: expected (Z, Y, X), got {tuple(sparse_shape)}")
        self.features = features
        self.coords = coords.int()
        self.sparse_shape = tuple(int(s) for s in sparse_shape)
        self.batch_size = int(batch_size)
        self.cache = {} if cache is None else cache

    @classmethod
    def from_lists(
        cls, features: Sequence[torch.Tensor], coords_zyx: Sequence[torch.Tensor], sparse_shape: Sequence[int]
    ) -> SparseVoxels:
        """Build a batch from per-sample features (M_i, C) and coords (M_i, 3) = (z, y, x)."""
        if len(features) != len(coords_zyx):
            raise ValueError(f"got {len(features)} feature tensors but {len(coords_zyx)} coordinate tensors")
        if not features:
            raise ValueError("from_lists: need at least one sample")
        batched = []
        for b, c in enumerate(coords_zyx):
            column = torch.full((c.shape[0], 1), b, dtype=torch.int32, device=c.device)
            batched.append(torch.cat([column, c.int()], dim=1))
        return cls(torch.cat(list(features), dim=0), torch.cat(batched, dim=0), sparse_shape, len(features))

    def __len__(self) -> int:
        return self.coords.shape[0]

    def __repr__(self) -> str:
        return (
            f"SparseVoxels(m={len(self)}, channels={self.num_channels}, sparse_shape={self.sparse_shape}, "
            f"batch_size={self.batch_size}, cached={len(self.cache)})"
        )

    @property
    def num_channels(self) -> int:
        return self.features.shape[1]

    @property
    def device(self) -> torch.device:
        return self.features.device

    def to(self, *args, **kwargs) -> SparseVoxels:
        """Move features and coords; the cache is dropped (it holds device tensors)."""
        return SparseVoxels(
            self.features.to(*args, **kwargs), self.coords.to(*args, **kwargs), self.sparse_shape, self.batch_size
        )

    def replace_features(self, features: torch.Tensor) -> SparseVoxels:
        """Same voxels, new (M, C') features; coordinates and partition cache are shared."""
        return SparseVoxels(features, self.coords, self.sparse_shape, self.batch_size, cache=self.cache)

    def partition(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The partition stored under ``key`` (its parameters), building it on first use."""
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def flat_index(self) -> torch.Tensor:
        """(M,) int64 index of each voxel in a flattened (B, Z, Y, X) grid."""
        z_size, y_size, x_size = self.sparse_shape
        c = self.coords.long()
        return ((c[:, 0] * z_size + c[:, 1]) * y_size + c[:, 2]) * x_size + c[:, 3]

    def dense(self, bev: bool = False) -> torch.Tensor:
        """Scatter to a dense (B, C, Z, Y, X) tensor, or with ``bev=True`` to (B, C * Z, Y, X)
        with channel index c * Z + z (height folded into channels). Empty cells are zero."""
        z_size, y_size, x_size = self.sparse_shape
        grid = self.features.new_zeros(self.batch_size * z_size * y_size * x_size, self.num_channels)
        grid = grid.index_copy(0, self.flat_index(), self.features)
        grid = grid.view(self.batch_size, z_size, y_size, x_size, self.num_channels).permute(0, 4, 1, 2, 3)
        if bev:
            return grid.reshape(self.batch_size, self.num_channels * z_size, y_size, x_size)
        return grid.contiguous()

    @classmethod
    def from_dense(cls, dense: torch.Tensor) -> SparseVoxels:
        """Inverse of :meth:`dense` for a (B, C, Z, Y, X) tensor: keep cells with any non-zero channel."""
        if dense.dim() != 5:
            raise ValueError(f"dense: expected (B, C, Z, Y, X), got {tuple(dense.shape)}")
        occupied = dense.abs().sum(dim=1) > 0
        coords = occupied.nonzero().int()
        features = dense.permute(0, 2, 3, 4, 1)[occupied]
        return cls(features, coords, dense.shape[2:], dense.shape[0])
