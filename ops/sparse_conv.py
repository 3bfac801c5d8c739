"""Submanifold depth-wise sparse convolution (ScatterFormer's cross-window interaction).

Outputs sit at the input voxels; channel c of output voxel i is
``bias[c] + sum_k weight[k, c] * features[j, c]`` over kernel offsets k whose neighbour j (the voxel
at coords[i] + offset_k) exists. Offsets are (dz, dy, dx) in raster order (dx fastest) from -(k // 2)
to k // 2 per axis: the layout of ``conv3d`` weight (C, 1, kz, ky, kx) with padding k // 2 and
groups = C, reshaped to (kz * ky * kx, C). Neighbours are found by sorting the flat voxel keys once
and a ``searchsorted`` per offset; the table can be computed once per stage and reused
(:meth:`voxformer.structures.SparseVoxels.neighbours` caches it). Backends:
``triton`` (CUDA) and ``reference`` (a loop of gathers over the offsets).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .backends import Backend, select
from .grid import encode_voxel_keys


def _check_kernel(kernel_size: Sequence[int]) -> tuple[int, int, int]:
    if len(kernel_size) != 3 or any(k < 1 or k % 2 == 0 for k in kernel_size):
        raise ValueError(f"kernel_size: expected three odd positive sizes (kz, ky, kx), got {list(kernel_size)}")
    return tuple(int(k) for k in kernel_size)


def sparse_conv_neighbors(
    coords: torch.Tensor, sparse_shape: Sequence[int], kernel_size: Sequence[int]
) -> torch.Tensor:
    """(M, kz * ky * kx) int64 row of the voxel at each kernel offset of each voxel, -1 where empty.

    ``coords`` (M, 4) int (b, z, y, x) must be unique and inside ``sparse_shape`` (Z, Y, X).
    """
    if coords.dim() != 2 or coords.shape[1] != 4 or coords.is_floating_point():
        raise ValueError(f"coords: expected an integer (M, 4) (b, z, y, x) tensor, got {tuple(coords.shape)}")
    if len(sparse_shape) != 3:
        raise ValueError(f"sparse_shape: expected (Z, Y, X), got {list(sparse_shape)}")
    kz, ky, kx = _check_kernel(kernel_size)
    sparse_shape = tuple(int(s) for s in sparse_shape)
    c = coords.long()
    sorted_keys, order = torch.sort(encode_voxel_keys(c.unbind(1), sparse_shape))
    device = coords.device
    axes = (torch.arange(k, device=device) - k // 2 for k in (kz, ky, kx))
    dz, dy, dx = torch.meshgrid(*axes, indexing="ij")  # each (kz, ky, kx)
    offsets = torch.stack([dz.flatten(), dy.flatten(), dx.flatten()], dim=1)  # (K, 3)
    shifted = c[:, None, 1:] + offsets  # (M, K, 3) neighbour (z, y, x)
    inside = ((shifted >= 0) & (shifted < shifted.new_tensor(sparse_shape))).all(dim=2)
    target = encode_voxel_keys((c[:, :1], *shifted.unbind(2)), sparse_shape)  # (M, K) neighbour keys
    if len(sorted_keys) == 0:
        return torch.full_like(target, -1)
    position = torch.searchsorted(sorted_keys, target).clamp(max=len(sorted_keys) - 1)
    found = inside & (sorted_keys[position] == target)
    return torch.where(found, order[position], -1)


def _gather_conv_torch(features: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """(M, C) sum over offsets k of ``weight[k] * features[neighbors[:, k]]`` (-1 neighbours give 0)."""
    padded = torch.cat([features, features.new_zeros(1, features.shape[1])])  # row M: the empty neighbour
    rows = torch.where(neighbors >= 0, neighbors, features.shape[0])  # not len(): an export keeps M dynamic
    out = features.new_zeros(features.shape)
    for k in range(weight.shape[0]):
        out += padded[rows[:, k]] * weight[k]
    return out


def _gather_conv_triton(features: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    from .triton.depthwise_conv import gather_conv

    return gather_conv(features, weight.to(features.dtype), neighbors)


BACKENDS = (
    Backend.triton(_gather_conv_triton),
    Backend.reference(_gather_conv_torch),
)


class _DepthwiseConv(torch.autograd.Function):
    """Depth-wise gather convolution. The table is symmetric (j = neighbors[i, k] exactly when
    i = neighbors[j, K - 1 - k]), so the feature gradient is the same gather with the kernel flipped:
    no scatter, no atomics."""

    @staticmethod
    def forward(ctx, features, weight, neighbors, gather_conv):
        ctx.save_for_backward(features, weight, neighbors)
        ctx.gather_conv = gather_conv
        return gather_conv(features, weight, neighbors)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        features, weight, neighbors = ctx.saved_tensors
        grad_features = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_features = ctx.gather_conv(grad_out.contiguous(), weight.flip(0), neighbors)
        if ctx.needs_input_grad[1]:
            padded = torch.cat([features, features.new_zeros(1, features.shape[1])])
            rows = torch.where(neighbors >= 0, neighbors, len(features))
            grad_weight = torch.stack([(grad_out * padded[rows[:, k]]).sum(dim=0) for k in range(weight.shape[0])])
        return grad_features, grad_weight, None, None


def sparse_depthwise_conv(
    features: torch.Tensor,
    coords: torch.Tensor,
    sparse_shape: Sequence[int],
    weight: torch.Tensor,
    kernel_size: Sequence[int],
    bias: torch.Tensor | None = None,
    neighbors: torch.Tensor | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """(M, C) submanifold depth-wise convolution of ``features`` (M, C) at ``coords`` (M, 4).

    ``weight`` is (kz * ky * kx, C), ``bias`` (C,). ``neighbors`` is the table of
    :func:`sparse_conv_neighbors` for these coords and kernel, when already computed.
    """
    if features.dim() != 2 or not features.is_floating_point():
        raise ValueError(f"features: expected a floating-point (M, C) tensor, got {tuple(features.shape)}")
    volume = 1
    for k in _check_kernel(kernel_size):
        volume *= k
    if weight.shape != (volume, features.shape[1]):
        raise ValueError(
            f"weight: expected ({volume}, {features.shape[1]}) for kernel {list(kernel_size)}, "
            f"got {tuple(weight.shape)}"
        )
    if bias is not None and bias.shape != (features.shape[1],):
        raise ValueError(f"bias: expected ({features.shape[1]},), got {tuple(bias.shape)}")
    if coords.shape[0] != features.shape[0]:
        raise ValueError(f"coords: expected {features.shape[0]} rows to match features, got {coords.shape[0]}")
    if neighbors is None:
        neighbors = sparse_conv_neighbors(coords, sparse_shape, kernel_size)
    elif neighbors.shape != (features.shape[0], volume):
        raise ValueError(f"neighbors: expected ({features.shape[0]}, {volume}), got {tuple(neighbors.shape)}")
    gather_conv = select("sparse_depthwise_conv", BACKENDS, features.device, backend)
    out = _DepthwiseConv.apply(features, weight, neighbors, gather_conv)
    return out if bias is None else out + bias
