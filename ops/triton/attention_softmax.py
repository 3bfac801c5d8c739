"""Triton kernels for softmax attention inside segments of a token sequence (forward and backward).

Both ops run on one "slot" sequence of R slots cut into segments (CSR ``seg_start``, ``seg`` = segment of
each slot):

- varlen window attention: slots are the tokens themselves (sorted by segment);
- set attention: slot r of set s = r // tau reads voxel ``rows[r]`` (the gather is fused into the loads),
  keys with ``key_valid[r] == 0`` are ignored, and only ``writer`` slots store their output row, so the
  gathered copy is never materialised and duplicated voxels are written once.

One forward program = BLOCK_M consecutive slots x one head. Its keys are the slots of every segment those
queries touch (``seg_start[seg[first]] .. seg_start[seg[last] + 1]``), visited BLOCK_N at a time with an
online softmax; scores between different segments are masked. Several short windows are thus packed in
one tile (36-token windows in 16 x 32 tiles instead of one 128-wide tile each) and a long window is split
across ceil(L / BLOCK_M) programs. Layout: q, k, v, o (N, H, D) contiguous; LSE (R, H) fp32 in log2 units.
The head dim is padded to a power of two >= 16 with masked loads. Accumulation is fp32.

Backward = two kernels without atomics (deterministic): dQ per query block (same key walk) and dK/dV per
key block (walking the query slots of the segments it touches), both recomputing P from the saved LSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from ..attention import segment_ids, writer_slots

LOG2E = 1.4426950408889634


@triton.jit
def _load_tile(X, rows, keep, head, row_stride, head_dim, offs_d, in_d):
    """(len(rows), BLOCK_D) tile of head ``head`` of rows ``rows``; zeros where masked."""
    ptrs = X + rows[:, None] * row_stride + head * head_dim + offs_d[None, :]
    return tl.load(ptrs, mask=keep[:, None] & in_d[None, :], other=0.0)


@triton.jit
def _slot_rows(ROWS, offs, keep, GATHER: tl.constexpr):
    """Row of the (N, H, D) tensors that each slot reads."""
    if GATHER:
        return tl.load(ROWS + offs, mask=keep, other=0)
    return offs.to(tl.int64)


@triton.jit
def _key_keep(KEY_VALID, offs, in_range, GATHER: tl.constexpr):
    if GATHER:
        return in_range & (tl.load(KEY_VALID + offs, mask=in_range, other=0) != 0)
    return in_range


@triton.jit
def _segment_span(SEG, SEG_START, block_start, block_size, num_slots):
    """Slots [lo, hi) of all segments touched by slots [block_start, block_start + block_size)."""
    first = tl.load(SEG + block_start)
    last = tl.load(SEG + tl.minimum(block_start + block_size, num_slots) - 1)
    return tl.load(SEG_START + first), tl.load(SEG_START + last + 1)


@triton.jit
def _fwd_kernel(
    Q, K, V, OUT, LSE, SEG, SEG_START, ROWS, KEY_VALID, WRITER,
    num_slots, num_heads, head_dim, qk_scale,
    GATHER: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    head = tl.program_id(0) % num_heads  # heads of one block run side by side: each row is read once from HBM
    block_start = tl.program_id(0) // num_heads * BLOCK_M
    row_stride = num_heads * head_dim
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_m = block_start + tl.arange(0, BLOCK_M)
    in_m = offs_m < num_slots
    seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
    rows_m = _slot_rows(ROWS, offs_m, in_m, GATHER)
    q = _load_tile(Q, rows_m, in_m, head, row_stride, head_dim, offs_d, in_d)
    key_lo, key_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_M, num_slots)

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start in range(key_lo, key_hi, BLOCK_N):
        offs_n = start + tl.arange(0, BLOCK_N)
        in_n = offs_n < key_hi
        seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
        keep_n = _key_keep(KEY_VALID, offs_n, in_n, GATHER)
        rows_n = _slot_rows(ROWS, offs_n, in_n, GATHER)
        k = _load_tile(K, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        v = _load_tile(V, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        same = (seg_m[:, None] == seg_n[None, :]) & keep_n[None, :]
        s = tl.where(same, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with no key yet stay at zero
        p = tl.exp2(s - m_ref[:, None])
        alpha = tl.exp2(m_i - m_ref)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new

    empty = l_i == 0.0  # no valid key: output 0, LSE +inf so that backward sees P = 0
    l_safe = tl.where(empty, 1.0, l_i)
    out = acc / l_safe[:, None]
    tl.store(LSE + offs_m * num_heads + head, tl.where(empty, float("inf"), m_i + tl.log2(l_safe)), mask=in_m)
    store = in_m
    if GATHER:
        store = store & (tl.load(WRITER + offs_m, mask=in_m, other=0) != 0)
    out_ptrs = OUT + rows_m[:, None] * row_stride + head * head_dim + offs_d[None, :]
    tl.store(out_ptrs, out.to(OUT.dtype.element_ty), mask=store[:, None] & in_d[None, :])


@triton.jit
def _bwd_dq_kernel(
    Q, K, V, DO, LSE, DELTA, DQ, SEG, SEG_START, ROWS, KEY_VALID,
    num_slots, num_heads, head_dim, qk_scale, scale,
    GATHER: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    """dQ of BLOCK_M query slots x one head; DO, DQ, LSE, DELTA are in slot order."""
    head = tl.program_id(0) % num_heads  # heads of one block run side by side: each row is read once from HBM
    block_start = tl.program_id(0) // num_heads * BLOCK_M
    row_stride = num_heads * head_dim
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_m = block_start + tl.arange(0, BLOCK_M)
    in_m = offs_m < num_slots
    seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
    q = _load_tile(Q, _slot_rows(ROWS, offs_m, in_m, GATHER), in_m, head, row_stride, head_dim, offs_d, in_d)
    do = _load_tile(DO, offs_m.to(tl.int64), in_m, head, row_stride, head_dim, offs_d, in_d)
    lse = tl.load(LSE + offs_m * num_heads + head, mask=in_m, other=float("inf"))
    delta = tl.load(DELTA + offs_m * num_heads + head, mask=in_m, other=0.0)
    key_lo, key_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_M, num_slots)

    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start in range(key_lo, key_hi, BLOCK_N):
        offs_n = start + tl.arange(0, BLOCK_N)
        in_n = offs_n < key_hi
        seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
        keep_n = _key_keep(KEY_VALID, offs_n, in_n, GATHER)
        rows_n = _slot_rows(ROWS, offs_n, in_n, GATHER)
        k = _load_tile(K, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        v = _load_tile(V, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        same = (seg_m[:, None] == seg_n[None, :]) & keep_n[None, :]
        p = tl.where(same, tl.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    dq_ptrs = DQ + offs_m[:, None].to(tl.int64) * row_stride + head * head_dim + offs_d[None, :]
    tl.store(dq_ptrs, (dq * scale).to(DQ.dtype.element_ty), mask=in_m[:, None] & in_d[None, :])


@triton.jit
def _bwd_dkv_kernel(
    Q, K, V, DO, LSE, DELTA, DK, DV, SEG, SEG_START, ROWS, KEY_VALID,
    num_slots, num_heads, head_dim, qk_scale, scale,
    GATHER: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    """dK, dV of BLOCK_N key slots x one head, walking the query slots of the segments they touch."""
    head = tl.program_id(0) % num_heads
    block_start = tl.program_id(0) // num_heads * BLOCK_N
    row_stride = num_heads * head_dim
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    offs_n = block_start + tl.arange(0, BLOCK_N)
    in_n = offs_n < num_slots
    seg_n = tl.load(SEG + offs_n, mask=in_n, other=-2)
    keep_n = _key_keep(KEY_VALID, offs_n, in_n, GATHER)
    rows_n = _slot_rows(ROWS, offs_n, in_n, GATHER)
    k = _load_tile(K, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
    v = _load_tile(V, rows_n, in_n, head, row_stride, head_dim, offs_d, in_d)
    query_lo, query_hi = _segment_span(SEG, SEG_START, block_start, BLOCK_N, num_slots)

    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    for start in range(query_lo, query_hi, BLOCK_M):
        offs_m = start + tl.arange(0, BLOCK_M)
        in_m = offs_m < query_hi
        seg_m = tl.load(SEG + offs_m, mask=in_m, other=-1)
        q = _load_tile(Q, _slot_rows(ROWS, offs_m, in_m, GATHER), in_m, head, row_stride, head_dim, offs_d, in_d)
        do = _load_tile(DO, offs_m.to(tl.int64), in_m, head, row_stride, head_dim, offs_d, in_d)
        lse = tl.load(LSE + offs_m * num_heads + head, mask=in_m, other=float("inf"))
        delta = tl.load(DELTA + offs_m * num_heads + head, mask=in_m, other=0.0)
        st = tl.dot(k, tl.trans(q), input_precision=PRECISION) * qk_scale  # (BLOCK_N, BLOCK_M) = S^T
        same = (seg_n[:, None] == seg_m[None, :]) & keep_n[:, None]
        pt = tl.where(same, tl.exp2(st - lse[None, :]), 0.0)
        dv += tl.dot(pt.to(do.dtype), do, input_precision=PRECISION)
        dpt = tl.dot(v, tl.trans(do), input_precision=PRECISION)
        dst = pt * (dpt - delta[None, :])
        dk += tl.dot(dst.to(q.dtype), q, input_precision=PRECISION)
    out_offs = offs_n[:, None].to(tl.int64) * row_stride + head * head_dim + offs_d[None, :]
    store = in_n[:, None] & in_d[None, :]
    tl.store(DK + out_offs, (dk * scale).to(DK.dtype.element_ty), mask=store)
    tl.store(DV + out_offs, dv.to(DV.dtype.element_ty), mask=store)


@dataclass
class SlotLayout:
    """Segments over R slots. ``rows``/``key_valid``/``writer`` (R,) are set for gathered sets only."""

    seg: torch.Tensor  # (R,) int32 segment of each slot
    seg_start: torch.Tensor  # (S + 1,) int64 CSR offsets over slots
    rows: torch.Tensor | None = None  # (R,) int64 voxel row read by each slot
    key_valid: torch.Tensor | None = None  # (R,) int8, 0 = ignored as a key
    writer: torch.Tensor | None = None  # (R,) int8, 1 = this slot stores its voxel's output

    @property
    def num_slots(self) -> int:
        return self.seg.numel()

    @property
    def gather(self) -> bool:
        return self.rows is not None


# (largest mean segment length, BLOCK_M, BLOCK_N): the tile the dispatcher picks for a sequence
TILES = ((24, 16, 16), (48, 16, 32), (96, 32, 32), (float("inf"), 64, 64))


def tile_config(block_m: int, block_n: int, head_dim: int, dtype: torch.dtype) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_D, num_warps) of a tile of ``TILES`` for ``head_dim`` and input ``dtype``.

    Warps grow with the tile volume so that the fp32 accumulators and operands stay in registers (with 2
    warps, 16-bit tiles of BLOCK_D = 128 spill). fp32 inputs take exact (``ieee``) dots on the FMA units,
    whose operands sit in registers: their tiles are capped at 32 x 32 and get twice the warps (at most 8).
    Spills per configuration: ``voxformer env --kernels``.
    """
    block_d = max(16, triton.next_power_of_2(head_dim))
    if block_d >= 128:
        block_n = min(block_n, 32)
    if dtype == torch.float32:
        block_m, block_n = min(block_m, 32), min(block_n, 32)
    volume = block_m * block_n * block_d
    warps = 2 if volume < 64 * 64 * 16 else 4 if volume < 64 * 64 * 64 else 8
    return block_m, block_n, block_d, min(8, 2 * warps) if dtype == torch.float32 else warps


def block_sizes(num_slots: int, num_segments: int, head_dim: int, dtype: torch.dtype) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_D, num_warps) from the mean segment length (known without a sync)."""
    mean_length = num_slots / max(num_segments, 1)
    block_m, block_n = next((m, n) for bound, m, n in TILES if mean_length <= bound)
    return tile_config(block_m, block_n, head_dim, dtype)


def launch_configs(head_dim: int, dtype: torch.dtype) -> list[tuple[int, int, int, int]]:
    """Every (BLOCK_M, BLOCK_N, BLOCK_D, num_warps) :func:`block_sizes` can pick for ``head_dim`` and ``dtype``."""
    return sorted({tile_config(m, n, head_dim, dtype) for _, m, n in TILES})


def kernel_meta(gather: bool, block_m: int, block_n: int, block_d: int, dtype: torch.dtype) -> dict:
    """Constexpr arguments of the three kernels."""
    precision = "ieee" if dtype == torch.float32 else "tf32"
    return dict(GATHER=gather, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d, PRECISION=precision)


def _kernel_args(layout: SlotLayout, head_dim: int, dtype: torch.dtype):
    block_m, block_n, block_d, warps = block_sizes(layout.num_slots, layout.seg_start.numel() - 1, head_dim, dtype)
    unused = layout.seg  # placeholder pointer for arguments a non-gather launch never reads
    gathered = (
        layout.rows if layout.gather else unused,
        layout.key_valid if layout.gather else unused,
    )
    return gathered, kernel_meta(layout.gather, block_m, block_n, block_d, dtype), warps


def softmax_forward(q, k, v, layout: SlotLayout, scale: float):
    """Launch the forward kernel; returns ``out`` (N, H, D) and ``lse`` (R, H) fp32."""
    n, heads, dim = q.shape
    out = torch.zeros_like(q) if layout.gather else torch.empty_like(q)
    lse = torch.empty((layout.num_slots, heads), device=q.device, dtype=torch.float32)
    if layout.num_slots == 0:
        return out, lse
    (rows, key_valid), meta, warps = _kernel_args(layout, dim, q.dtype)
    writer = layout.writer if layout.gather else layout.seg
    grid = (heads * triton.cdiv(layout.num_slots, meta["BLOCK_M"]),)
    _fwd_kernel[grid](
        q, k, v, out, lse, layout.seg, layout.seg_start, rows, key_valid, writer,
        layout.num_slots, heads, dim, scale * LOG2E, num_warps=warps, num_stages=2, **meta,
    )  # fmt: skip
    return out, lse


def softmax_backward(q, k, v, grad_slots, lse, delta, layout: SlotLayout, scale: float):
    """dQ, dK, dV in slot order (R, H, D); fp32 when gathered (they are summed into voxels afterwards)."""
    heads, dim = q.shape[1], q.shape[2]
    buffer_dtype = torch.float32 if layout.gather else q.dtype
    shape = (layout.num_slots, heads, dim)
    dq, dk, dv = (torch.empty(shape, device=q.device, dtype=buffer_dtype) for _ in range(3))
    if layout.num_slots == 0:
        return dq, dk, dv
    (rows, key_valid), meta, warps = _kernel_args(layout, dim, q.dtype)
    common = (layout.seg, layout.seg_start, rows, key_valid, layout.num_slots, heads, dim, scale * LOG2E, scale)
    grid_q = (heads * triton.cdiv(layout.num_slots, meta["BLOCK_M"]),)
    _bwd_dq_kernel[grid_q](q, k, v, grad_slots, lse, delta, dq, *common, num_warps=warps, num_stages=2, **meta)
    grid_kv = (heads * triton.cdiv(layout.num_slots, meta["BLOCK_N"]),)
    _bwd_dkv_kernel[grid_kv](q, k, v, grad_slots, lse, delta, dk, dv, *common, num_warps=warps, num_stages=2, **meta)
    return dq, dk, dv


class SegmentSoftmaxAttention(torch.autograd.Function):
    """Autograd wrapper: Triton forward and Triton backward (dQ and dK/dV kernels)."""

    @staticmethod
    def forward(ctx, q, k, v, layout: SlotLayout, scale: float):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        out, lse = softmax_forward(q, k, v, layout, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.layout, ctx.scale = layout, scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        layout = ctx.layout
        grad_out = grad_out.contiguous()
        if layout.gather:  # only writer slots received a gradient; their output is the voxel's
            grad_slots = grad_out[layout.rows] * layout.writer.to(grad_out.dtype)[:, None, None]
            out_slots = out[layout.rows]
        else:
            grad_slots, out_slots = grad_out, out
        delta = (grad_slots.float() * out_slots.float()).sum(-1)  # (R, H)
        dq, dk, dv = softmax_backward(q, k, v, grad_slots.contiguous(), lse, delta, layout, ctx.scale)
        if layout.gather:
            dq, dk, dv = (
                torch.zeros(q.shape, device=q.device, dtype=torch.float32).index_add_(0, layout.rows, g).to(q.dtype)
                for g in (dq, dk, dv)
            )
        return dq, dk, dv, None, None


def varlen_attention_triton(q, k, v, offsets, scale):
    """Varlen softmax attention: slots are the tokens themselves."""
    layout = SlotLayout(seg=segment_ids(offsets, q.shape[0]).to(torch.int32), seg_start=offsets.long().contiguous())
    return SegmentSoftmaxAttention.apply(q, k, v, layout, scale)


def set_attention_triton(q, k, v, set_index, ignore, scale):
    """Set attention: set s owns slots [s * tau, (s + 1) * tau); gather and write-back fused in the kernel."""
    num_sets, tau = set_index.shape
    rows = set_index.reshape(-1).contiguous()
    slots = torch.arange(rows.numel(), device=q.device)
    layout = SlotLayout(
        seg=(slots // max(tau, 1)).to(torch.int32),
        seg_start=torch.arange(num_sets + 1, device=q.device) * tau,
        rows=rows,
        key_valid=(~ignore).reshape(-1).to(torch.int8),
        writer=writer_slots(rows, q.shape[0]).to(torch.int8),
    )
    return SegmentSoftmaxAttention.apply(q, k, v, layout, scale)
