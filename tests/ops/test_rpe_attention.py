"""Contextual-RPE window attention: the exponential split against its bin edges, every backend against a
per-pair Python loop (forward) and the reference (gradients), adversarial layouts, half precision, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops.backends import triton_available
from voxformer.ops.rpe_attention import exponential_split

from voxformer import ops

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NEEDS_TRITON = pytest.mark.skipif(not triton_available(), reason="triton not installed")
BACKENDS = ["reference", "torch", pytest.param("triton", marks=NEEDS_TRITON)]
DOUBLE_BACKENDS = ("reference", "torch")  # Triton takes fp32 / bf16 / fp16: it is checked in fp32


def dtype_of(backend: str) -> torch.dtype:
    return torch.float32 if backend == "triton" else torch.float64


def tolerance(backend: str) -> dict:
    return dict(atol=2e-5, rtol=2e-5) if backend == "triton" else {}


def split_edges(unit: float, count: int) -> list[float]:
    """0, a, 2a, 4a, 6a, 10a, ...: widths a, a, 2a, 2a, 4a, 4a, ... (each used twice, then doubled)."""
    edges = [0.0]
    for n in range(count - 1):
        edges.append(edges[-1] + unit * 2 ** (n // 2))
    return edges


def brute_split(diff: float, unit: float) -> int:
    edges = split_edges(unit, 64)
    n = max(i for i, e in enumerate(edges) if abs(diff) >= e)
    return n if diff >= 0 else -n - 1


def brute_attention(q, k, v, offsets, positions, ranges, tq, tk, tv, scale, unit):
    """Per query, per key, per axis: the formula with Python loops (float64)."""
    length = tq.shape[1]
    out = torch.zeros_like(q, dtype=torch.float64)
    for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        for i in range(lo, hi):
            logits, values = [], []
            for j in range(lo, hi):
                bins = [min(max(int(positions[i, a] - positions[j, a]) + (length - 1) // 2, 0), length - 1)
                        for a in range(positions.shape[1])]  # fmt: skip
                if ranges is not None:
                    split = brute_split(float(ranges[i] - ranges[j]), unit) + length // 2
                    bins.append(min(max(split, 0), length - 1))
                rq = sum(tq[a, b] for a, b in enumerate(bins))
                rk = sum(tk[a, b] for a, b in enumerate(bins))
                rv = sum(tv[a, b] for a, b in enumerate(bins))
                qi = q[i].double() * scale
                logits.append((qi * k[j]).sum(-1) + (qi * rq).sum(-1) + (k[j] * rk).sum(-1))  # (H,)
                values.append(v[j] + rv)
            alpha = torch.stack(logits).softmax(0)  # (n, H)
            out[i] = (alpha[:, :, None] * torch.stack(values)).sum(0)
    return out


def make_inputs(offsets, heads=2, dim=5, axes=3, length=7, with_ranges=True, dtype=torch.float64, seed=0):
    """Random inputs on DEVICE: positions in [0, 6), ranges in [0, 3) m, tables of std 0.5."""
    g = torch.Generator().manual_seed(seed)
    offsets = torch.tensor(offsets)
    n = int(offsets[-1])
    q, k, v = (torch.randn(n, heads, dim, generator=g, dtype=torch.float64) for _ in range(3))
    positions = torch.randint(0, 6, (n, axes), generator=g)
    ranges = (torch.rand(n, generator=g, dtype=torch.float64) * 3) if with_ranges else None
    total = axes + with_ranges
    tables = [torch.randn(total, length, heads, dim, generator=g, dtype=torch.float64) * 0.5 for _ in range(3)]
    move = lambda x: None if x is None else x.to(DEVICE, dtype if x.is_floating_point() else x.dtype)  # noqa: E731
    return (*(move(x) for x in (q, k, v, offsets, positions, ranges)), [move(t) for t in tables])


def run(inputs, backend, unit=0.05, scale=None):
    q, k, v, offsets, positions, ranges, (tq, tk, tv) = inputs
    return ops.rpe_window_attention(
        q, k, v, offsets, positions, tq, tk, tv, ranges=ranges, range_unit=unit, scale=scale, backend=backend
    )


def test_exponential_split_edges():
    unit = 1 / 64  # a power of two: every edge is exact, so values on an edge are tested exactly
    edges = torch.tensor(split_edges(unit, 20), dtype=torch.float64)
    assert edges[:8].div(unit).tolist() == [0, 1, 2, 4, 6, 10, 14, 22]
    n = torch.arange(20)
    assert exponential_split(edges, unit).tolist() == n.tolist()  # an edge opens its bin
    below = torch.nextafter(edges[1:], torch.zeros(()))
    assert exponential_split(below, unit).tolist() == n[:-1].tolist()  # just below it: the bin before
    assert exponential_split(-edges[1:], unit).tolist() == (-n[1:] - 1).tolist()
    assert exponential_split(-below, unit).tolist() == (-n[:-1] - 1).tolist()
    assert exponential_split(torch.tensor([-0.0, -1e-12]), unit).tolist() == [0, -1]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exponential_split_official_unit(dtype):
    unit = 0.0125
    edges = split_edges(unit, 40)
    middles = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    values = torch.tensor(middles + [-m for m in middles], dtype=dtype)
    expected = [brute_split(m, unit) for m in middles + [-m for m in middles]]
    assert exponential_split(values, unit).tolist() == expected
    far = exponential_split(torch.tensor([77.0, 78.0, -78.0], dtype=dtype), unit) + 24
    assert far.clamp(0, 47).tolist() == [47, 47, 0]  # clamping starts near 77 m


LAYOUTS = {
    "random": [0, 5, 5, 12, 13, 20],
    "one window": [0, 9],
    "one token per window": [0, 1, 2, 3, 4],
    "empty segments": [0, 0, 4, 4, 4, 9, 9],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_per_pair_loop(backend, layout):
    inputs = make_inputs(LAYOUTS[layout], seed=len(layout), dtype=dtype_of(backend))
    expected = brute_attention(*inputs[:6], *inputs[6], 1 / math.sqrt(5), 0.05)
    torch.testing.assert_close(run(inputs, backend).double(), expected, **tolerance(backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("length, axes, with_ranges", [(1, 3, True), (48, 3, True), (6, 2, False), (5, 0, True)])
def test_table_shapes(backend, length, axes, with_ranges):
    inputs = make_inputs(
        [0, 7, 16], heads=1, dim=3, axes=axes, length=length, with_ranges=with_ranges, dtype=dtype_of(backend)
    )
    expected = brute_attention(*inputs[:6], *inputs[6], 0.7, 0.05)
    torch.testing.assert_close(run(inputs, backend, scale=0.7).double(), expected, **tolerance(backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_official_bins_with_clamping(backend):
    """L = 48, a = 0.0125 m, ranges over 0-100 m: range bins clamp at both ends (|Δr| > ~77 m), positions
    of 24 bins reach both ends of the 48 rows."""
    q, k, v, offsets, _, _, tables = make_inputs([0, 6, 18], heads=1, dim=4, axes=2, length=48,
                                                 dtype=dtype_of(backend), seed=9)  # fmt: skip
    g = torch.Generator().manual_seed(9)
    positions = torch.randint(0, 24, (18, 2), generator=g).to(DEVICE)
    ranges = (torch.rand(18, generator=g, dtype=torch.float64) * 100).to(DEVICE, dtype_of(backend))
    ranges[6], ranges[7] = 0.5, 99.0
    inputs = (q, k, v, offsets, positions, ranges, tables)
    expected = brute_attention(*inputs[:6], *tables, 0.5, 0.0125)
    torch.testing.assert_close(run(inputs, backend, unit=0.0125, scale=0.5).double(), expected, **tolerance(backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_tokens(backend):
    inputs = make_inputs([0, 0, 0], dtype=dtype_of(backend))
    out = run(inputs, backend)
    assert out.shape == (0, 2, 5)
    inputs[0].requires_grad_(True)
    run(inputs, backend).sum().backward()
    assert inputs[0].grad.shape == (0, 2, 5)


def test_all_tokens_one_window_torch_matches_reference():
    inputs = make_inputs([0, 150], heads=2, dim=8, length=48, seed=3)
    torch.testing.assert_close(run(inputs, "torch"), run(inputs, "reference"))


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=5),
    heads=st.integers(1, 2),
    dim=st.integers(1, 6),
    axes=st.integers(0, 3),
    length=st.integers(1, 12),
    with_ranges=st.booleans(),
)
def test_torch_backend_property(lengths, heads, dim, axes, length, with_ranges):
    offsets = torch.tensor([0, *lengths]).cumsum(0).tolist()
    inputs = make_inputs(offsets, heads=heads, dim=dim, axes=axes, length=length, with_ranges=with_ranges)
    torch.testing.assert_close(run(inputs, "torch"), run(inputs, "reference"))


def test_torch_chunks_match_reference(monkeypatch):
    """One window per chunk (the pair budget bounds a chunk's memory) gives the same result."""
    from voxformer.ops.cpu import attention_rpe

    inputs = make_inputs(LAYOUTS["empty segments"], seed=4)
    expected = run(inputs, "reference")
    monkeypatch.setattr(attention_rpe, "PAIR_BUDGET", 1)
    torch.testing.assert_close(run(inputs, "torch"), expected)


@pytest.mark.parametrize("backend", DOUBLE_BACKENDS)
def test_gradcheck_float64(backend):
    q, k, v, offsets, positions, ranges, tables = make_inputs([0, 3, 3, 7], heads=1, dim=3, length=4)
    leaves = [x.requires_grad_(True) for x in (q, k, v, *tables)]

    def fn(q, k, v, tq, tk, tv):
        return ops.rpe_window_attention(q, k, v, offsets, positions, tq, tk, tv, ranges, 0.05, backend=backend)

    assert torch.autograd.gradcheck(fn, leaves)


def gradients(inputs, backend, dtype=None):
    q, k, v, offsets, positions, ranges, tables = inputs
    leaves = [x.detach().to(dtype or x.dtype).requires_grad_(True) for x in (q, k, v, *tables)]
    out = ops.rpe_window_attention(*leaves[:3], offsets, positions, *leaves[3:], ranges=ranges, range_unit=0.05,
                                   backend=backend)  # fmt: skip
    weights = torch.linspace(-1, 1, out.numel(), device=out.device).view(out.shape)
    (out.float() * weights.float()).sum().backward()
    return out, [x.grad for x in leaves]


# windows longer than a Triton block (16 or 32 tokens), several windows in one block, empty ones
GRADIENT_LAYOUTS = {"mixed": [0, 0, 3, 40, 41, 41, 50], "long": [0, 70], "empty segments": LAYOUTS["empty segments"]}


@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("layout", GRADIENT_LAYOUTS)
def test_gradients_match_reference(backend, layout):
    """Forward and gradients of q, k, v and the three tables against the float64 reference."""
    inputs = make_inputs(GRADIENT_LAYOUTS[layout], dim=4, length=9, seed=5)
    out_ref, grads_ref = gradients(inputs, "reference")
    out, grads = gradients(inputs, backend, dtype=dtype_of(backend))
    torch.testing.assert_close(out.double(), out_ref, **tolerance(backend))
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g.double(), g_ref, **(dict(atol=1e-4, rtol=1e-4) if backend == "triton" else {}))


@NEEDS_TRITON
def test_triton_backward_is_deterministic():
    inputs = make_inputs(LAYOUTS["random"], dim=4, length=5, dtype=torch.float32, seed=7)
    first, second = (gradients(inputs, "triton")[1] for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


# Triton's interpreter multiplies bf16 tiles wrongly in tl.dot (see test_attention.py): bf16 Triton on CUDA only
HALF_CASES = [
    pytest.param(backend, dtype, marks=NEEDS_TRITON) if backend == "triton" else (backend, dtype)
    for backend in ("reference", "torch", "triton")
    for dtype in (torch.bfloat16, torch.float16)
    if backend != "triton" or DEVICE == "cuda" or dtype == torch.float16
]


@pytest.mark.parametrize("backend, dtype", HALF_CASES)
def test_half_precision(backend, dtype):
    """Half inputs accumulate in fp32: within a few ulps of the fp32 reference on the same rounded inputs."""
    inputs = make_inputs(GRADIENT_LAYOUTS["mixed"], dim=8, length=9, dtype=dtype, seed=6)
    q, k, v, offsets, positions, ranges, tables = inputs
    full = (q.float(), k.float(), v.float(), offsets, positions, ranges, [t.float() for t in tables])
    out = run(inputs, backend)
    assert out.dtype == dtype
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(out.float(), run(full, "reference"), atol=4 * eps, rtol=4 * eps)


def test_autocast_casts_inputs_and_tables():
    inputs = make_inputs(LAYOUTS["random"], dim=8, dtype=torch.float32)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        out = run(inputs, "torch")
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), run(inputs, "reference"), atol=0.05, rtol=0.05)


def test_input_errors():
    q, k, v, offsets, positions, ranges, (tq, tk, tv) = make_inputs(LAYOUTS["random"])
    with pytest.raises(ValueError, match="table_q"):
        ops.rpe_window_attention(q, k, v, offsets, positions, tq[:3], tk, tv, ranges=ranges)
    with pytest.raises(ValueError, match="positions"):
        ops.rpe_window_attention(q, k, v, offsets, positions.float(), tq, tk, tv, ranges=ranges)
    with pytest.raises(ValueError, match="ranges"):
        ops.rpe_window_attention(q, k, v, offsets, positions, tq, tk, tv, ranges=ranges[:3])
    with pytest.raises(ValueError, match="offsets"):
        ops.rpe_window_attention(q, k, v, offsets[None], positions, tq, tk, tv, ranges=ranges)
    with pytest.raises(ValueError, match="dtype"):
        ops.rpe_window_attention(q, k, v, offsets, positions, tq.float(), tk, tv, ranges=ranges)
