"""Window attention over sparse voxels: softmax inside variable-length segments, softmax inside fixed-size
gathered sets (DSVT / FlatFormer), and linear attention inside segments (ScatterFormer).

Shapes: ``q``, ``k``, ``v`` are (N, H, D) = (tokens, heads, head dim), one dtype (fp32, bf16 or fp16;
half inputs are accumulated in fp32). Segment layout is CSR: tokens sorted by segment and
``offsets`` (S + 1,) with ``offsets[s]`` the first token of segment ``s``; zero-length segments are
allowed. Values of index tensors are checked on CPU; on CUDA (and while compiling or exporting) they are trusted.
Under ``torch.autocast`` the ops behave like autocast's lower-precision ops: float32 q, k, v are cast to
the autocast dtype, and the op itself runs with autocast off (its fp32 accumulation stays fp32).

Backends: ``triton`` (CUDA; fused kernels), ``torch`` (length-bucketed SDPA / bmm, the fast CPU path and
the GPU fallback) and ``reference`` (the plain-PyTorch definition below); varlen attention also has
PyTorch's own paths ``sdpa_padded``, ``nested_sdpa`` and ``flex`` (``ops/cpu/attention_builtin.py``).
Every backend has autograd.
"""

from __future__ import annotations

import math

import torch

from .backends import Backend, select

FEATURE_MAPS = ("relu", "elu")


# ----------------------------------------------------------------------------------------------------------------
# input checks and shared layout helpers


def _check_qkv(op: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 3:
        raise ValueError(f"{op}: q must be (N, H, D), got shape {tuple(q.shape)}")
    for name, x in (("k", k), ("v", v)):
        if x.shape != q.shape:
            raise ValueError(f"{op}: {name} must have q's shape {tuple(q.shape)}, got {tuple(x.shape)}")
        if x.dtype != q.dtype or x.device != q.device:
            raise ValueError(f"{op}: {name} must have q's dtype and device ({q.dtype}, {q.device})")
    if q.dtype not in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        raise ValueError(f"{op}: q, k, v must be float32, float64, bfloat16 or float16, got {q.dtype}")
    if q.shape[1] == 0 or q.shape[2] == 0:
        raise ValueError(f"{op}: need at least one head and head dim >= 1, got shape {tuple(q.shape)}")


def _check_offsets(op: str, offsets: torch.Tensor, num_tokens: int, device: torch.device) -> torch.Tensor:
    """Validate CSR ``offsets`` (S + 1,) and return them as int64."""
    if offsets.dim() != 1 or offsets.numel() < 1 or offsets.is_floating_point() or offsets.dtype == torch.bool:
        got = f"{offsets.dtype} {tuple(offsets.shape)}"
        raise ValueError(f"{op}: offsets must be a 1-D integer tensor (S + 1,), got {got}")
    if offsets.device != device:
        raise ValueError(f"{op}: offsets are on {offsets.device} but q is on {device}")
    offsets = offsets.long()
    if offsets.device.type == "cpu" and not torch.compiler.is_compiling():  # values unknown in export
        if offsets[0] != 0 or offsets[-1] != num_tokens:
            got = f"{int(offsets[0])} .. {int(offsets[-1])}"
            raise ValueError(f"{op}: offsets must start at 0 and end at N = {num_tokens}, got {got}")
        if (offsets.diff() < 0).any():
            raise ValueError(f"{op}: offsets must be non-decreasing (tokens sorted by segment)")
    return offsets


def _check_sets(op: str, set_index: torch.Tensor, mask: torch.Tensor | None, num_tokens: int, device) -> torch.Tensor:
    """Validate ``set_index`` (S, tau) and ``key_padding_mask``; return the mask as bool (all False if None)."""
    if set_index.dim() != 2 or set_index.is_floating_point() or set_index.dtype == torch.bool:
        raise ValueError(f"{op}: set_index must be an integer tensor (num_sets, tau), got {tuple(set_index.shape)}")
    if set_index.device != device:
        raise ValueError(f"{op}: set_index is on {set_index.device} but q is on {device}")
    if mask is None:
        mask = torch.zeros(set_index.shape, dtype=torch.bool, device=device)
    if mask.shape != set_index.shape or mask.dtype != torch.bool:
        raise ValueError(
            f"{op}: key_padding_mask must be bool with set_index's shape {tuple(set_index.shape)}, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    checkable = set_index.device.type == "cpu" and not torch.compiler.is_compiling()  # values unknown in export
    if checkable and set_index.numel() and (set_index.min() < 0 or set_index.max() >= num_tokens):
        raise ValueError(f"{op}: set_index values must lie in [0, N = {num_tokens})")
    return mask


def default_scale(head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim)


def segment_ids(offsets: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(N,) int64 segment of every token for CSR ``offsets`` (no host sync). While exporting to ONNX, which has
    no ``searchsorted``: the number of segment ends at or before each token, by a scatter-add and a prefix sum."""
    if torch.onnx.is_in_onnx_export():
        ends = torch.zeros(num_tokens + 1, dtype=torch.long, device=offsets.device)
        ends = ends.scatter_add(0, offsets[1:].long(), torch.ones_like(offsets[1:], dtype=torch.long))
        return ends.cumsum(0)[:num_tokens]
    tokens = torch.arange(num_tokens, device=offsets.device)
    return torch.searchsorted(offsets[1:].contiguous(), tokens, right=True)


def writer_slots(flat_index: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(R,) bool: True for the first slot (in flattened set order) that holds each voxel.

    Set attention writes a voxel's output from that slot only, so duplicated voxels never race.
    """
    slots = torch.arange(flat_index.numel(), device=flat_index.device)
    first = torch.full((num_tokens,), flat_index.numel(), dtype=torch.long, device=flat_index.device)
    first = first.scatter_reduce(0, flat_index, slots, reduce="amin")
    return first[flat_index] == slots


def feature_map_fn(name: str):
    """The positive feature map phi of linear attention: ``relu`` or ``elu`` (= elu(x) + 1)."""
    if name == "relu":
        return torch.relu
    return lambda x: torch.nn.functional.elu(x) + 1.0


def _autocast_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """q, k, v in the autocast dtype when autocast is on for their device and they are float32."""
    device_type = q.device.type
    if not torch.is_autocast_enabled(device_type):
        return q, k, v
    dtype = torch.get_autocast_dtype(device_type)
    return tuple(x.to(dtype) if x.dtype == torch.float32 else x for x in (q, k, v))


def _run(fn, device: torch.device, *args):
    """``fn(*args)`` with autocast off, so that its fp32 accumulation is not cast down."""
    with torch.autocast(device.type, enabled=False):
        return fn(*args)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.bfloat16, torch.float16) else x.dtype


# ----------------------------------------------------------------------------------------------------------------
# references (plain PyTorch, any device; the definition of correct)


def varlen_attention_reference(q, k, v, offsets, scale):
    """Softmax attention inside each segment, by padding every non-empty segment to the longest one."""
    n, heads, dim = q.shape
    dtype = _compute_dtype(q)
    lengths = offsets.diff()
    starts, lengths = offsets[:-1][lengths > 0], lengths[lengths > 0]
    if n == 0:
        return q.new_zeros(q.shape)
    pos = torch.arange(int(lengths.max()), device=q.device)
    valid = pos[None, :] < lengths[:, None]  # (S', L)
    index = torch.where(valid, starts[:, None] + pos[None, :], 0)
    qs, ks, vs = (x.to(dtype)[index] for x in (q, k, v))  # (S', L, H, D)
    scores = torch.einsum("slhd,smhd->shlm", qs, ks) * scale
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    out = torch.einsum("shlm,smhd->slhd", scores.softmax(-1), vs)
    return out[valid].to(q.dtype)  # segments are contiguous and sorted, so this is token order


def set_attention_reference(q, k, v, set_index, ignore, scale):
    """Softmax attention inside each gathered set; keys with ``ignore`` True take no part; a set with no
    valid key gives zeros. Each voxel receives the output of its first slot; voxels in no set get zeros."""
    n, heads, dim = q.shape
    dtype = _compute_dtype(q)
    has_key = (~ignore).any(1)
    ignore = ignore & has_key[:, None]  # a set without keys attends to all, then is zeroed (no NaN)
    qs, ks, vs = (x.to(dtype)[set_index] for x in (q, k, v))  # (S, tau, H, D)
    scores = torch.einsum("slhd,smhd->shlm", qs, ks) * scale
    scores = scores.masked_fill(ignore[:, None, None, :], float("-inf"))
    out = torch.einsum("shlm,smhd->slhd", scores.softmax(-1), vs) * has_key[:, None, None, None]
    flat = set_index.reshape(-1)
    writer = writer_slots(flat, n)
    result = q.new_zeros((n, heads, dim), dtype=dtype)
    return result.index_copy(0, flat[writer], out.reshape(-1, heads, dim)[writer]).to(q.dtype)


def _segment_sum(values: torch.Tensor, seg: torch.Tensor, num_segments: int) -> torch.Tensor:
    """(S, ...) sums of ``values`` (N, ...) per segment ``seg`` (N,) by ``index_add``; while exporting to ONNX by
    an element scatter-add (ONNX's ``index_add`` overwrites repeated rows)."""
    out = values.new_zeros(num_segments, *values.shape[1:])
    if torch.onnx.is_in_onnx_export():
        return out.scatter_add(0, seg.view(-1, *[1] * (values.dim() - 1)).expand(values.shape), values)
    return out.index_add(0, seg, values)


def linear_attention_reference(q, k, v, offsets, feature_map, eps):
    """Linear attention per segment and head: KV = sum phi(k)^T v, z = sum phi(k),
    y = phi(q) KV / (phi(q) . z + eps), with the sums done by ``index_add`` of per-token outer products
    (element scatters while exporting to ONNX, whose ``index_add`` overwrites repeated rows)."""
    n, heads, dim = q.shape
    dtype = _compute_dtype(q)
    num_segments = offsets.shape[0] - 1  # not numel(): the export keeps shapes dynamic
    seg = segment_ids(offsets, n)
    phi = feature_map_fn(feature_map)
    fq, fk, vv = phi(q.to(dtype)), phi(k.to(dtype)), v.to(dtype)
    kv = _segment_sum(fk[..., :, None] * vv[..., None, :], seg, num_segments)
    z = _segment_sum(fk, seg, num_segments)
    numerator = torch.einsum("nhd,nhde->nhe", fq, kv[seg])
    denominator = (fq * z[seg]).sum(-1, keepdim=True) + eps
    return (numerator / denominator).to(q.dtype)


# ----------------------------------------------------------------------------------------------------------------
# backends (fast ones imported lazily so that ``import voxformer.ops`` stays light)


def _varlen_torch(*args):
    from .cpu.attention import varlen_attention_torch

    return varlen_attention_torch(*args)


def _varlen_triton(*args):
    from .triton.attention_softmax import varlen_attention_triton

    return varlen_attention_triton(*args)


def _set_torch(*args):
    from .cpu.attention import set_attention_torch

    return set_attention_torch(*args)


def _set_triton(*args):
    from .triton.attention_softmax import set_attention_triton

    return set_attention_triton(*args)


def _linear_torch(*args):
    from .cpu.attention import linear_attention_torch

    return linear_attention_torch(*args)


def _builtin(name: str):
    def run(*args):
        from .cpu import attention_builtin

        return getattr(attention_builtin, f"varlen_attention_{name}")(*args)

    return run


def _linear_triton(*args):
    from .triton.attention_linear import linear_attention_triton

    return linear_attention_triton(*args)


TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
VARLEN_BACKENDS = (
    Backend.triton(_varlen_triton, dtypes=TRITON_DTYPES),
    Backend.vectorized(_varlen_torch),
    Backend.builtin("sdpa_padded", _builtin("sdpa_padded")),
    Backend.builtin("nested_sdpa", _builtin("nested")),
    Backend.builtin("flex", _builtin("flex")),
    Backend.reference(varlen_attention_reference),
)
SET_BACKENDS = (
    Backend.triton(_set_triton, dtypes=TRITON_DTYPES),
    Backend.vectorized(_set_torch),
    Backend.reference(set_attention_reference),
)
LINEAR_BACKENDS = (
    Backend.triton(_linear_triton, dtypes=TRITON_DTYPES),
    Backend.vectorized(_linear_torch),
    Backend.reference(linear_attention_reference),
)


# ----------------------------------------------------------------------------------------------------------------
# public API


def varlen_window_attention(q, k, v, offsets, scale=None, backend=None):
    """Softmax attention inside each CSR segment (no padding).

    q, k, v: (N, H, D) sorted by segment; offsets: (S + 1,) int. Returns (N, H, D) in q's dtype;
    ``scale`` defaults to 1/sqrt(D).
    """
    op = "varlen_window_attention"
    q, k, v = _autocast_inputs(q, k, v)
    _check_qkv(op, q, k, v)
    offsets = _check_offsets(op, offsets, q.shape[0], q.device)
    scale = default_scale(q.shape[2]) if scale is None else float(scale)
    fn = select(op, VARLEN_BACKENDS, q.device, backend, dtype=q.dtype)
    return _run(fn, q.device, q, k, v, offsets, scale)


def set_attention(q, k, v, set_index, key_padding_mask=None, scale=None, backend=None):
    """DSVT set attention on per-voxel q, k, v (N, H, D).

    ``set_index`` (S, tau) holds voxel rows; ``key_padding_mask`` (S, tau) bool is True where a slot must
    not be attended to (a repeated filler). Attention runs inside each set; every voxel gets the output
    of the first slot holding it (duplicates are identical when fillers are masked); voxels in no set and
    sets with no valid key give zeros. Returns (N, H, D).
    """
    op = "set_attention"
    q, k, v = _autocast_inputs(q, k, v)
    _check_qkv(op, q, k, v)
    ignore = _check_sets(op, set_index, key_padding_mask, q.shape[0], q.device)
    scale = default_scale(q.shape[2]) if scale is None else float(scale)
    fn = select(op, SET_BACKENDS, q.device, backend, dtype=q.dtype)
    return _run(fn, q.device, q, k, v, set_index.long(), ignore, scale)


def scattered_linear_attention(q, k, v, offsets, feature_map="relu", eps=1e-6, backend=None):
    """ScatterFormer linear attention inside each CSR segment, per head:
    KV = sum_j phi(k_j)^T v_j (D x D), z = sum_j phi(k_j), y_i = phi(q_i) KV / (phi(q_i) . z + eps).

    ``feature_map``: ``relu`` or ``elu`` (elu + 1). Returns (N, H, D).
    """
    op = "scattered_linear_attention"
    q, k, v = _autocast_inputs(q, k, v)
    _check_qkv(op, q, k, v)
    offsets = _check_offsets(op, offsets, q.shape[0], q.device)
    if feature_map not in FEATURE_MAPS:
        raise ValueError(f"{op}: feature_map must be one of {FEATURE_MAPS}, got {feature_map!r}")
    fn = select(op, LINEAR_BACKENDS, q.device, backend, dtype=q.dtype)
    return _run(fn, q.device, q, k, v, offsets, feature_map, float(eps))
