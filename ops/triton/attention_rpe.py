"""Triton kernels of :func:`voxformer.ops.rpe_window_attention` (forward and backward).

The table terms are split so that the kernels read per-token rows only:

- Pq = q̃ · Tq and Pk = k · Tk, (N, H, T) fp32 with T = A_total · L (one einsum each, outside the kernels;
  autograd carries their gradients to q, k and the tables), so a pair's query and key terms are gathers
  Pq[i, a · L + bin_a(i, j)] and Pk[j, a · L + bin_a(i, j)];
- the value term Σ_j α_ij Tv_ij = Σ_t M_it Tv[t], with M (N, H, T) fp32 the attention mass of each query per
  table row, which the forward kernel accumulates (einsum with Tv outside).

Bins are computed in the kernels from ``positions`` (N, A) int32 and ``ranges`` (N,) read as fp32 (the
exponential split with the same edge corrections as :func:`voxformer.ops.rpe_attention.exponential_split`,
so fp32 ranges give the reference's bins exactly). The pairs
are never stored: memory is O(N · H · (D + T)).

Programs and tiles follow ``attention_softmax``: one program = BLOCK_M consecutive tokens x one head, its
keys are the tokens of every window those queries touch, BLOCK_N at a time, scores across windows masked.
Forward: pass 1 computes the log-sum-exp, pass 2 the output and the masses (exact probabilities, so the
masses need no rescaling). Backward without atomics: dQ and dPq per query block, dK, dV and dPk per key
block (walking the query tokens of its windows). The per-row masses are accumulated bin by bin (a masked
row sum per table row and tile) into the rows the program owns. fp32 accumulation throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from ..attention import segment_ids
from .attention_softmax import TILES, _load_tile, _segment_span, tile_config

MAX_BLOCK = 32  # the bias and bin tiles add to the softmax kernels' registers: tiles of at most 32 x 32


@triton.jit
def _bin(POS, RNG, q_rows, k_rows, q_keep, k_keep, axis: tl.constexpr, AXES: tl.constexpr, length, unit):
    """Table row (in [0, length)) of pairs (q_rows, k_rows) (broadcastable index tiles) on ``axis``."""
    if axis < AXES:
        p_q = tl.load(POS + q_rows * AXES + axis, mask=q_keep, other=0)
        p_k = tl.load(POS + k_rows * AXES + axis, mask=k_keep, other=0)
        b = p_q - p_k + (length - 1) // 2
    else:  # the range axis: exponential split of r_i - r_j
        diff = tl.load(RNG + q_rows, mask=q_keep, other=0.0) - tl.load(RNG + k_rows, mask=k_keep, other=0.0)
        size = tl.abs(diff)
        m = tl.maximum(tl.floor(tl.log2(size / unit + 2.0)), 1.0)
        m = tl.where(size < (tl.exp2(m) - 2.0) * unit, m - 1.0, m)
        m = tl.where(size >= (tl.exp2(m + 1.0) - 2.0) * unit, m + 1.0, m)
        index = 2.0 * m - 2.0 + tl.where(size >= (3.0 * tl.exp2(m - 1.0) - 2.0) * unit, 1.0, 0.0)
        index = tl.where(diff >= 0, index, -index - 1.0)
        b = index.to(tl.int32) + length // 2
    return tl.minimum(tl.maximum(b, 0), length - 1)


@triton.jit
def _gather_bins(XQ, XK, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length, unit,
                 AXES: tl.constexpr, TOTAL_AXES: tl.constexpr, WITH_KEYS: tl.constexpr):  # fmt: skip
    """Σ_a XQ[q, head, a·L + bin_a] (+ XK[k, head, a·L + bin_a] when ``WITH_KEYS``) for (N, H, T) XQ, XK."""
    width = TOTAL_AXES * length
    keep = q_keep & k_keep
    q_base = XQ + q_rows.to(tl.int64) * table_stride + head * width
    k_base = XK + k_rows.to(tl.int64) * table_stride + head * width
    total = tl.zeros(keep.shape, tl.float32)
    for axis in tl.static_range(TOTAL_AXES):
        flat = axis * length + _bin(POS, RNG, q_rows, k_rows, q_keep, k_keep, axis, AXES, length, unit)
        total += tl.load(q_base + flat, mask=keep, other=0.0)
        if WITH_KEYS:
            total += tl.load(k_base + flat, mask=keep, other=0.0)
    return total


@triton.jit
def _add_masses(MASS, values, own_rows, own_keep, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride,
                length, unit, AXES: tl.constexpr, TOTAL_AXES: tl.constexpr):  # fmt: skip
    """MASS[own, head, a·L + t] += Σ over axis 1 of ``values`` where bin_a == t (rows ``own_rows`` are this
    program's only, so plain loads and stores suffice)."""
    width = TOTAL_AXES * length
    base = MASS + own_rows.to(tl.int64) * table_stride + head * width
    for axis in tl.static_range(TOTAL_AXES):
        bins = _bin(POS, RNG, q_rows, k_rows, q_keep, k_keep, axis, AXES, length, unit)
        for t in range(length):
            part = tl.sum(tl.where(bins == t, values, 0.0), 1)
            ptrs = base + axis * length + t
            tl.store(ptrs, tl.load(ptrs, mask=own_keep, other=0.0) + part, mask=own_keep)


@triton.jit
def _rpe_fwd_kernel(
    Q, K, V, PQ, PK, POS, RNG, OUT, LSE, MASS, SEG, SEG_START,
    num_tokens, num_heads, head_dim, length, scale, unit,
    AXES: tl.constexpr, TOTAL_AXES: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    head = tl.program_id(0) % num_heads
    block_start = tl.program_id(0) // num_heads * BLOCK_M
    row_stride = num_heads * head_dim
    table_stride = num_heads * TOTAL_AXES * length
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_m = block_start + tl.arange(0, BLOCK_M)
    in_m = offs_m < num_tokens
    seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
    q = _load_tile(Q, offs_m, in_m, head, row_stride, head_dim, offs_d, in_d)
    key_lo, key_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_M, num_tokens)
    q_rows, q_keep = offs_m[:, None], in_m[:, None]

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    for start in range(key_lo, key_hi, BLOCK_N):  # pass 1: log-sum-exp
        offs_n = start + tl.arange(0, BLOCK_N)
        in_n = offs_n < key_hi
        seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
        k = _load_tile(K, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
        s += _gather_bins(PQ, PK, POS, RNG, q_rows, offs_n[None, :], q_keep, in_n[None, :], head, table_stride,
                          length, unit, AXES, TOTAL_AXES, True)  # fmt: skip
        s = tl.where(seg_m[:, None] == seg_n[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        l_i = l_i * tl.exp(m_i - m_ref) + tl.sum(tl.exp(s - m_ref[:, None]), 1)
        m_i = m_new
    empty = l_i == 0.0  # rows past the end only
    lse = tl.where(empty, float("inf"), m_i + tl.log(tl.where(empty, 1.0, l_i)))
    tl.store(LSE + offs_m * num_heads + head, lse, mask=in_m)

    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start in range(key_lo, key_hi, BLOCK_N):  # pass 2: probabilities, output and masses
        offs_n = start + tl.arange(0, BLOCK_N)
        in_n = offs_n < key_hi
        seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
        k = _load_tile(K, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        v = _load_tile(V, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
        s += _gather_bins(PQ, PK, POS, RNG, q_rows, offs_n[None, :], q_keep, in_n[None, :], head, table_stride,
                          length, unit, AXES, TOTAL_AXES, True)  # fmt: skip
        p = tl.where(seg_m[:, None] == seg_n[None, :], tl.exp(s - lse[:, None]), 0.0)
        acc += tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        _add_masses(MASS, p, offs_m, in_m, POS, RNG, q_rows, offs_n[None, :], q_keep, in_n[None, :], head,
                    table_stride, length, unit, AXES, TOTAL_AXES)  # fmt: skip
    out_ptrs = OUT + offs_m[:, None].to(tl.int64) * row_stride + head * head_dim + offs_d[None, :]
    tl.store(out_ptrs, acc, mask=in_m[:, None] & in_d[None, :])


@triton.jit
def _rpe_bwd_dq_kernel(
    Q, K, V, PQ, PK, POS, RNG, DO, DMASS, LSE, DELTA, DQ, DPQ, SEG, SEG_START,
    num_tokens, num_heads, head_dim, length, scale, unit,
    AXES: tl.constexpr, TOTAL_AXES: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """dQ (without the Pq path) and dPq of BLOCK_M queries x one head."""
    head = tl.program_id(0) % num_heads
    block_start = tl.program_id(0) // num_heads * BLOCK_M
    row_stride = num_heads * head_dim
    table_stride = num_heads * TOTAL_AXES * length
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_m = block_start + tl.arange(0, BLOCK_M)
    in_m = offs_m < num_tokens
    seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
    q = _load_tile(Q, offs_m, in_m, head, row_stride, head_dim, offs_d, in_d)
    do = _load_tile(DO, offs_m, in_m, head, row_stride, head_dim, offs_d, in_d)
    lse = tl.load(LSE + offs_m * num_heads + head, mask=in_m, other=float("inf"))
    delta = tl.load(DELTA + offs_m * num_heads + head, mask=in_m, other=0.0)
    key_lo, key_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_M, num_tokens)
    q_rows, q_keep = offs_m[:, None], in_m[:, None]

    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start in range(key_lo, key_hi, BLOCK_N):
        offs_n = start + tl.arange(0, BLOCK_N)
        in_n = offs_n < key_hi
        seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
        k = _load_tile(K, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        v = _load_tile(V, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        k_rows, k_keep = offs_n[None, :], in_n[None, :]
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
        s += _gather_bins(PQ, PK, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length, unit,
                          AXES, TOTAL_AXES, True)  # fmt: skip
        p = tl.where(seg_m[:, None] == seg_n[None, :], tl.exp(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        dp += _gather_bins(DMASS, DMASS, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length, unit,
                           AXES, TOTAL_AXES, False)  # fmt: skip
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
        _add_masses(DPQ, ds, offs_m, in_m, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length,
                    unit, AXES, TOTAL_AXES)  # fmt: skip
    dq_ptrs = DQ + offs_m[:, None].to(tl.int64) * row_stride + head * head_dim + offs_d[None, :]
    tl.store(dq_ptrs, (dq * scale).to(DQ.dtype.element_ty), mask=in_m[:, None] & in_d[None, :])


@triton.jit
def _rpe_bwd_dkv_kernel(
    Q, K, V, PQ, PK, POS, RNG, DO, DMASS, LSE, DELTA, DK, DV, DPK, SEG, SEG_START,
    num_tokens, num_heads, head_dim, length, scale, unit,
    AXES: tl.constexpr, TOTAL_AXES: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """dK (without the Pk path), dV and dPk of BLOCK_N keys x one head; tiles are (keys, queries) = S^T."""
    head = tl.program_id(0) % num_heads
    block_start = tl.program_id(0) // num_heads * BLOCK_N
    row_stride = num_heads * head_dim
    table_stride = num_heads * TOTAL_AXES * length
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_n = block_start + tl.arange(0, BLOCK_N)
    in_n = offs_n < num_tokens
    seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
    k = _load_tile(K, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
    v = _load_tile(V, offs_n, in_n, head, row_stride, head_dim, offs_d, in_d)
    query_lo, query_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_N, num_tokens)
    k_rows, k_keep = offs_n[:, None], in_n[:, None]

    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    for start in range(query_lo, query_hi, BLOCK_M):
        offs_m = start + tl.arange(0, BLOCK_M)
        in_m = offs_m < query_hi
        seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
        q = _load_tile(Q, offs_m, in_m, head, row_stride, head_dim, offs_d, in_d)
        do = _load_tile(DO, offs_m, in_m, head, row_stride, head_dim, offs_d, in_d)
        lse = tl.load(LSE + offs_m * num_heads + head, mask=in_m, other=float("inf"))
        delta = tl.load(DELTA + offs_m * num_heads + head, mask=in_m, other=0.0)
        q_rows, q_keep = offs_m[None, :], in_m[None, :]
        st = tl.dot(k, tl.trans(q), input_precision=PRECISION) * scale
        st += _gather_bins(PQ, PK, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length, unit,
                           AXES, TOTAL_AXES, True)  # fmt: skip
        pt = tl.where(seg_n[:, None] == seg_m[None, :], tl.exp(st - lse[None, :]), 0.0)
        dv += tl.dot(pt.to(do.dtype), do, input_precision=PRECISION)
        dpt = tl.dot(v, tl.trans(do), input_precision=PRECISION)
        dpt += _gather_bins(DMASS, DMASS, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length,
                            unit, AXES, TOTAL_AXES, False)  # fmt: skip
        dst = pt * (dpt - delta[None, :])
        dk += tl.dot(dst.to(q.dtype), q, input_precision=PRECISION)
        _add_masses(DPK, dst, offs_n, in_n, POS, RNG, q_rows, k_rows, q_keep, k_keep, head, table_stride, length,
                    unit, AXES, TOTAL_AXES)  # fmt: skip
    out_offs = offs_n[:, None].to(tl.int64) * row_stride + head * head_dim + offs_d[None, :]
    store = in_n[:, None] & in_d[None, :]
    tl.store(DK + out_offs, (dk * scale).to(DK.dtype.element_ty), mask=store)
    tl.store(DV + out_offs, dv.to(DV.dtype.element_ty), mask=store)


@dataclass
class RpeLayout:
    """Windows and pair-bin inputs shared by the three kernels."""

    seg: torch.Tensor  # (N,) int32 window of each token
    seg_start: torch.Tensor  # (S + 1,) int64 CSR offsets
    positions: torch.Tensor  # (N, A) int32 (a placeholder when A = 0)
    ranges: torch.Tensor  # (N,) fp32 (a placeholder without a range axis)
    axes: int  # A
    total_axes: int  # A_total
    length: int  # L
    unit: float

    @property
    def num_tokens(self) -> int:
        return self.seg.numel()


def _tile(block_m: int, block_n: int, head_dim: int, dtype: torch.dtype) -> tuple[int, int, int, int]:
    """The softmax kernels' tile capped at ``MAX_BLOCK``, with a warp per 128 pairs at least (the fp32 bias,
    bin and probability tiles of BLOCK_M x BLOCK_N pairs are what fills the registers here)."""
    block_m, block_n, block_d, warps = tile_config(min(block_m, MAX_BLOCK), min(block_n, MAX_BLOCK), head_dim, dtype)
    return block_m, block_n, block_d, max(warps, block_m * block_n // 128)


def launch_config(num_tokens: int, num_segments: int, head_dim: int, dtype: torch.dtype):
    """(BLOCK_M, BLOCK_N, BLOCK_D, num_warps) for the mean window length (known without a sync)."""
    mean_length = num_tokens / max(num_segments, 1)
    block_m, block_n = next((m, n) for bound, m, n in TILES if mean_length <= bound)
    return _tile(block_m, block_n, head_dim, dtype)


def launch_configs(head_dim: int, dtype: torch.dtype) -> list[tuple[int, int, int, int]]:
    """Every configuration :func:`launch_config` can pick for ``head_dim`` and ``dtype``."""
    return sorted({_tile(m, n, head_dim, dtype) for _, m, n in TILES})


def kernel_meta(axes: int, total_axes: int, block_m: int, block_n: int, block_d: int, dtype: torch.dtype) -> dict:
    """Constexpr arguments of the three kernels."""
    precision = "ieee" if dtype == torch.float32 else "tf32"
    return dict(AXES=axes, TOTAL_AXES=total_axes, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
                PRECISION=precision)  # fmt: skip


def _launch(layout: RpeLayout, heads: int, dim: int, dtype: torch.dtype):
    block_m, block_n, block_d, warps = launch_config(layout.num_tokens, layout.seg_start.numel() - 1, dim, dtype)
    meta = kernel_meta(layout.axes, layout.total_axes, block_m, block_n, block_d, dtype)
    tail = (layout.seg, layout.seg_start, layout.num_tokens, heads, dim, layout.length)
    return meta, warps, tail


class RpeCore(torch.autograd.Function):
    """(q, k, v, Pq, Pk) -> (Σ_j α_ij v_j fp32 (N, H, D), masses M fp32 (N, H, T)); Triton both ways."""

    @staticmethod
    def forward(ctx, q, k, v, pq, pk, layout: RpeLayout, scale: float):
        q, k, v, pq, pk = (x.contiguous() for x in (q, k, v, pq, pk))
        n, heads, dim = q.shape
        out = torch.zeros(q.shape, device=q.device, dtype=torch.float32)
        mass = torch.zeros(pq.shape, device=q.device, dtype=torch.float32)
        lse = torch.empty((n, heads), device=q.device, dtype=torch.float32)
        if n:
            meta, warps, (seg, seg_start, *sizes) = _launch(layout, heads, dim, q.dtype)
            grid = (heads * triton.cdiv(n, meta["BLOCK_M"]),)
            _rpe_fwd_kernel[grid](
                q, k, v, pq, pk, layout.positions, layout.ranges, out, lse, mass, seg, seg_start,
                *sizes, scale, layout.unit, num_warps=warps, num_stages=2, **meta,
            )  # fmt: skip
        ctx.save_for_backward(q, k, v, pq, pk, out, mass, lse)
        ctx.layout, ctx.scale = layout, scale
        return out, mass

    @staticmethod
    def backward(ctx, grad_out, grad_mass):
        q, k, v, pq, pk, out, mass, lse = ctx.saved_tensors
        layout, scale = ctx.layout, ctx.scale
        grad_out = torch.zeros_like(out) if grad_out is None else grad_out.float().contiguous()
        grad_mass = torch.zeros_like(mass) if grad_mass is None else grad_mass.float().contiguous()
        delta = (grad_out * out).sum(-1) + (grad_mass * mass).sum(-1)  # (N, H) = Σ_j α_ij dP_ij
        dq, dk, dv = (torch.empty_like(x) for x in (q, k, v))
        dpq, dpk = torch.zeros_like(pq), torch.zeros_like(pk)
        n, heads, dim = q.shape
        if n:
            meta, warps, (seg, seg_start, *sizes) = _launch(layout, heads, dim, q.dtype)
            do = grad_out.to(q.dtype)
            inputs = (q, k, v, pq, pk, layout.positions, layout.ranges, do, grad_mass, lse, delta)
            tail = (seg, seg_start, *sizes, scale, layout.unit)
            grid_q = (heads * triton.cdiv(n, meta["BLOCK_M"]),)
            _rpe_bwd_dq_kernel[grid_q](*inputs, dq, dpq, *tail, num_warps=warps, num_stages=2, **meta)
            grid_kv = (heads * triton.cdiv(n, meta["BLOCK_N"]),)
            _rpe_bwd_dkv_kernel[grid_kv](*inputs, dk, dv, dpk, *tail, num_warps=warps, num_stages=2, **meta)
        return dq, dk, dv, dpq, dpk, None, None


def rpe_attention_triton(q, k, v, offsets, positions, ranges, table_q, table_k, table_v, scale, unit):
    """Contextual-RPE window attention through :class:`RpeCore`; the table projections are einsums."""
    n, heads, dim = q.shape
    total_axes, length = table_q.shape[:2]
    flat = [t.float().reshape(total_axes * length, heads, dim) for t in (table_q, table_k, table_v)]
    pq = torch.einsum("nhd,thd->nht", q.float() * scale, flat[0])
    pk = torch.einsum("nhd,thd->nht", k.float(), flat[1])
    seg = segment_ids(offsets, n).to(torch.int32)
    layout = RpeLayout(
        seg=seg,
        seg_start=offsets.long().contiguous(),
        positions=positions.to(torch.int32).contiguous() if positions.shape[1] else seg,
        ranges=ranges.float().contiguous() if ranges is not None else torch.zeros(1, device=q.device),
        axes=positions.shape[1],
        total_axes=total_axes,
        length=length,
        unit=unit,
    )
    out, mass = RpeCore.apply(q, k, v, pq, pk, layout, scale)
    return out + torch.einsum("nht,thd->nhd", mass, flat[2])
