"""SphereFormer block (Lai et al., CVPR 2023): window attention whose heads split between cubic and radial windows.

Pre-norm block on :class:`~voxformer.structures.SparseVoxels` with per-voxel sensor-frame ``xyz``::

    x = x + DropPath(Proj(concat(CubicHeads(LN(x)), RadialHeads(LN(x)))))
    x = x + DropPath(MLP(LN(x)))            # MLP: Linear C -> 4C, GELU, Linear 4C -> C

The first floor(h / 2) heads attend inside cubic windows of (wx, wy, wz) metres; the other heads inside radial
windows of (dtheta deg, dbeta deg, dr m) in spherical coordinates (:func:`voxformer.ops.spherical_coordinates`:
theta = atan2(y, x) + pi, beta = atan2(sqrt(x^2 + y^2), z), r = |xyz|), long along the range so that a window
reaches from dense near voxels to sparse far ones. Each branch has its own contextual
relative-position tables on queries, keys and values (:func:`voxformer.ops.rpe_window_attention`): the cubic
branch quantises x, y, z inside its window into ``quant_bins`` bins (tables of 2 * bins - 1 rows); the radial
branch quantises theta and beta the same way and splits the raw range difference exponentially with unit
``range_unit`` (tables of 2 * bins rows). Tables start trunc-normal with std 0.02. DropPath drops whole voxel
rows (the official code applies timm's DropPath to (N, C) rows).

Partitions and quantised positions depend only on the voxels and the window sizes: they are cached on the
SparseVoxels (``voxels.cubic_windows``, ``voxels.radial_windows``, and ``voxels.partition`` for the positions),
so blocks sharing voxels share them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from voxformer import ops
from voxformer.errors import ConfigError
from voxformer.ops import encode_voxel_keys
from voxformer.structures import SparseVoxels


def require_xyz(voxels: SparseVoxels) -> torch.Tensor:
    """``voxels.xyz``, or a ConfigError naming the fix when the voxel encoder gave none."""
    if voxels.xyz is None:
        raise ConfigError(
            "backbone3d: SphereFormer blocks need the voxels' xyz; use a voxel encoder that sets it "
            "(DynamicVFE, MeanVFE)"
        )
    return voxels.xyz


def pool_xyz(
    xyz: torch.Tensor,
    coords: torch.Tensor,
    out_coords: torch.Tensor,
    out_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
) -> torch.Tensor:
    """(M', 3) xyz of the output voxels of a strided sparse convolution: the mean xyz of the input voxels in each
    output voxel's kernel window (the conv's input-output pairs, as SphereFormer's ``get_downsample_info``).

    ``xyz`` (M, 3) and ``coords`` (M, 4) (batch, z, y, x) of the input voxels; ``out_coords`` (M', 4) on the
    (Z', Y', X') grid ``out_shape``; ``kernel``, ``stride``, ``padding`` (z, y, x). An input voxel at c feeds the
    output at o when c = o * stride - padding + k for some 0 <= k < kernel, per axis.
    """
    total = xyz.new_zeros(out_coords.shape[0], 3)
    count = xyz.new_zeros(out_coords.shape[0])
    if out_coords.shape[0] == 0:
        return total
    shape = torch.tensor([int(s) for s in out_shape], device=coords.device)
    stride_t = torch.tensor([int(s) for s in stride], device=coords.device)
    padding_t = torch.tensor([int(p) for p in padding], device=coords.device)
    out_keys, out_order = encode_voxel_keys(out_coords.long().unbind(1), out_shape).sort()
    batch, cells = coords[:, 0].long(), coords[:, 1:].long()
    for offset in itertools.product(*(range(int(k)) for k in kernel)):
        shifted = cells + padding_t - torch.tensor(offset, device=coords.device)
        parent = torch.div(shifted, stride_t, rounding_mode="floor")
        valid = ((shifted % stride_t == 0) & (parent >= 0) & (parent < shape)).all(dim=1)
        keys = encode_voxel_keys((batch, *parent.clamp(min=0).unbind(1)), out_shape)
        slot = torch.searchsorted(out_keys, keys).clamp(max=len(out_keys) - 1)
        found = valid & (out_keys[slot] == keys)
        rows = out_order[slot[found]]
        total.index_add_(0, rows, xyz[found])
        count.index_add_(0, rows, torch.ones_like(count[: rows.numel()]))
    return total / count.clamp(min=1)[:, None]


class DropPath(nn.Module):
    """Stochastic depth on (N, C) rows: in training each row is zeroed with probability ``p``, else scaled 1/(1-p)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"backbone3d drop_path must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], 1, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


def _triple(name: str, values: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(v) for v in values)
    if len(values) != 3 or min(values) <= 0:
        raise ConfigError(f"backbone3d {name}: expected 3 positive sizes, got {list(values)}")
    return values


def _table(axes: int, length: int, heads: int, head_dim: int) -> nn.Parameter:
    table = nn.Parameter(torch.empty(axes, length, heads, head_dim))
    nn.init.trunc_normal_(table, std=0.02)
    return table


class SphereFormerAttention(nn.Module):
    """(N, C) voxel features -> (N, C): QKV, cubic heads | radial heads, each with RPE tables, one projection.

    Args:
        channels: C; ``num_heads`` divides it.
        num_heads: h; heads 0 .. floor(h / 2) - 1 attend in cubic windows, the rest in radial windows.
        cubic_window: (wx, wy, wz) metres.
        radial_window: (dtheta deg, dbeta deg, dr m).
        quant_bins: bins per window side of the quantised in-window positions (SphereFormer: 24).
        range_unit: ``a`` of the exponential split of range differences, metres (SphereFormer: 0.0125).
        cubic_origin: (x, y, z) origin of the cubic cells; None: the minimum xyz over the batch (the official rule).
        backend: the attention op's backend; None: the device's default.
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        cubic_window: Sequence[float],
        radial_window: Sequence[float],
        quant_bins: int = 24,
        range_unit: float = 0.0125,
        cubic_origin: Sequence[float] | None = None,
        backend: str | None = None,
    ):
        super().__init__()
        if num_heads < 1 or channels % num_heads:
            raise ConfigError(f"backbone3d: {num_heads} heads do not divide {channels} channels")
        if quant_bins < 1:
            raise ConfigError(f"backbone3d quant_bins must be at least 1, got {quant_bins}")
        self.channels, self.num_heads, self.head_dim = channels, num_heads, channels // num_heads
        self.cubic_heads = num_heads // 2
        self.radial_heads = num_heads - self.cubic_heads
        self.cubic_window = _triple("cubic_window", cubic_window)
        self.radial_window = _triple("radial_window", radial_window)
        self.cubic_origin = None if cubic_origin is None else tuple(float(v) for v in cubic_origin)
        self.quant_bins, self.range_unit, self.backend = int(quant_bins), float(range_unit), backend
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        if self.cubic_heads:
            for name in ("q", "k", "v"):
                setattr(self, f"cubic_table_{name}", _table(3, 2 * quant_bins - 1, self.cubic_heads, self.head_dim))
        for name in ("q", "k", "v"):  # theta, beta, then the exponentially split range
            setattr(self, f"radial_table_{name}", _table(3, 2 * quant_bins, self.radial_heads, self.head_dim))

    def _cubic_windows(self, voxels: SparseVoxels):
        """(order, inverse, offsets, sorted positions (N, 3)) of the cubic windows; cached on ``voxels``."""
        part = voxels.cubic_windows(self.cubic_window, self.cubic_origin)

        def positions():
            xyz = voxels.xyz
            origin = xyz.amin(dim=0) if self.cubic_origin is None else xyz.new_tensor(self.cubic_origin)
            size = xyz.new_tensor(self.cubic_window)
            return ops.window_positions(xyz, size, origin, bins=self.quant_bins)[part.order]

        key = ("sphereformer_cubic_positions", self.cubic_window, self.cubic_origin, self.quant_bins)
        return part.order, part.inverse, part.offsets, voxels.partition(key, positions)

    def _radial_windows(self, voxels: SparseVoxels):
        """(order, inverse, offsets, sorted theta / beta positions (N, 2), sorted ranges (N,)) of the radial
        windows; cached on ``voxels``."""
        part = voxels.radial_windows(self.radial_window)

        def positions():
            sphere = ops.spherical_coordinates(voxels.xyz)[part.order]
            size = sphere.new_tensor(self.radial_window[:2])
            angles = ops.window_positions(sphere[:, :2], size, sphere.new_zeros(2), bins=self.quant_bins)
            return angles, sphere[:, 2].contiguous()

        key = ("sphereformer_radial_positions", self.radial_window, self.quant_bins)
        return (part.order, part.inverse, part.offsets, *voxels.partition(key, positions))

    def _attend(self, q, k, v, windows, tables, ranges=None):
        order, inverse, offsets, positions = windows
        out = ops.rpe_window_attention(
            q[order], k[order], v[order], offsets, positions, *tables, ranges=ranges, range_unit=self.range_unit,
            backend=self.backend,
        )
        return out[inverse]

    def forward(self, features: torch.Tensor, voxels: SparseVoxels) -> torch.Tensor:
        """``features`` (N, C) (already normalised) of ``voxels`` (whose ``xyz`` places them) -> (N, C)."""
        n = features.shape[0]
        q, k, v = self.qkv(features).view(n, 3, self.num_heads, self.head_dim).unbind(1)
        split = self.cubic_heads
        outputs = []
        if split:
            tables = (self.cubic_table_q, self.cubic_table_k, self.cubic_table_v)
            outputs.append(self._attend(q[:, :split], k[:, :split], v[:, :split], self._cubic_windows(voxels), tables))
        *windows, ranges = self._radial_windows(voxels)
        tables = (self.radial_table_q, self.radial_table_k, self.radial_table_v)
        outputs.append(self._attend(q[:, split:], k[:, split:], v[:, split:], windows, tables, ranges))
        return self.proj(torch.cat(outputs, dim=1).reshape(n, self.channels))


class SphereFormerBlock(nn.Module):
    """SparseVoxels (N, C) with ``xyz`` -> SparseVoxels (N, C), same voxels: the pre-norm block of the module
    docstring. Arguments as :class:`SphereFormerAttention`, plus ``drop_path`` (probability) and ``mlp_ratio``."""

    def __init__(
        self,
        channels: int,
        num_heads: int,
        cubic_window: Sequence[float],
        radial_window: Sequence[float],
        drop_path: float = 0.0,
        mlp_ratio: float = 4.0,
        **attention,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = SphereFormerAttention(channels, num_heads, cubic_window, radial_window, **attention)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        require_xyz(voxels)
        x = voxels.features
        x = x + self.drop_path(self.attn(self.norm1(x), voxels))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return voxels.replace_features(x)
