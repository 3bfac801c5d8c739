"""``rpe`` suite: :func:`voxformer.ops.rpe_window_attention` (SphereFormer's radial-window attention) next to
its reference and a per-pair implementation in the style of SphereFormer's sptr library.

Input: the benchmark scan (:func:`voxformer.benchmark.scans.benchmark_scan`, KITTI 000000 when present) in
0.1 m voxels (point means), radial windows of (4°, 4°, 80 m) (SphereFormer's level-2 angles; windows of
up to a few hundred voxels), positions quantised to 24 bins per window, tables of L = 48 rows on (θ, β,
range split). CPU: whole windows up to 10k voxels (2k quick), H = 2, D = 16, fp32; CUDA: the whole scan,
H = 4, D = 16, bf16 for ours (the per-pair baseline is fp32-only, like sptr).

Per-pair baseline ("sptr-style"): enumerate every (query, key) pair of every window, gather the three
tables' rows per pair, scatter softmax over the pairs of each query (scatter amax / index_add), as sptr
does with its CUDA kernels and torch_scatter; memory grows with Σ n_w².

Each pair (ours, baseline) is timed ``RUNS`` times in alternation; rows hold the mean times, and the shape
column the spreads (standard deviation) and the peak memory of one call of each above what was allocated
before it (CUDA: the allocator's peak; CPU: the running sum of the allocations and frees the PyTorch
profiler records, in time order).
"""

from __future__ import annotations

import itertools
import statistics
import time

import torch

from voxformer import ops
from voxformer.benchmark.scans import benchmark_scan
from voxformer.benchmark.timing import Row
from voxformer.ops.rpe_attention import pair_bins

SUITE = "rpe"
VOXEL = 0.1
WINDOW = (4.0, 4.0, 80.0)
BINS, TABLE_LENGTH = 24, 48
HEAD_DIM = 16
RUNS = 5


def radial_scene(device: torch.device, max_tokens: int | None) -> dict:
    """Voxel means of the benchmark scan sorted by radial window: xyz, offsets, positions, ranges."""
    points, source = benchmark_scan()
    xyz = points[:, :3].double()
    _, inverse = torch.unique(torch.floor(xyz / VOXEL).long(), dim=0, return_inverse=True)
    counts = torch.bincount(inverse)
    centres = torch.zeros(len(counts), 3, dtype=torch.float64).index_add_(0, inverse, xyz) / counts[:, None]
    centres = centres.float()
    part = ops.radial_window_partition(centres, torch.zeros(len(centres), dtype=torch.long), WINDOW)
    offsets = part.offsets
    if max_tokens is not None:  # whole windows only
        offsets = offsets[: int(torch.searchsorted(offsets, torch.tensor(max_tokens), right=True))]
    order = part.order[: int(offsets[-1])]
    sphere = ops.spherical_coordinates(centres[order])
    positions = ops.window_positions(sphere[:, :2], WINDOW[:2], (0.0, 0.0), bins=BINS)
    return {
        "offsets": offsets.to(device),
        "positions": positions.to(device),
        "ranges": sphere[:, 2].contiguous().to(device),
        "source": source,
    }


def pairwise_rpe(q, k, v, offsets, positions, ranges, table_q, table_k, table_v, scale, unit):
    """The sptr-style baseline: every pair of every window materialised, softmax scattered over pairs."""
    lengths = offsets.diff()
    token_window = torch.repeat_interleave(torch.arange(len(lengths), device=q.device), lengths)
    query = torch.repeat_interleave(torch.arange(q.shape[0], device=q.device), lengths[token_window])
    first_pair = torch.cumsum(lengths[token_window], 0) - lengths[token_window]
    rank = torch.arange(len(query), device=q.device) - first_pair[query]
    key = offsets[token_window[query]] + rank  # pair p = (query[p], key[p]), all pairs of each window
    bins = pair_bins(positions[query], positions[key], ranges[query], ranges[key], table_q.shape[1], unit)
    axes = torch.arange(table_q.shape[0], device=q.device)
    rel_q, rel_k, rel_v = (t[axes, bins].sum(1) for t in (table_q, table_k, table_v))  # (P, H, D)
    qs = q[query] * scale
    logits = (qs * (k[key] + rel_q)).sum(-1) + (k[key] * rel_k).sum(-1)  # (P, H)
    peak = logits.new_full((q.shape[0], q.shape[1]), float("-inf")).scatter_reduce(
        0, query[:, None].expand_as(logits), logits, reduce="amax"
    )
    weights = (logits - peak[query]).exp()
    total = torch.zeros_like(peak).index_add(0, query, weights)
    alpha = weights / total[query]
    return torch.zeros_like(q).index_add(0, query, alpha[..., None] * (v[key] + rel_v))


def _peak_mb(fn, device: torch.device) -> float:
    """Extra peak memory of one call of ``fn`` in MB (see the module docstring)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    return max(itertools.accumulate((e.self_cpu_memory_usage for e in events), initial=0)) / 2**20


def _alternate(fn, baseline, device: torch.device, runs: int) -> tuple[list[float], list[float]]:
    """Times (ms) of ``fn`` and ``baseline``, ``runs`` each, in alternation after one warm-up call each."""
    fn(), baseline()
    times, base_times = [], []
    for _ in range(runs):
        for f, out in ((fn, times), (baseline, base_times)):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            f()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            out.append((time.perf_counter() - start) * 1e3)
    return times, base_times


def _row(name, shape, device, fn, baseline_name, baseline, runs) -> Row:
    times, base_times = _alternate(fn, baseline, device, runs)
    memory, base_memory = _peak_mb(fn, device), _peak_mb(baseline, device)
    spread = lambda x: statistics.stdev(x) if len(x) > 1 else 0.0  # noqa: E731
    detail = f"{shape}; ± {spread(times):.1f} / {spread(base_times):.1f} ms; peak {memory:.0f} / {base_memory:.0f} MB"
    return Row(name, detail, str(device), statistics.fmean(times), baseline_name, statistics.fmean(base_times))


def _forward_backward(fn, leaves):
    def run():
        out = fn()
        out.float().sum().backward()
        for x in leaves:
            x.grad = None

    return run


def run(device: torch.device, quick: bool, dtype: torch.dtype | None = None) -> list[Row]:
    """``dtype`` of q, k, v and the tables for ours: default bf16 on CUDA, fp32 on the CPU."""
    device = torch.device(device)
    on_gpu = device.type == "cuda"
    dtype = dtype or (torch.bfloat16 if on_gpu else torch.float32)
    heads = 4 if on_gpu else 2
    scene = radial_scene(device, None if on_gpu else (2_000 if quick else 10_000))
    offsets, positions, ranges = scene["offsets"], scene["positions"], scene["ranges"]
    n = int(offsets[-1])
    g = torch.Generator().manual_seed(0)
    make = lambda *shape, std=1.0: (torch.randn(*shape, generator=g) * std).to(device)  # noqa: E731
    fp32 = [make(n, heads, HEAD_DIM) for _ in range(3)] + [make(3, TABLE_LENGTH, heads, HEAD_DIM, std=0.02)
                                                             for _ in range(3)]  # fmt: skip
    ours_inputs = [x.to(dtype).requires_grad_() for x in fp32]
    base_inputs = [x.clone().requires_grad_() for x in fp32]
    backend = "triton" if on_gpu else "torch"
    lengths = offsets.diff().float()
    shape = (
        f"N={n} S={len(lengths)} max {int(lengths.max())} mean {lengths.mean():.0f} H={heads} D={HEAD_DIM} "
        f"L={TABLE_LENGTH} {str(dtype).replace('torch.', '')} ({scene['source']}, {VOXEL} m, {WINDOW})"
    )

    def call(inputs, which):
        q, k, v, tq, tk, tv = inputs
        if which == "pairs":
            scale = HEAD_DIM**-0.5
            return pairwise_rpe(q, k, v, offsets, positions, ranges, tq, tk, tv, scale, ops.rpe_attention.RANGE_UNIT)
        return ops.rpe_window_attention(q, k, v, offsets, positions, tq, tk, tv, ranges=ranges, backend=which)

    runs = 2 if quick else RUNS
    rows = []
    with torch.no_grad():
        ours = lambda: call(ours_inputs, backend)  # noqa: E731
        rows.append(_row(f"rpe fwd [{backend}]", shape, device, ours, "sptr-style pairs",
                         lambda: call(base_inputs, "pairs"), runs))  # fmt: skip
        rows.append(_row(f"rpe fwd [{backend}]", shape, device, ours, "reference",
                         lambda: call(base_inputs, "reference"), runs))  # fmt: skip
    ours_fb = _forward_backward(lambda: call(ours_inputs, backend), ours_inputs)
    rows.append(_row(f"rpe fwd+bwd [{backend}]", shape, device, ours_fb, "sptr-style pairs",
                     _forward_backward(lambda: call(base_inputs, "pairs"), base_inputs), runs))  # fmt: skip
    rows.append(_row(f"rpe fwd+bwd [{backend}]", shape, device, ours_fb, "reference",
                     _forward_backward(lambda: call(base_inputs, "reference"), base_inputs), runs))  # fmt: skip
    if on_gpu:
        torch_fb = _forward_backward(lambda: call(ours_inputs, "torch"), ours_inputs)
        rows.append(_row("rpe fwd+bwd [triton]", shape, device, ours_fb, "rpe [torch]", torch_fb, runs))
    return rows
