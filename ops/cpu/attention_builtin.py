"""PyTorch's own attention paths as backends of varlen softmax attention (any device, plain PyTorch).

- ``sdpa_padded``: every segment padded to the longest one, one ``scaled_dot_product_attention`` call
  with a key-padding mask (the DSVT / SST layout; reads the longest length, one host sync);
- ``nested_sdpa``: a jagged nested tensor (one component per segment) through SDPA;
- ``flex``: compiled FlexAttention over the whole sequence with a same-segment block mask (the block
  mask is rebuilt every call; the first call of each size compiles). FlexAttention has no backward on
  the CPU (torch 2.13): there the backward recomputes with ``sdpa_padded`` and differentiates it.

Same arguments and result as :func:`voxformer.ops.attention.varlen_attention_reference`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..attention import segment_ids


def varlen_attention_sdpa_padded(q, k, v, offsets, scale):
    """One SDPA call over (S', H, L, D), L the longest segment; empty segments are dropped."""
    lengths = offsets.diff()
    keep = lengths > 0
    if q.shape[0] == 0:
        return q.new_zeros(q.shape)
    starts, lengths = offsets[:-1][keep], lengths[keep]
    pos = torch.arange(int(lengths.max()), device=q.device)
    valid = pos[None, :] < lengths[:, None]
    index = torch.where(valid, starts[:, None] + pos[None, :], 0)
    qs, ks, vs = (x[index].transpose(1, 2) for x in (q, k, v))  # (S', H, L, D)
    out = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=valid[:, None, None, :], scale=scale)
    return out.transpose(1, 2)[valid]  # segments are contiguous and sorted: token order


def varlen_attention_nested(q, k, v, offsets, scale):
    """SDPA on jagged nested tensors whose components are the segments (in fp32 for half inputs: the
    nested path computes in its input dtype)."""
    if q.shape[0] == 0:
        return q.new_zeros(q.shape)
    dtype = torch.float32 if q.dtype in (torch.bfloat16, torch.float16) else q.dtype
    nested = [torch.nested.nested_tensor_from_jagged(x.to(dtype), offsets).transpose(1, 2) for x in (q, k, v)]
    return F.scaled_dot_product_attention(*nested, scale=scale).transpose(1, 2).values().to(q.dtype)


@functools.cache
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def _flex(q, k, v, offsets, scale):
    """FlexAttention (1, H, N, D) with a block mask allowing only pairs of one segment."""
    from torch.nn.attention.flex_attention import create_block_mask

    n = q.shape[0]
    if n == 0:
        return q.new_zeros(q.shape)
    seg = segment_ids(offsets, n)
    block_mask = create_block_mask(lambda b, h, i, j: seg[i] == seg[j], None, None, n, n, device=q.device)
    qs, ks, vs = (x.transpose(0, 1)[None] for x in (q, k, v))
    out = _compiled_flex()(qs, ks, vs, block_mask=block_mask, scale=scale)
    return out[0].transpose(0, 1)


class _FlexWithPaddedBackward(torch.autograd.Function):
    """FlexAttention forward; backward by recomputing the padded-SDPA path (FlexAttention's CPU gap)."""

    @staticmethod
    def forward(ctx, q, k, v, offsets, scale):
        ctx.save_for_backward(q, k, v, offsets)
        ctx.scale = scale
        return _flex(q.detach(), k.detach(), v.detach(), offsets, scale)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, offsets = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [x.detach().requires_grad_() for x in (q, k, v)]
            out = varlen_attention_sdpa_padded(*inputs, offsets, ctx.scale)
            grads = torch.autograd.grad(out, inputs, grad_out)
        return *grads, None, None


def varlen_attention_flex(q, k, v, offsets, scale):
    """FlexAttention over the segments; on the CPU with autograd, the backward of ``sdpa_padded``."""
    if q.device.type == "cpu" and torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v)):
        return _FlexWithPaddedBackward.apply(q, k, v, offsets, scale)
    return _flex(q, k, v, offsets, scale)
