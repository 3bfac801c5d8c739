"""``attention`` suite: the window-attention ops next to the baselines published detectors use.

CPU: about 20k tokens, C = 128 (8 heads x 16) in fp32, with the window occupancy of 12 x 12 windows of
0.32 m pillars of the benchmark scan (window lengths repeated until N is reached). Baselines: padded
SDPA over windows (every window padded to the longest, DSVT / SST style) and the plain-PyTorch reference.

CUDA: 100k tokens, C = 128, bf16, windows of 10-150 tokens. Extra baselines where this PyTorch has them
(feature-detected): FlexAttention with a document block mask (built once, outside the timing) and
``torch.nn.attention.varlen.varlen_attn``.

Built-in backends (both devices): the default varlen backend against PyTorch's own paths offered as
backends (``sdpa_padded``, ``nested_sdpa``, ``flex``) at Waymo sizes: 24k tokens (6k quick), C = 128,
segments of DSVT's set sizes (36, 48) and FlatFormer's group sizes (69, 144); each pair is timed
``BUILTIN_RUNS`` times in alternation and the row holds the mean times, its shape the ratio's spread.
"""

from __future__ import annotations

import statistics
import sys

import torch
import torch.nn.functional as F

from voxformer.benchmark.scans import benchmark_scan
from voxformer.benchmark.timing import Row, compare
from voxformer.ops.attention import VARLEN_BACKENDS, scattered_linear_attention, set_attention, varlen_window_attention
from voxformer.ops.partition import dsvt_sets, window_partition

SUITE = "attention"
HEADS, HEAD_DIM = 8, 16
PILLAR, WINDOW, EXTENT = 0.32, 12, 74.88


def scan_window_lengths(num_tokens: int) -> torch.Tensor:
    """Window lengths of 12 x 12 windows over 0.32 m pillars of the benchmark scan, repeated to ``num_tokens``."""
    points, _ = benchmark_scan()
    cells = int(round(2 * EXTENT / PILLAR))
    xy = ((points[:, :2] + EXTENT) / PILLAR).floor().long()
    xy = xy[((xy >= 0) & (xy < cells)).all(1)]
    pillars = torch.unique(xy[:, 0] * cells + xy[:, 1])
    windows = (pillars // cells // WINDOW) * cells + (pillars % cells) // WINDOW
    lengths = torch.unique(windows, return_counts=True)[1]
    repeats = -(-num_tokens // int(lengths.sum()))
    lengths = lengths.repeat(repeats)
    cut = int(torch.searchsorted(lengths.cumsum(0), torch.tensor(num_tokens)))
    lengths = lengths[: cut + 1].clone()
    lengths[-1] -= int(lengths.sum()) - num_tokens
    return lengths


def random_window_lengths(num_tokens: int, low: int = 10, high: int = 150, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high + 1, (num_tokens // low + 1,), generator=gen)
    cut = int(torch.searchsorted(lengths.cumsum(0), torch.tensor(num_tokens)))
    lengths = lengths[: cut + 1].clone()
    lengths[-1] -= int(lengths.sum()) - num_tokens
    return lengths[lengths > 0]


def padded_layout(offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window padded to the longest: (index (S, L) token rows, valid (S, L))."""
    lengths = offsets.diff()
    pos = torch.arange(int(lengths.max()), device=offsets.device)
    valid = pos[None, :] < lengths[:, None]
    return torch.where(valid, offsets[:-1, None] + pos[None, :], 0), valid


def padded_sdpa(q, k, v, index, valid):
    """The DSVT / SST baseline: gather into padded windows, SDPA with a key mask, scatter back."""
    qs, ks, vs = (x[index].transpose(1, 2) for x in (q, k, v))
    out = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=valid[:, None, None, :])
    return out.transpose(1, 2)[valid]


def window_sets(offsets: torch.Tensor, tau: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DSVT sets of ``tau`` tokens in each CSR window (:func:`voxformer.ops.dsvt_sets`): (index (S', tau),
    mask (S', tau)). Token i of window s stands at (0, 0, s, i) of a grid with one window per y row."""
    lengths = offsets.diff()
    window = torch.repeat_interleave(torch.arange(len(lengths), device=offsets.device), lengths)
    position = torch.arange(len(window), device=offsets.device) - offsets[window]
    zeros = torch.zeros_like(window)
    coords = torch.stack([zeros, zeros, window, position], dim=1)
    longest = int(lengths.max())
    partition = window_partition(coords, (1, len(lengths), longest), (1, 1, longest), batch_size=1)
    sets = dsvt_sets(partition, coords, tau, "x")
    return sets.index, sets.mask


def forward_backward(fn):
    def step():
        out = fn()
        out.float().square().sum().backward()

    return step


def _inputs(lengths: torch.Tensor, device: torch.device, dtype: torch.dtype, requires_grad: bool = False):
    n = int(lengths.sum())
    gen = torch.Generator().manual_seed(0)
    qkv = [torch.randn(n, HEADS, HEAD_DIM, generator=gen).to(device, dtype) for _ in "qkv"]
    qkv = [x.requires_grad_(requires_grad) for x in qkv]
    offsets = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)]).to(device)
    return qkv, offsets


def _flex_baseline(q, k, v, offsets):
    """Compiled FlexAttention over the whole token sequence with a same-window block mask, or None."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError:
        return None
    n = q.shape[0]
    window = torch.searchsorted(offsets[1:], torch.arange(n, device=q.device), right=True)
    block_mask = create_block_mask(lambda b, h, i, j: window[i] == window[j], 1, 1, n, n, device=q.device)
    compiled = torch.compile(flex_attention)
    qs, ks, vs = (x.transpose(0, 1)[None] for x in (q, k, v))
    return lambda: compiled(qs, ks, vs, block_mask=block_mask)


def _varlen_attn_baseline(q, k, v, offsets):
    """PyTorch's bundled varlen FlashAttention, or None where this PyTorch lacks it."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    cu = offsets.to(torch.int32)
    longest = int(offsets.diff().max())
    return lambda: varlen_attn(q, k, v, cu, cu, longest, longest)


def _optional_rows(name, shape, device, fn, baselines) -> list[Row]:
    rows = []
    for baseline_name, build in baselines:
        try:
            baseline = build()
            if baseline is not None:
                rows.append(compare(name, shape, device, fn, baseline_name, baseline))
        except Exception as error:  # a missing feature of this PyTorch / GPU must not stop the suite
            print(f"attention: skipped baseline {baseline_name}: {type(error).__name__}: {error}", file=sys.stderr)
    return rows


BUILTIN_LENGTHS = (36, 48, 69, 144)
BUILTIN_RUNS = 3


def _repeated_compare(name: str, shape: str, device, fn, baseline_name: str, baseline) -> Row:
    """Mean times of BUILTIN_RUNS alternating comparisons; the ratio's mean and spread go into the shape."""
    runs = [compare(name, shape, device, fn, baseline_name, baseline, repeat=3) for _ in range(BUILTIN_RUNS)]
    ratios = [r.ratio for r in runs]
    spread = f"ratio {statistics.mean(ratios):.2f} ± {statistics.pstdev(ratios):.2f} over {len(runs)} runs"
    time_ms, baseline_ms = (statistics.mean(getattr(r, key) for r in runs) for key in ("time_ms", "baseline_ms"))
    return Row(name, f"{shape} ({spread})", str(device), time_ms, baseline_name, baseline_ms)


def _builtin_rows_at(length: int, num_tokens: int, device: torch.device, dtype, ours: str) -> list[Row]:
    lengths = torch.full((num_tokens // length,), length)
    (q, k, v), offsets = _inputs(lengths, device, dtype)
    shape = f"N={int(lengths.sum())} H={HEADS} D={HEAD_DIM} L={length} {str(dtype).replace('torch.', '')}"
    run_backend = lambda name: lambda: varlen_window_attention(q, k, v, offsets, backend=name)
    rows = []
    for builtin in (b.name for b in VARLEN_BACKENDS if b.name not in ("triton", "torch", "reference")):
        try:
            rows.append(
                _repeated_compare(f"varlen_softmax fwd [{ours}]", shape, device, run_backend(ours),
                                  builtin, run_backend(builtin))
            )  # fmt: skip
        except Exception as error:  # a path this PyTorch / device lacks must not stop the suite
            print(f"attention: skipped backend {builtin}: {type(error).__name__}: {error}", file=sys.stderr)
    return rows


def builtin_rows(device: torch.device, quick: bool, dtype: torch.dtype, ours: str) -> list[Row]:
    """Backend ``ours`` against each built-in varlen backend, forward, at every length of BUILTIN_LENGTHS."""
    num_tokens = 6_000 if quick else 24_000
    return [row for n in BUILTIN_LENGTHS for row in _builtin_rows_at(n, num_tokens, device, dtype, ours)]


def run(device: torch.device, quick: bool, dtype: torch.dtype | None = None) -> list[Row]:
    """``dtype`` of q, k, v: default bf16 on CUDA, fp32 on the CPU."""
    device = torch.device(device)
    on_gpu = device.type == "cuda"
    num_tokens = (20_000 if quick else 100_000) if on_gpu else (2_000 if quick else 20_000)
    dtype = dtype or (torch.bfloat16 if on_gpu else torch.float32)
    lengths = random_window_lengths(num_tokens) if on_gpu else scan_window_lengths(num_tokens)
    backend = "triton" if on_gpu else "torch"
    (q, k, v), offsets = _inputs(lengths, device, dtype)
    (gq, gk, gv), _ = _inputs(lengths, device, dtype, requires_grad=True)
    index, valid = padded_layout(offsets)
    sets, set_mask = window_sets(offsets, 36)
    shape = f"N={num_tokens} H={HEADS} D={HEAD_DIM} S={len(lengths)} {str(dtype).replace('torch.', '')}"
    set_shape = f"{shape} sets={len(sets)}x36"

    varlen = lambda: varlen_window_attention(q, k, v, offsets, backend=backend)
    linear = lambda: scattered_linear_attention(q, k, v, offsets, backend=backend)
    linear_reference = lambda: scattered_linear_attention(q, k, v, offsets, backend="reference")
    rows = [
        compare(
            f"varlen_softmax fwd [{backend}]", shape, device, varlen,
            "padded SDPA", lambda: padded_sdpa(q, k, v, index, valid),
        ),
        compare(
            f"varlen_softmax fwd+bwd [{backend}]", shape, device,
            forward_backward(lambda: varlen_window_attention(gq, gk, gv, offsets, backend=backend)),
            "padded SDPA", forward_backward(lambda: padded_sdpa(gq, gk, gv, index, valid)),
        ),
        compare(f"linear fwd [{backend}]", shape, device, linear, "reference", linear_reference),
        compare(
            f"linear fwd+bwd [{backend}]", shape, device,
            forward_backward(lambda: scattered_linear_attention(gq, gk, gv, offsets, backend=backend)),
            "reference", forward_backward(lambda: scattered_linear_attention(gq, gk, gv, offsets, backend="reference")),
        ),
        compare(
            f"set_attention tau=36 fwd [{backend}]", set_shape, device,
            lambda: set_attention(q, k, v, sets, set_mask, backend=backend), f"varlen_softmax [{backend}]", varlen,
        ),
    ]  # fmt: skip
    if on_gpu:
        rows.append(compare("linear fwd [triton]", shape, device, linear, "linear [torch]",
                            lambda: scattered_linear_attention(q, k, v, offsets, backend="torch")))  # fmt: skip
        rows += _optional_rows(
            "varlen_softmax fwd [triton]", shape, device, varlen,
            [("FlexAttention block mask", lambda: _flex_baseline(q, k, v, offsets)),
             ("torch varlen_attn", lambda: _varlen_attn_baseline(q, k, v, offsets))],
        )  # fmt: skip
    return rows + builtin_rows(device, quick, dtype, backend)
