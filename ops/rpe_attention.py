"""Softmax window attention with contextual relative position encoding (SphereFormer's attention).

Shapes: ``q``, ``k``, ``v`` (N, H, D) sorted by window, CSR ``offsets`` (S + 1,) as in
:func:`voxformer.ops.varlen_window_attention`; ``positions`` (N, A) int64 quantised in-window positions
(:func:`voxformer.ops.window_positions`); ``ranges`` (N,) float or None; tables ``table_q``, ``table_k``,
``table_v`` (A_total, L, H, D) with A_total = A + (ranges is not None), any L >= 1 (A_total = 0 is plain
softmax attention).

Bins of a pair (i, j), one per table axis a:

- position axes: ``clamp(positions[i, a] - positions[j, a] + (L - 1) // 2, 0, L - 1)``;
- the range axis (last, when ``ranges`` is given): the exponential split of ``ranges[i] - ranges[j]``
  (:func:`exponential_split`) plus ``L // 2``, clamped to [0, L - 1].

With q̃ = q · scale (default 1/√D), Tq_ij = Σ_a table_q[a, bin_a(i, j)] (likewise Tk, Tv)::

    logit_ij = q̃_i · k_j + q̃_i · Tq_ij + k_j · Tk_ij        (softmax over j in i's window)
    out_i    = Σ_j α_ij (v_j + Tv_ij)

Backends: ``triton`` (CUDA; tiles over keys, the pairs are never stored), ``torch`` (length-bucketed padded
windows, the CPU default) and ``reference`` (per-window loops, the definition). fp32 / fp64 / bf16 / fp16
inputs (half ones accumulate in fp32), autograd through q, k, v and the three tables on every backend;
autocast casts float32 inputs and tables to its dtype, as for the other attention ops.
"""

from __future__ import annotations

import torch

from .attention import _check_offsets, _check_qkv, _compute_dtype, _run, default_scale
from .backends import Backend, select

RANGE_UNIT = 0.0125  # SphereFormer's a = 0.05 * 0.25 m


def exponential_split(diff: torch.Tensor, unit: float = RANGE_UNIT) -> torch.Tensor:
    """Signed int64 bin of range differences ``diff``: with edges e = 0, a, 2a, 4a, 6a, 10a, 14a, 22a, ...
    (each width used twice, then doubled; a = ``unit``), diff in [e_n, e_n+1) gives n and diff in
    (-e_n+1, -e_n] with diff < 0 gives -n - 1: (-a, 0) -> -1, (-2a, -a] -> -2, (-4a, -2a] -> -3, ...

    Edges are e_2m = (2^(m+1) - 2) a and e_2m+1 = (3 · 2^m - 2) a; the comparisons use these edges
    (computed in ``diff``'s dtype), so values on an edge fall in the upper bin.
    """
    size = diff.abs()
    m = torch.floor(torch.log2(size / unit + 2.0)).clamp(min=1)  # (2^m - 2) a <= |diff|, up to rounding
    m = torch.where(size < (torch.exp2(m) - 2) * unit, m - 1, m)
    m = torch.where(size >= (torch.exp2(m + 1) - 2) * unit, m + 1, m)
    index = 2 * m - 2 + (size >= (3 * torch.exp2(m - 1) - 2) * unit).to(m.dtype)
    index = index.long()
    return torch.where(diff >= 0, index, -index - 1)


def pair_bins(pos_i, pos_j, range_i, range_j, length: int, unit: float) -> torch.Tensor:
    """(..., A_total) int64 table rows of pairs from broadcastable (..., A) positions and (...) ranges
    (``range_i`` None for no range axis)."""
    bins = (pos_i - pos_j + (length - 1) // 2).clamp(0, length - 1)
    if range_i is None:
        return bins
    split = (exponential_split(range_i - range_j, unit) + length // 2).clamp(0, length - 1)
    return torch.cat([bins, split[..., None]], -1)


def _pair_ranges(r):
    """(query ranges (..., n, 1), key ranges (..., 1, n)) of token ranges ``r`` (..., n); (None, None) for None."""
    if r is None:
        return None, None
    return r.unsqueeze(-1), r.unsqueeze(-2)


# ----------------------------------------------------------------------------------------------------------------
# reference (per-window loops; the definition)


def rpe_attention_reference(q, k, v, offsets, positions, ranges, table_q, table_k, table_v, scale, unit):
    """One window at a time: every pair's summed table rows (n, n, H, D) gathered, then the formula."""
    dtype = _compute_dtype(q)
    q, k, v = q.to(dtype) * scale, k.to(dtype), v.to(dtype)
    tq, tk, tv = (t.to(dtype) for t in (table_q, table_k, table_v))
    length = table_q.shape[1]
    axes = torch.arange(table_q.shape[0], device=q.device)
    parts = []
    for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        if hi == lo:
            continue
        pos = positions[lo:hi]
        r = None if ranges is None else ranges[lo:hi]
        bins = pair_bins(pos[:, None], pos[None, :], *_pair_ranges(r), length, unit)  # (n, n, A_total)
        rel_q, rel_k, rel_v = (t[axes, bins].sum(2) for t in (tq, tk, tv))  # (n, n, H, D)
        qi, kj = q[lo:hi], k[lo:hi]
        logits = (
            torch.einsum("ihd,jhd->hij", qi, kj)
            + torch.einsum("ihd,ijhd->hij", qi, rel_q)
            + torch.einsum("jhd,ijhd->hij", kj, rel_k)
        )
        alpha = logits.softmax(-1)
        parts.append(torch.einsum("hij,jhd->ihd", alpha, v[lo:hi]) + torch.einsum("hij,ijhd->ihd", alpha, rel_v))
    return torch.cat(parts) if parts else q * 0  # N = 0: still part of the graph


# ----------------------------------------------------------------------------------------------------------------
# dispatch


def _torch(*args):
    from .cpu.attention_rpe import rpe_attention_torch

    return rpe_attention_torch(*args)


def _triton(*args):
    from .triton.attention_rpe import rpe_attention_triton

    return rpe_attention_triton(*args)


RPE_BACKENDS = (
    Backend.triton(_triton, dtypes=(torch.float32, torch.bfloat16, torch.float16)),
    Backend.vectorized(_torch),
    Backend.reference(rpe_attention_reference),
)


def _check_rpe(op, q, positions, ranges, tables):
    n, heads, dim = q.shape
    if (
        positions.dim() != 2
        or positions.shape[0] != n
        or positions.is_floating_point()
        or positions.dtype == torch.bool
    ):
        raise ValueError(f"{op}: positions must be an integer (N, A) tensor with N = {n}, got {tuple(positions.shape)}")
    if ranges is not None and (ranges.shape != (n,) or not ranges.is_floating_point()):
        raise ValueError(f"{op}: ranges must be a float (N,) tensor with N = {n}, got {tuple(ranges.shape)}")
    axes = positions.shape[1] + (ranges is not None)
    for name, t in zip(("table_q", "table_k", "table_v"), tables):
        if t.dim() != 4 or t.shape[0] != axes or t.shape[1] < 1 or t.shape[2:] != (heads, dim):
            raise ValueError(
                f"{op}: {name} must be (A_total = {axes}, L >= 1, H = {heads}, D = {dim}), got {tuple(t.shape)}"
            )
        if t.shape != tables[0].shape or t.dtype != q.dtype or t.device != q.device:
            raise ValueError(f"{op}: the tables must share one shape and q's dtype and device ({q.dtype}, {q.device})")
    for name, x in (("positions", positions), ("ranges", ranges)):
        if x is not None and x.device != q.device:
            raise ValueError(f"{op}: {name} is on {x.device} but q is on {q.device}")


def _autocast(tensors):
    """The float32 tensors in the autocast dtype when autocast is on for their device."""
    device_type = tensors[0].device.type
    if not torch.is_autocast_enabled(device_type):
        return tensors
    dtype = torch.get_autocast_dtype(device_type)
    return tuple(x.to(dtype) if x.dtype == torch.float32 else x for x in tensors)


def rpe_window_attention(
    q, k, v, offsets, positions, table_q, table_k, table_v, ranges=None, range_unit=RANGE_UNIT, scale=None, backend=None
):
    """Softmax attention inside each CSR window with contextual relative position encoding on q, k and v.

    See the module docstring for the bins and the formula. Returns (N, H, D) in q's dtype.
    """
    op = "rpe_window_attention"
    q, k, v, table_q, table_k, table_v = _autocast((q, k, v, table_q, table_k, table_v))
    _check_qkv(op, q, k, v)
    offsets = _check_offsets(op, offsets, q.shape[0], q.device)
    _check_rpe(op, q, positions, ranges, (table_q, table_k, table_v))
    if range_unit <= 0:
        raise ValueError(f"{op}: range_unit must be > 0, got {range_unit}")
    scale = default_scale(q.shape[2]) if scale is None else float(scale)
    fn = select(op, RPE_BACKENDS, q.device, backend, dtype=q.dtype)
    out = _run(
        fn, q.device, q, k, v, offsets, positions.long(), ranges, table_q, table_k, table_v, scale, float(range_unit)
    )
    return out.to(q.dtype)
