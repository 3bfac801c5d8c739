"""Attention ops: references against per-segment loops, every backend against the references (forward and
gradients), empty and degenerate layouts, half precision, input errors."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops.attention import (
    scattered_linear_attention,
    set_attention,
    varlen_window_attention,
)
from voxformer.ops.backends import triton_available

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NEEDS_TRITON = pytest.mark.skipif(not triton_available(), reason="triton not installed")
BACKENDS = ["reference", "torch", pytest.param("triton", marks=NEEDS_TRITON)]
FAST_BACKENDS = BACKENDS[1:]
BUILTIN_BACKENDS = ["sdpa_padded", "nested_sdpa", "flex"]  # PyTorch's own paths, varlen attention only

# (name, segment lengths): 1-token segments, empty batch entries, a multi-block segment (300 tokens > 64)
LAYOUTS = [
    ("ones", [1, 1, 1, 1]),
    ("mixed_with_empty", [0, 5, 1, 0, 37, 12, 0]),
    ("windows", [36, 41, 30, 2, 17, 64, 33]),
    ("long", [3, 300, 7]),
]


def make_inputs(lengths, heads=2, dim=24, dtype=torch.float32, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    n = sum(lengths)
    q, k, v = (torch.randn(n, heads, dim, generator=gen).to(DEVICE, dtype) for _ in range(3))
    for x in (q, k, v):
        x.requires_grad_(requires_grad)
    offsets = torch.tensor([0, *lengths], device=DEVICE).cumsum(0)
    return q, k, v, offsets


def grads(out, inputs, seed=1):
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out)
    return torch.autograd.grad((out * weight).sum(), inputs)


def close(actual, expected, atol=1e-5, rtol=1e-4):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)


# ----------------------------------------------------------------------------------------------------------------
# oracles: one segment / one set at a time, written independently of the references


def softmax_loop(q, k, v, offsets, scale):
    out = torch.zeros_like(q, dtype=torch.float64)
    for s in range(len(offsets) - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        for h in range(q.shape[1]):
            qs, ks, vs = (x[a:b, h].double() for x in (q, k, v))
            out[a:b, h] = torch.softmax(qs @ ks.T * scale, dim=-1) @ vs
    return out


def linear_loop(q, k, v, offsets, phi, eps):
    out = torch.zeros_like(q, dtype=torch.float64)
    for s in range(len(offsets) - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        for h in range(q.shape[1]):
            fq, fk, vs = phi(q[a:b, h].double()), phi(k[a:b, h].double()), v[a:b, h].double()
            out[a:b, h] = (fq @ (fk.T @ vs)) / (fq @ fk.sum(0) + eps)[:, None]
    return out


def set_loop(q, k, v, set_index, mask, scale):
    n = q.shape[0]
    out = torch.zeros_like(q, dtype=torch.float64)
    done = torch.zeros(n, dtype=torch.bool)
    for s in range(set_index.shape[0]):
        keys = set_index[s][~mask[s]]
        for slot in range(set_index.shape[1]):
            voxel = int(set_index[s, slot])
            if done[voxel]:
                continue
            done[voxel] = True
            if len(keys) == 0:
                continue
            for h in range(q.shape[1]):
                weights = torch.softmax(k[keys, h].double() @ q[voxel, h].double() * scale, dim=0)
                out[voxel, h] = weights @ v[keys, h].double()
    return out


def dsvt_like_sets(num_voxels, num_sets, tau, seed=0):
    """Sets of random voxels whose tails repeat their last real voxel (masked), plus one empty set."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(num_voxels, generator=gen)
    counts = torch.randint(1, tau + 1, (num_sets,), generator=gen)
    index = torch.empty(num_sets, tau, dtype=torch.long)
    mask = torch.zeros(num_sets, tau, dtype=torch.bool)
    used = 0
    for s, count in enumerate(counts.tolist()):
        count = min(count, num_voxels - used)
        real = perm[used : used + count] if count > 0 else perm[:1]
        used += count
        index[s, : len(real)] = real
        index[s, len(real) :] = real[-1]
        mask[s, len(real) :] = True
    mask[-1] = True  # a set with no valid key
    return index.to(DEVICE), mask.to(DEVICE)


# ----------------------------------------------------------------------------------------------------------------
# references against the loops


@pytest.mark.parametrize("name,lengths", LAYOUTS[:3])
def test_varlen_reference_matches_loop(name, lengths):
    q, k, v, offsets = make_inputs(lengths)
    out = varlen_window_attention(q, k, v, offsets, backend="reference")
    close(out.double(), softmax_loop(q, k, v, offsets, 24**-0.5))


@pytest.mark.parametrize("feature_map", ["relu", "elu"])
def test_linear_reference_matches_loop(feature_map):
    q, k, v, offsets = make_inputs([0, 5, 1, 40, 0, 9])
    phi = torch.relu if feature_map == "relu" else (lambda x: torch.nn.functional.elu(x) + 1)
    out = scattered_linear_attention(q, k, v, offsets, feature_map=feature_map, backend="reference")
    close(out.double(), linear_loop(q, k, v, offsets, phi, 1e-6))


def test_set_reference_matches_loop():
    q, k, v, _ = make_inputs([50])
    index, mask = dsvt_like_sets(50, 8, 9)
    out = set_attention(q, k, v, index, mask, backend="reference")
    close(out.double(), set_loop(q, k, v, index.cpu(), mask.cpu(), 24**-0.5))


def test_references_gradcheck_float64():
    q, k, v, offsets = make_inputs([3, 0, 1, 4], heads=1, dim=3, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([[0, 2, 2], [5, 7, 1], [4, 4, 4]], device=DEVICE)
    mask = torch.tensor([[False, False, True], [False, False, False], [False, True, True]], device=DEVICE)
    assert torch.autograd.gradcheck(lambda *x: varlen_window_attention(*x, offsets, backend="reference"), (q, k, v))
    assert torch.autograd.gradcheck(lambda *x: set_attention(*x, index, mask, backend="reference"), (q, k, v))
    for feature_map in ("relu", "elu"):
        fn = lambda *x, phi=feature_map: scattered_linear_attention(*x, offsets, feature_map=phi, backend="reference")
        assert torch.autograd.gradcheck(fn, (q, k, v))


# ----------------------------------------------------------------------------------------------------------------
# every backend against the references


@pytest.mark.parametrize("backend", FAST_BACKENDS + BUILTIN_BACKENDS)
@pytest.mark.parametrize("name,lengths", LAYOUTS)
def test_varlen_backends_match_reference(backend, name, lengths):
    q, k, v, offsets = make_inputs(lengths, requires_grad=True)
    expected = varlen_window_attention(q, k, v, offsets, backend="reference")
    actual = varlen_window_attention(q, k, v, offsets, backend=backend)
    close(actual, expected)
    for got, want in zip(grads(actual, (q, k, v)), grads(expected, (q, k, v))):
        close(got, want)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("feature_map", ["relu", "elu"])
@pytest.mark.parametrize("name,lengths", LAYOUTS + [("split", [20, 600, 0, 5])])
def test_linear_backends_match_reference(backend, feature_map, name, lengths):
    q, k, v, offsets = make_inputs(lengths, requires_grad=True)
    expected = scattered_linear_attention(q, k, v, offsets, feature_map=feature_map, backend="reference")
    actual = scattered_linear_attention(q, k, v, offsets, feature_map=feature_map, backend=backend)
    close(actual, expected)
    for got, want in zip(grads(actual, (q, k, v)), grads(expected, (q, k, v))):
        close(got, want)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("tau", [9, 36])
def test_set_backends_match_reference(backend, tau):
    q, k, v, _ = make_inputs([150], requires_grad=True)
    index, mask = dsvt_like_sets(140, 90 // tau, tau, seed=tau)  # voxels 140..149 are in no set
    expected = set_attention(q, k, v, index, mask, backend="reference")
    actual = set_attention(q, k, v, index, mask, backend=backend)
    close(actual, expected)
    assert torch.equal(actual[140:], torch.zeros_like(actual[140:]))
    for got, want in zip(grads(actual, (q, k, v)), grads(expected, (q, k, v))):
        close(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_attention_unmasked_duplicates_use_first_slot(backend):
    """A voxel in two sets (both unmasked) takes the output of its first slot in flattened order."""
    q, k, v, _ = make_inputs([6])
    index = torch.tensor([[0, 1, 2], [3, 0, 4], [5, 5, 5]], device=DEVICE)
    mask = torch.zeros(3, 3, dtype=torch.bool, device=DEVICE)
    out = set_attention(q, k, v, index, mask, backend=backend)
    first_set = varlen_window_attention(q[:3], k[:3], v[:3], torch.tensor([0, 3], device=DEVICE), backend="reference")
    close(out[:3], first_set)
    # voxel 5 fills a whole set unmasked: it attends to three copies of itself, i.e. returns its own value
    close(out[5], v[5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_long_segment_4000_tokens(backend):
    if backend == "triton" and DEVICE == "cpu":
        pytest.skip("a 4000-token segment is too slow for the Triton interpreter; 'long' covers multi-block")
    q, k, v, offsets = make_inputs([4000], heads=1, dim=16)
    expected = softmax_loop(q, k, v, offsets, 0.25)
    close(varlen_window_attention(q, k, v, offsets, backend=backend).double(), expected)
    linear = linear_loop(q, k, v, offsets, torch.relu, 1e-6)
    close(scattered_linear_attention(q, k, v, offsets, backend=backend).double(), linear, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs(backend):
    for lengths in ([], [0, 0]):
        q, k, v, offsets = make_inputs(lengths)
        for out in (
            varlen_window_attention(q, k, v, offsets, backend=backend),
            scattered_linear_attention(q, k, v, offsets, backend=backend),
        ):
            assert out.shape == (0, 2, 24) and out.dtype == q.dtype
    q, k, v, _ = make_inputs([4])
    no_sets = torch.zeros(0, 36, dtype=torch.long, device=DEVICE)
    out = set_attention(q, k, v, no_sets, torch.zeros(0, 36, dtype=torch.bool, device=DEVICE), backend=backend)
    assert torch.equal(out, torch.zeros_like(q))


# Triton's interpreter (3.9) multiplies bf16 tiles wrongly in tl.dot (a 16 x 16 product is off by ~1e10), so
# bf16 Triton runs on CUDA only; fp16 is exact in the interpreter (numpy has float16).
HALF_CASES = [
    (backend, dtype)
    for backend in ["reference", "torch", "triton"]
    for dtype in (torch.bfloat16, torch.float16)
    if backend != "triton" or torch.cuda.is_available() or dtype == torch.float16
]


def half_close(actual, expected, dtype, scale=1.0):
    """Within what fp32 accumulation allows: rounding the result to ``dtype`` costs up to half an ulp
    (eps / 2 relative) and the half-precision probabilities fed to the second product up to about as
    much again, so rtol = eps; atol = eps / 4 of the output's magnitude ``scale`` covers values near
    zero. A softmax or a sum accumulated in ``dtype`` over the 70-token segment exceeds this."""
    eps = torch.finfo(dtype).eps
    assert actual.dtype == dtype
    close(actual.float(), expected, atol=eps / 4 * scale, rtol=eps)


@pytest.mark.parametrize("backend,dtype", [pytest.param(*case, marks=NEEDS_TRITON) if case[0] == "triton" else case
                                           for case in HALF_CASES])  # fmt: skip
def test_half_precision_matches_fp32_reference(backend, dtype):
    """Half inputs, fp32 accumulation: forward and gradients against the fp32 reference on the same (rounded)
    inputs; under autocast, fp32 inputs are cast to the autocast dtype first."""
    q, k, v, offsets = make_inputs([36, 1, 0, 70, 12], dim=32, dtype=dtype, requires_grad=True)
    full = [x.detach().float().requires_grad_() for x in (q, k, v)]
    index, mask = dsvt_like_sets(119, 6, 36)
    cases = [
        (lambda *x, b: varlen_window_attention(*x, offsets, backend=b)),
        (lambda *x, b: scattered_linear_attention(*x, offsets, backend=b)),
        (lambda *x, b: set_attention(*x, index, mask, backend=b)),
    ]
    for op in cases:
        actual, expected = op(q, k, v, b=backend), op(*full, b="reference")
        half_close(actual, expected, dtype)
        for got, want in zip(grads(actual, (q, k, v)), grads(expected, full)):
            half_close(got, want, dtype, scale=4 * float(want.abs().max()))
    if backend != "triton" and dtype == torch.bfloat16:
        expected = [op(*full, b="reference").detach() for op in cases]
        with torch.autocast("cpu", dtype=dtype):
            for op, want in zip(cases, expected):
                half_close(op(*full, b=backend), want, dtype)


@pytest.mark.parametrize("backend", BUILTIN_BACKENDS)
def test_builtin_backends_empty_and_half(backend):
    for lengths in ([], [0, 0]):
        q, k, v, offsets = make_inputs(lengths)
        out = varlen_window_attention(q, k, v, offsets, backend=backend)
        assert out.shape == (0, 2, 24) and out.dtype == q.dtype
    q, k, v, offsets = make_inputs([36, 1, 0, 70, 12], dim=32, dtype=torch.bfloat16)
    expected = varlen_window_attention(*(x.float() for x in (q, k, v)), offsets, backend="reference")
    half_close(varlen_window_attention(q, k, v, offsets, backend=backend), expected, torch.bfloat16)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=8), heads=st.integers(1, 3), dim=st.integers(1, 20))
def test_torch_backend_property(lengths, heads, dim):
    q, k, v, offsets = make_inputs(lengths, heads=heads, dim=dim)
    close(
        varlen_window_attention(q, k, v, offsets, backend="torch"),
        varlen_window_attention(q, k, v, offsets, backend="reference"),
    )
    close(
        scattered_linear_attention(q, k, v, offsets, backend="torch"),
        scattered_linear_attention(q, k, v, offsets, backend="reference"),
    )


def test_triton_set_backward_is_deterministic():
    if not triton_available():
        pytest.skip("triton not installed")
    q, k, v, _ = make_inputs([40], requires_grad=True)
    index, mask = dsvt_like_sets(40, 5, 16)
    first = grads(set_attention(q, k, v, index, mask, backend="triton"), (q, k, v))
    second = grads(set_attention(q, k, v, index, mask, backend="triton"), (q, k, v))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


# ----------------------------------------------------------------------------------------------------------------
# input errors


def test_errors_name_the_problem():
    q, k, v, offsets = make_inputs([3, 2])
    with pytest.raises(ValueError, match="offsets must start at 0 and end at N"):
        varlen_window_attention(q, k, v, torch.tensor([0, 3, 4]))
    with pytest.raises(ValueError, match="non-decreasing"):
        scattered_linear_attention(q, k, v, torch.tensor([0, 4, 3, 5]))
    with pytest.raises(ValueError, match="k must have q's shape"):
        varlen_window_attention(q, k[:, :1], v, offsets)
    with pytest.raises(ValueError, match=r"q must be \(N, H, D\)"):
        varlen_window_attention(q[:, 0], k[:, 0], v[:, 0], offsets)
    with pytest.raises(ValueError, match="feature_map"):
        scattered_linear_attention(q, k, v, offsets, feature_map="softmax")
    with pytest.raises(ValueError, match="set_index values"):
        set_attention(q, k, v, torch.tensor([[0, 5]]), None)
    with pytest.raises(ValueError, match="key_padding_mask"):
        set_attention(q, k, v, torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
    if triton_available():
        with pytest.raises(ValueError, match="float64"):
            varlen_window_attention(q.double(), k.double(), v.double(), offsets, backend="triton")
