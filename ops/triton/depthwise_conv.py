"""Triton kernel for the gather step of :func:`voxformer.ops.sparse_depthwise_conv`.

out[i, c] = sum_k weight[k, c] * features[neighbors[i, k], c], skipping neighbours of -1. One program
computes a (BLOCK_M voxels x BLOCK_C channels) tile of the output, looping over the K kernel offsets:
each step loads one neighbour index per row, one weight per channel and a gathered feature tile
(rows of ``features`` are contiguous in C, so each row's channel slice is one coalesced read).
Accumulation is fp32 (fp64 for fp64 inputs); no atomics, so results are deterministic.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_M = 64  # voxels per program
MAX_BLOCK_C = 64  # channels per program


@triton.jit
def _gather_conv_kernel(
    features_ptr,
    weight_ptr,
    neighbors_ptr,
    out_ptr,
    num_rows,
    channels,
    volume,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    ACC_DTYPE: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    row_ok = rows < num_rows
    col_ok = cols < channels
    acc = tl.zeros((BLOCK_M, BLOCK_C), dtype=ACC_DTYPE)
    for k in range(volume):
        neighbor = tl.load(neighbors_ptr + rows.to(tl.int64) * volume + k, mask=row_ok, other=-1)
        w = tl.load(weight_ptr + k * channels + cols, mask=col_ok, other=0.0).to(ACC_DTYPE)
        present = (neighbor >= 0)[:, None] & col_ok[None, :]
        f = tl.load(features_ptr + neighbor[:, None] * channels + cols[None, :], mask=present, other=0.0)
        acc += f.to(ACC_DTYPE) * w[None, :]
    out_offsets = rows.to(tl.int64)[:, None] * channels + cols[None, :]
    tl.store(out_ptr + out_offsets, acc.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])


def launch_config(channels: int, dtype: torch.dtype) -> tuple[int, tl.dtype]:
    """(BLOCK_C, ACC_DTYPE) for ``channels`` channels of ``dtype`` (the kernel runs with Triton's default warps)."""
    return min(triton.next_power_of_2(channels), MAX_BLOCK_C), tl.float64 if dtype == torch.float64 else tl.float32


def gather_conv(features: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """(M, C) sum over offsets k of ``weight[k] * features[neighbors[:, k]]`` (-1 neighbours give 0)."""
    features, weight, neighbors = features.contiguous(), weight.contiguous(), neighbors.contiguous()
    num_rows, channels = features.shape
    out = torch.empty_like(features)
    if num_rows == 0 or channels == 0:
        return out
    block_c, acc_dtype = launch_config(channels, features.dtype)
    grid = (triton.cdiv(num_rows, BLOCK_M), triton.cdiv(channels, block_c))
    _gather_conv_kernel[grid](
        features, weight, neighbors, out, num_rows, channels, weight.shape[0], BLOCK_M, block_c, acc_dtype
    )
    return out
