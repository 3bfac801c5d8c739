"""SparseVoxels: the data object that flows through every 3D backbone.

It carries features, integer coordinates and a cache of the structures computed from the coordinates
(window partitions, DSVT sets, FlatFormer groups, depth-wise convolution neighbour tables), so that the
layers of a stage compute each once and reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import torch

from voxformer import ops


class SparseVoxels:
    """M occupied voxels of a batch of B samples on a (Z, Y, X) grid.

    - ``features``: (M, C) float.
    - ``coords``: (M, 4) int32, columns (batch, z, y, x) (spconv's order); rows are unique.
    - ``sparse_shape``: (Z, Y, X), derived from the point-cloud range and voxel size.
    - ``batch_size``: B (samples may hold no voxel).
    - ``cache``: what :meth:`windows`, :meth:`dsvt_sets`, :meth:`flat_groups`, :meth:`radial_windows`,
      :meth:`cubic_windows`, :meth:`neighbours` and :meth:`pooling` computed, keyed by their name and
      arguments; shared by :meth:`replace_features`. The voxels of :meth:`pooled` keep their own cache
      inside it, under ``("pooled", stride)``.
    - ``xyz``: optional (M, 3) float sensor-frame position of each voxel (the mean of its points, as the
      voxel encoders give it; SphereFormer's windows use it), or None; kept by :meth:`replace_features`.
    """

    def __init__(
        self,
        features: torch.Tensor,
        coords: torch.Tensor,
        sparse_shape: Sequence[int],
        batch_size: int,
        cache: dict | None = None,
        xyz: torch.Tensor | None = None,
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
        if xyz is not None and tuple(xyz.shape) != (coords.shape[0], 3):
            raise ValueError(f"xyz: expected (M, 3) with M = {coords.shape[0]}, got {tuple(xyz.shape)}")
        self.xyz = xyz

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
        xyz = None if self.xyz is None else self.xyz.to(*args, **kwargs)
        return SparseVoxels(
            self.features.to(*args, **kwargs), self.coords.to(*args, **kwargs), self.sparse_shape, self.batch_size,
            xyz=xyz,
        )

    def replace_features(self, features: torch.Tensor) -> SparseVoxels:
        """Same voxels, new (M, C') features; coordinates, ``xyz`` and partition cache are shared."""
        return SparseVoxels(features, self.coords, self.sparse_shape, self.batch_size, cache=self.cache, xyz=self.xyz)

    def partition(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """What is stored under ``key``, building it with ``build()`` on first use (the typed methods
        below key their results by name and arguments)."""
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def windows(self, window_shape: Sequence[int], shift: Sequence[int] = (0, 0, 0)) -> ops.WindowPartition:
        """:func:`voxformer.ops.window_partition` of these voxels by (wz, wy, wx) windows moved by ``shift``."""
        window_shape, shift = _ints(window_shape), _ints(shift)
        return self.partition(
            ("window", window_shape, shift),
            lambda: ops.window_partition(self.coords, self.sparse_shape, window_shape, shift, self.batch_size),
        )

    def dsvt_sets(
        self, window_shape: Sequence[int], shift: Sequence[int], set_size: int, axis: str = "x"
    ) -> ops.SetPartition:
        """:func:`voxformer.ops.dsvt_sets` of ``set_size`` voxels in the windows of :meth:`windows` (the
        set count of a cached other axis is reused: no host sync for the second axis)."""
        window_shape, shift = _ints(window_shape), _ints(shift)
        head = ("dsvt_sets", window_shape, shift, int(set_size))
        return self.partition(
            (*head, axis),
            lambda: ops.dsvt_sets(
                self.windows(window_shape, shift), self.coords, set_size, axis, num_sets=self._cached_rows(head)
            ),
        )

    def flat_groups(
        self,
        window_shape: Sequence[int],
        group_size: int,
        axis: str = "x",
        shifted: bool = False,
        in_window: str = "snake",
        padding: str = "repeat",
    ) -> ops.FlatGroups:
        """:func:`voxformer.ops.flat_groups` of these voxels: FlatFormer groups of ``group_size`` (the
        group count of a cached other order or padding is reused: one host sync per window shape and
        group size)."""
        window_shape = _ints(window_shape)
        head = ("flat_groups", window_shape, int(group_size))
        return self.partition(
            (*head, axis, bool(shifted), in_window, padding),
            lambda: ops.flat_groups(
                self.coords,
                self.sparse_shape,
                window_shape,
                group_size,
                axis,
                shifted,
                self.batch_size,
                num_groups=self._cached_rows(head),
                in_window=in_window,
                padding=padding,
            ),
        )

    def radial_windows(self, window_size: Sequence[float]) -> ops.WindowPartition:
        """:func:`voxformer.ops.radial_window_partition` of these voxels at their sensor-frame ``xyz`` by
        (dθ°, dβ°, dr m) windows."""
        size = _floats(window_size)
        return self.partition(
            ("radial_windows", size),
            lambda: ops.radial_window_partition(self._positions(), self.coords[:, 0], size, self.batch_size),
        )

    def cubic_windows(self, window_size: Sequence[float], origin: Sequence[float] | None = None) -> ops.WindowPartition:
        """:func:`voxformer.ops.cubic_window_partition` of these voxels at their ``xyz`` by (wx, wy, wz) metre
        windows from ``origin`` (default: the minimum of ``xyz``)."""
        size = _floats(window_size)
        start = None if origin is None else _floats(origin)
        return self.partition(
            ("cubic_windows", size, start),
            lambda: ops.cubic_window_partition(
                self._positions(), self.coords[:, 0], size, self.batch_size, origin=start
            ),
        )

    def _positions(self) -> torch.Tensor:
        if self.xyz is None:
            raise ValueError("xyz: these voxels carry no positions (SparseVoxels(xyz=...)), needed by float windows")
        return self.xyz

    def _cached_rows(self, head: tuple) -> int | None:
        """Rows (sets or groups) of a cached partition whose key starts with ``head``: the count does not
        depend on the order (axis, shift) the rest of the key names; None when none is cached."""
        for key, value in self.cache.items():
            if key[: len(head)] == head:
                return value.index.shape[0]
        return None

    def neighbours(self, kernel_size: Sequence[int]) -> torch.Tensor:
        """(M, kz * ky * kx) table of :func:`voxformer.ops.sparse_conv_neighbors` for a (kz, ky, kx) kernel."""
        kernel_size = _ints(kernel_size)
        return self.partition(
            ("neighbours", kernel_size),
            lambda: ops.sparse_conv_neighbors(self.coords, self.sparse_shape, kernel_size),
        )

    def pooling(self, stride: Sequence[int]) -> VoxelPooling:
        """These voxels grouped by the cells of a grid coarser by ``stride`` (sz, sy, sx): the windows of
        :meth:`windows` (``stride``), one pooled voxel per non-empty window, in ascending (b, z, y, x) order."""
        stride = _ints(stride)

        def build() -> VoxelPooling:
            windows = self.windows(stride)
            first = windows.order[windows.offsets[:-1]]  # a voxel of each window, in window-id order
            coords = ops.decode_voxel_keys(windows.window_id[first], pooled_shape(self.sparse_shape, stride))
            return VoxelPooling(windows.segment, coords)

        return self.partition(("pooling", stride), build)

    def pooled(self, stride: Sequence[int], features: torch.Tensor) -> SparseVoxels:
        """The voxels of :meth:`pooling` (``stride``) with ``features`` (P, C) on the coarser grid; their
        partition cache is kept in this one's under ``("pooled", stride)``, so a cache supplied for these
        voxels supplies theirs too."""
        stride = _ints(stride)
        coords = self.pooling(stride).coords
        cache = self.partition(("pooled", stride), dict)
        return SparseVoxels(features, coords, pooled_shape(self.sparse_shape, stride), self.batch_size, cache)

    def flat_index(self) -> torch.Tensor:
        """(M,) int64 index of each voxel in a flattened (B, Z, Y, X) grid (its voxel key)."""
        return ops.encode_voxel_keys(self.coords.unbind(1), self.sparse_shape)

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


class VoxelPooling(NamedTuple):
    """Voxels grouped by coarser cells (:meth:`SparseVoxels.pooling`): ``inverse`` (M,) int64 the row in
    ``coords`` of each voxel's cell; ``coords`` (P, 4) int32 the occupied cells (b, z // sz, y // sy, x // sx)."""

    inverse: torch.Tensor
    coords: torch.Tensor


def pooled_shape(sparse_shape: Sequence[int], stride: Sequence[int]) -> tuple[int, int, int]:
    """(Z, Y, X) after pooling by ``stride`` (sz, sy, sx): ceil division per axis."""
    return tuple(-(-int(s) // int(k)) for s, k in zip(sparse_shape, stride))


def _ints(values: Sequence[int]) -> tuple[int, ...]:
    """A hashable cache-key part for a shape, shift or kernel size."""
    return tuple(int(v) for v in values)


def _floats(values: Sequence[float]) -> tuple[float, ...]:
    """A hashable cache-key part for a window size or origin in metres / degrees."""
    return tuple(float(v) for v in values)
