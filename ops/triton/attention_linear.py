"""Triton kernels for scattered linear attention (ScatterFormer) over CSR token segments.

Per segment and head: KV = sum phi(k)^T v (D x D, fp32), z = sum phi(k), y = phi(q) KV / (phi(q) . z + eps).

Work is cut into *pieces* of at most PIECE tokens of one segment (the piece table is built on the device
without a host sync). One program = one piece x one head:

- a segment of one piece (the common case: windows of 10-150 tokens) is done in one fused pass: the
  program streams K, V in BLOCK-token chunks into a register state, then streams Q and writes y; the
  state never touches global memory;
- a longer segment is split across its pieces so one huge window does not serialise the layer: each
  piece writes its partial (KV, z) and a second kernel sums the segment's partials in a fixed order (no
  atomics, deterministic) and writes y for its own piece.

Layout: q, k, v, y (N, H, D) contiguous; the head dim is padded to a power of two >= 16 with masked
loads (padded feature columns are forced to 0, also for elu + 1). Backward recomputes with the bucketed
PyTorch path (``ops/cpu/attention.py``) under autograd: its cost is a few batched bmm calls.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

PIECE = 256  # tokens of one segment handled by one program
BLOCK = 32  # tokens per chunk inside a program


@triton.jit
def _features(X, start, end, head, row_stride, head_dim, offs_t, offs_d, in_d, ELU: tl.constexpr):
    """phi of a (BLOCK, BLOCK_D) chunk of X in fp32, zero outside [start, end) x [0, head_dim)."""
    rows = start + offs_t
    keep = (rows < end)[:, None] & in_d[None, :]
    x = tl.load(X + rows[:, None] * row_stride + head * head_dim + offs_d[None, :], mask=keep, other=0.0)
    x = x.to(tl.float32)
    if ELU:
        phi = tl.where(x > 0, x + 1.0, tl.exp(x))
    else:
        phi = tl.maximum(x, 0.0)
    return tl.where(keep, phi, 0.0)


@triton.jit
def _piece_state(K, V, start, end, head, row_stride, head_dim,
                 ELU: tl.constexpr, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    """(KV (BLOCK_D, BLOCK_D), z (BLOCK_D,)) of tokens [start, end), fp32."""
    offs_t = tl.arange(0, BLOCK)
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    kv = tl.zeros([BLOCK_D, BLOCK_D], tl.float32)
    z = tl.zeros([BLOCK_D], tl.float32)
    for chunk in range(start, end, BLOCK):
        fk = _features(K, chunk, end, head, row_stride, head_dim, offs_t, offs_d, in_d, ELU)
        rows = chunk + offs_t
        v = tl.load(
            V + rows[:, None] * row_stride + head * head_dim + offs_d[None, :],
            mask=(rows < end)[:, None] & in_d[None, :],
            other=0.0,
        )
        kv += tl.dot(tl.trans(fk.to(v.dtype)), v, input_precision=PRECISION)
        z += tl.sum(fk, 0)
    return kv, z


@triton.jit
def _emit(Q, Y, kv, z, start, end, head, row_stride, head_dim, eps,
          ELU: tl.constexpr, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    """y = phi(q) KV / (phi(q) . z + eps) for tokens [start, end)."""
    offs_t = tl.arange(0, BLOCK)
    offs_d = tl.arange(0, BLOCK_D)
    in_d = offs_d < head_dim
    for chunk in range(start, end, BLOCK):
        fq = _features(Q, chunk, end, head, row_stride, head_dim, offs_t, offs_d, in_d, ELU)
        numerator = tl.dot(fq, kv, input_precision=PRECISION)
        denominator = tl.sum(fq * z[None, :], 1) + eps
        rows = chunk + offs_t
        y_ptrs = Y + rows[:, None] * row_stride + head * head_dim + offs_d[None, :]
        y = numerator / denominator[:, None]
        tl.store(y_ptrs, y.to(Y.dtype.element_ty), mask=(rows < end)[:, None] & in_d[None, :])


@triton.jit
def _piece_kernel(
    Q, K, V, Y, STATE, NORM, PIECE_SEG, PIECE_START, PIECE_SLOT, SEG_START, SEG_PIECES,
    num_heads, head_dim, eps,
    ELU: tl.constexpr, PIECE: tl.constexpr, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """One piece x one head: whole segment -> y directly; part of a split segment -> partial state."""
    head = tl.program_id(0) % num_heads
    piece = tl.program_id(0) // num_heads
    seg = tl.load(PIECE_SEG + piece)
    if seg >= 0:
        row_stride = num_heads * head_dim
        start = tl.load(PIECE_START + piece)
        end = tl.minimum(start + PIECE, tl.load(SEG_START + seg + 1))
        kv, z = _piece_state(K, V, start, end, head, row_stride, head_dim, ELU, BLOCK, BLOCK_D, PRECISION)
        if tl.load(SEG_PIECES + seg) == 1:
            _emit(Q, Y, kv, z, start, end, head, row_stride, head_dim, eps, ELU, BLOCK, BLOCK_D, PRECISION)
        else:
            offs_d = tl.arange(0, BLOCK_D)
            slot = (tl.load(PIECE_SLOT + piece) * num_heads + head).to(tl.int64)
            tl.store(STATE + slot * BLOCK_D * BLOCK_D + offs_d[:, None] * BLOCK_D + offs_d[None, :], kv)
            tl.store(NORM + slot * BLOCK_D + offs_d, z)


@triton.jit
def _split_output_kernel(
    Q, Y, STATE, NORM, PIECE_SEG, PIECE_START, PIECE_SLOT, SEG_START, SEG_PIECES, SEG_FIRST_PIECE,
    num_heads, head_dim, eps,
    ELU: tl.constexpr, PIECE: tl.constexpr, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """One piece of a split segment x one head: sum the segment's partial states in order, write y."""
    head = tl.program_id(0) % num_heads
    piece = tl.program_id(0) // num_heads
    seg = tl.load(PIECE_SEG + piece)
    if seg >= 0:
        count = tl.load(SEG_PIECES + seg)
        if count > 1:
            row_stride = num_heads * head_dim
            offs_d = tl.arange(0, BLOCK_D)
            first_slot = tl.load(PIECE_SLOT + tl.load(SEG_FIRST_PIECE + seg))
            kv = tl.zeros([BLOCK_D, BLOCK_D], tl.float32)
            z = tl.zeros([BLOCK_D], tl.float32)
            for slot in range(first_slot, first_slot + count):
                at = (slot * num_heads + head).to(tl.int64)
                kv += tl.load(STATE + at * BLOCK_D * BLOCK_D + offs_d[:, None] * BLOCK_D + offs_d[None, :])
                z += tl.load(NORM + at * BLOCK_D + offs_d)
            start = tl.load(PIECE_START + piece)
            end = tl.minimum(start + PIECE, tl.load(SEG_START + seg + 1))
            _emit(Q, Y, kv, z, start, end, head, row_stride, head_dim, eps, ELU, BLOCK, BLOCK_D, PRECISION)


def piece_table(offsets: torch.Tensor, num_tokens: int, piece: int = PIECE) -> dict[str, torch.Tensor]:
    """Cut every segment into pieces of at most ``piece`` tokens, on the device, without a host sync.

    The table has an upper bound of S + N // piece rows; rows past the real pieces have segment -1.
    ``piece_slot`` numbers the pieces of split segments (those of more than one piece) consecutively;
    there are at most 2 * (N // piece) of them.
    """
    num_segments = offsets.numel() - 1
    lengths = offsets.diff()
    pieces = (lengths + piece - 1) // piece
    piece_end = pieces.cumsum(0)
    first_piece = piece_end - pieces
    ids = torch.arange(num_segments + num_tokens // piece, device=offsets.device)
    seg = torch.searchsorted(piece_end, ids, right=True)
    valid = seg < num_segments
    seg = seg.clamp(max=max(num_segments - 1, 0))
    start = offsets[:-1][seg] + (ids - first_piece[seg]) * piece
    split = valid & (pieces[seg] > 1)
    return {
        "piece_seg": torch.where(valid, seg, -1).to(torch.int32),
        "piece_start": start,
        "piece_slot": (split.long().cumsum(0) - 1).clamp(min=0),
        "seg_pieces": pieces,
        "seg_first_piece": first_piece,
    }


def launch_config(head_dim: int, feature_map: str, dtype: torch.dtype) -> tuple[dict, int]:
    """(constexpr arguments, num_warps) of both kernels, the same for the piece and the output kernel."""
    block_d = max(16, triton.next_power_of_2(head_dim))
    meta = dict(
        ELU=feature_map == "elu",
        PIECE=PIECE,
        BLOCK=BLOCK,
        BLOCK_D=block_d,
        PRECISION="ieee" if dtype == torch.float32 else "tf32",
    )
    return meta, 4 if block_d >= 64 else 2


def linear_attention_forward(q, k, v, offsets, feature_map: str, eps: float) -> torch.Tensor:
    n, heads, dim = q.shape
    y = torch.empty_like(q)
    if n == 0:
        return y
    table = piece_table(offsets, n)
    meta, warps = launch_config(dim, feature_map, q.dtype)
    block_d = meta["BLOCK_D"]
    max_split = 2 * (n // PIECE)
    state = torch.empty((max(max_split, 1), heads, block_d, block_d), device=q.device, dtype=torch.float32)
    norm = torch.empty((max(max_split, 1), heads, block_d), device=q.device, dtype=torch.float32)
    grid = (heads * table["piece_seg"].numel(),)
    common = (table["piece_seg"], table["piece_start"], table["piece_slot"], offsets, table["seg_pieces"])
    _piece_kernel[grid](q, k, v, y, state, norm, *common, heads, dim, eps, num_warps=warps, **meta)
    if max_split:
        _split_output_kernel[grid](
            q, y, state, norm, *common, table["seg_first_piece"], heads, dim, eps, num_warps=warps, **meta
        )
    return y


class ScatteredLinearAttention(torch.autograd.Function):
    """Triton forward; backward recomputes with the bucketed PyTorch path and differentiates it."""

    @staticmethod
    def forward(ctx, q, k, v, offsets, feature_map: str, eps: float):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        ctx.save_for_backward(q, k, v, offsets)
        ctx.feature_map, ctx.eps = feature_map, eps
        return linear_attention_forward(q, k, v, offsets, feature_map, eps)

    @staticmethod
    def backward(ctx, grad_y):
        from ..cpu.attention import linear_attention_torch

        q, k, v, offsets = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [x.detach().requires_grad_() for x in (q, k, v)]
            y = linear_attention_torch(*inputs, offsets, ctx.feature_map, ctx.eps)
            grads = torch.autograd.grad(y, inputs, grad_y)
        return *grads, None, None, None


def linear_attention_triton(q, k, v, offsets, feature_map, eps):
    return ScatteredLinearAttention.apply(q, k, v, offsets.long().contiguous(), feature_map, eps)
