"""Segment reductions: rows of a (N, C) tensor reduced per segment into (S, C), with autograd.

Segments are given either by an ``index`` (N,) of segment ids (-1 = row ignored) or by CSR
``offsets`` (S + 1,) over rows sorted by segment (rows outside [offsets[0], offsets[-1]) are
ignored). Empty segments give 0. ``max`` sends the gradient of each (segment, channel) to its
argmax row; among equal maxima, the first row.
"""

from __future__ import annotations

import torch

from .backends import Backend, select

REDUCTIONS = ("sum", "mean", "max")


def offsets_to_index(offsets: torch.Tensor, num_rows: int) -> torch.Tensor:
    """(N,) int64 segment id of each row for CSR ``offsets`` (S + 1,); -1 outside the segments."""
    rows = torch.arange(num_rows, device=offsets.device)
    segment = torch.searchsorted(offsets.long(), rows, right=True) - 1
    return torch.where((segment >= 0) & (segment < len(offsets) - 1), segment, -1)


def _exportable(values: torch.Tensor, trash_index: torch.Tensor, num_segments: int, reduce: str) -> torch.Tensor:
    """Forward-only segment reduction in ops ONNX has: element scatters with a reduction (ONNX's ``index_add``
    overwrites repeated rows), maxima onto -inf with empty segments set to 0."""
    target = trash_index[:, None].expand(values.shape)
    shape = (num_segments + 1, values.shape[1])
    if reduce == "max":
        out = values.new_full(shape, float("-inf")).scatter_reduce(0, target, values, "amax")[:num_segments]
        return torch.where(out == float("-inf"), torch.zeros_like(out), out)
    total = values.new_zeros(shape).scatter_add(0, target, values)[:num_segments]
    if reduce == "sum":
        return total
    counts = values.new_zeros(shape).scatter_add(0, target, torch.ones_like(values))[:num_segments]
    return total / counts.clamp(min=1)


class _SegmentMax(torch.autograd.Function):
    """Per-segment maximum; the gradient goes to the first row attaining it."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, trash_index: torch.Tensor, num_segments: int) -> torch.Tensor:
        n, c = values.shape
        target = trash_index[:, None].expand(n, c)
        out = values.new_zeros(num_segments + 1, c).scatter_reduce(0, target, values, "amax", include_self=False)
        rows = torch.arange(n, device=values.device)[:, None].expand(n, c)
        candidates = torch.where(values == out.gather(0, target), rows, n)
        argmax = torch.full((num_segments + 1, c), n, device=values.device).scatter_reduce(
            0, target, candidates, "amin"
        )
        ctx.save_for_backward(argmax[:num_segments])
        ctx.num_rows = n
        return out[:num_segments]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        (argmax,) = ctx.saved_tensors
        grad = grad_out.new_zeros(ctx.num_rows + 1, grad_out.shape[1])  # row N collects empty segments
        grad.scatter_(0, argmax, grad_out)
        return grad[: ctx.num_rows], None, None


def _reference(values: torch.Tensor, index: torch.Tensor, num_segments: int, reduce: str) -> torch.Tensor:
    trash_index = torch.where(index >= 0, index, num_segments)  # ignored rows go to a discarded segment
    if torch.onnx.is_in_onnx_export():
        return _exportable(values, trash_index, num_segments, reduce)
    if reduce == "max":
        return _SegmentMax.apply(values, trash_index, num_segments)
    total = values.new_zeros(num_segments + 1, values.shape[1]).index_add(0, trash_index, values)[:num_segments]
    if reduce == "sum":
        return total
    counts = torch.zeros(num_segments + 1, dtype=torch.long, device=values.device)
    counts = counts.scatter_add_(0, trash_index, torch.ones_like(trash_index))[:num_segments]
    return total / counts.clamp(min=1).to(values.dtype)[:, None]


BACKENDS = (Backend.reference(_reference),)


def segment_reduce(
    values: torch.Tensor,
    index: torch.Tensor | None = None,
    *,
    offsets: torch.Tensor | None = None,
    num_segments: int | None = None,
    reduce: str = "sum",
    backend: str | None = None,
) -> torch.Tensor:
    """(S, C) ``reduce`` ("sum", "mean" or "max") of ``values`` (N, C) per segment.

    Give ``index`` (N,) (-1 = ignore; S = ``num_segments``, or max + 1 when None) or ``offsets`` (S + 1,).
    """
    if values.dim() != 2 or not values.is_floating_point():
        raise ValueError(f"values: expected a floating-point (N, C) tensor, got {values.dtype} {tuple(values.shape)}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce: expected one of {REDUCTIONS}, got {reduce!r}")
    if (index is None) == (offsets is None):
        raise ValueError("segment_reduce: give exactly one of index (N,) and offsets (S + 1,)")
    if offsets is not None:
        if offsets.dim() != 1 or len(offsets) < 1 or offsets.is_floating_point():
            raise ValueError(
                f"offsets: expected an integer (S + 1,) tensor, got {offsets.dtype} {tuple(offsets.shape)}"
            )
        if num_segments is not None and num_segments != len(offsets) - 1:
            raise ValueError(f"num_segments {num_segments} disagrees with offsets of length {len(offsets)}")
        num_segments = len(offsets) - 1
        index = offsets_to_index(offsets, len(values))
    else:
        if index.shape != values.shape[:1] or index.is_floating_point():  # no len(): it fixes sizes in export
            raise ValueError(
                f"index: expected an integer ({len(values)},) tensor, got {index.dtype} {tuple(index.shape)}"
            )
        if num_segments is None:
            num_segments = int(index.max()) + 1 if len(index) else 0
    fn = select("segment_reduce", BACKENDS, values.device, backend)
    return fn(values, index.long(), num_segments, reduce)
