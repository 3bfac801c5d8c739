"""Fast PyTorch paths of the attention ops (the CPU backend ``torch`` and the GPU fallback).

Segments are grouped into a few buckets by length; each bucket is padded only to its own length and
processed by one batched call (SDPA for softmax, bmm for linear attention), so short windows do not pay
for the longest one. Autograd comes from PyTorch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attention import feature_map_fn, writer_slots


def bucket_length(lengths: torch.Tensor, steps_per_octave: int) -> torch.Tensor:
    """Round each length up to a bucket length: a multiple of 2**(bit_length - 1) / steps_per_octave
    (at least 8; ``steps_per_octave`` a power of two), so padding stays below 1/steps_per_octave of it."""
    bits = torch.floor(torch.log2(lengths.clamp(min=1).double())).long() + 1
    granularity = torch.pow(2, (bits - steps_per_octave.bit_length()).clamp(min=3))
    return (lengths + granularity - 1) // granularity * granularity


def length_buckets(offsets: torch.Tensor, steps_per_octave: int = 4):
    """Yield ``(index (B, L), valid (B, L))`` per bucket: token rows of B segments padded to length L
    (padding points at row 0 and is False in ``valid``). Zero-length segments are skipped."""
    starts, lengths = offsets[:-1], offsets.diff()
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    caps = bucket_length(lengths, steps_per_octave)
    for cap in caps.unique().tolist():
        chosen = caps == cap
        pos = torch.arange(cap, device=offsets.device)
        valid = pos[None, :] < lengths[chosen][:, None]
        yield torch.where(valid, starts[chosen][:, None] + pos[None, :], 0), valid


def _restore_order(parts: list[torch.Tensor], positions: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Concatenate per-bucket rows and put them back in token order."""
    if not parts:
        return like.new_zeros(like.shape)
    position = torch.cat(positions)
    inverse = torch.empty_like(position).scatter_(0, position, torch.arange(len(position), device=position.device))
    return torch.cat(parts)[inverse]


def varlen_attention_torch(q, k, v, offsets, scale):
    """Softmax attention per segment with one SDPA call per length bucket."""
    parts, positions = [], []
    for index, valid in length_buckets(offsets):
        qb, kb, vb = (x[index].transpose(1, 2) for x in (q, k, v))  # (B, H, L, D)
        out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=valid[:, None, None, :], scale=scale)
        parts.append(out.transpose(1, 2)[valid])
        positions.append(index[valid])
    return _restore_order(parts, positions, q)


def set_attention_torch(q, k, v, set_index, ignore, scale):
    """Gathered sets (S, tau) through one SDPA call, written back from each voxel's first slot."""
    n, heads, dim = q.shape
    has_key = (~ignore).any(1)
    attend = ~(ignore & has_key[:, None])  # a set without keys attends to all, then is zeroed
    qs, ks, vs = (x[set_index].transpose(1, 2) for x in (q, k, v))  # (S, H, tau, D)
    out = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=attend[:, None, None, :], scale=scale)
    out = (out * has_key[:, None, None, None].to(out.dtype)).transpose(1, 2).reshape(-1, heads, dim)
    flat = set_index.reshape(-1)
    writer = writer_slots(flat, n)
    return q.new_zeros((n, heads, dim)).index_copy(0, flat[writer], out[writer])


def linear_attention_torch(q, k, v, offsets, feature_map, eps):
    """Linear attention per segment: per bucket, the (D x D) states of all its segments in one bmm."""
    phi = feature_map_fn(feature_map)
    dtype = torch.float32 if q.dtype in (torch.bfloat16, torch.float16) else q.dtype
    parts, positions = [], []
    for index, valid in length_buckets(offsets, steps_per_octave=2):
        keep = valid[:, :, None, None].to(dtype)
        fq = phi(q[index].to(dtype)).transpose(1, 2)  # (B, H, L, D)
        fk = (phi(k[index].to(dtype)) * keep).transpose(1, 2)  # padded keys contribute nothing
        vb = v[index].to(dtype).transpose(1, 2)
        state = fk.transpose(-1, -2) @ vb  # (B, H, D, D)
        z = fk.sum(2, keepdim=True)  # (B, H, 1, D)
        out = (fq @ state) / ((fq * z).sum(-1, keepdim=True) + eps)
        parts.append(out.transpose(1, 2)[valid].to(q.dtype))
        positions.append(index[valid])
    return _restore_order(parts, positions, q)
