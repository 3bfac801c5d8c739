"""segment_reduce: against a per-segment loop, both index forms, gradients (gradcheck, argmax ties)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops import segment_reduce


def loop_reduce(values, index, num_segments, reduce):
    """Per-segment Python loop: the obvious definition."""
    out = torch.zeros(num_segments, values.shape[1], dtype=values.dtype)
    for s in range(num_segments):
        rows = values[index == s]
        if len(rows):
            out[s] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values}[reduce]
    return out


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_index_form_matches_loop(reduce, rng):
    values = torch.randn(50, 3, generator=rng, dtype=torch.float64)
    index = torch.randint(-1, 7, (50,), generator=rng)  # -1 rows ignored; segment 7, 8 empty
    out = segment_reduce(values, index, num_segments=9, reduce=reduce)
    torch.testing.assert_close(out, loop_reduce(values, index, 9, reduce))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_offsets_form_matches_index_form(reduce, rng):
    values = torch.randn(20, 4, generator=rng)
    offsets = torch.tensor([2, 5, 5, 11, 18])  # rows 0-1 and 18-19 are outside every segment
    index = torch.full((20,), -1)
    for s in range(4):
        index[offsets[s] : offsets[s + 1]] = s
    out = segment_reduce(values, offsets=offsets, reduce=reduce)
    torch.testing.assert_close(out, loop_reduce(values, index, 4, reduce))
    assert out[1].abs().sum() == 0  # the empty segment


def test_num_segments_defaults_to_max_index_plus_one():
    out = segment_reduce(torch.ones(3, 2), torch.tensor([0, 4, -1]))
    assert out.shape == (5, 2) and out[:, 0].tolist() == [1, 0, 0, 0, 1]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_gradcheck_float64(reduce, rng):
    values = torch.randn(12, 3, generator=rng, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([0, 0, 1, -1, 2, 2, 2, 4, 4, 0, 1, 4])
    assert torch.autograd.gradcheck(lambda v: segment_reduce(v, index, num_segments=6, reduce=reduce), (values,))
    offsets = torch.tensor([0, 3, 3, 8, 12])
    assert torch.autograd.gradcheck(lambda v: segment_reduce(v, offsets=offsets, reduce=reduce), (values,))


def test_max_gradient_goes_to_first_argmax_on_ties():
    values = torch.tensor([[1.0, 5.0], [3.0, 5.0], [3.0, 2.0], [0.0, 7.0]], requires_grad=True)
    index = torch.tensor([0, 0, 0, 1])
    out = segment_reduce(values, index, reduce="max")
    out.backward(torch.tensor([[10.0, 20.0], [30.0, 40.0]]))
    assert out.tolist() == [[3.0, 5.0], [0.0, 7.0]]
    assert values.grad.tolist() == [[0.0, 20.0], [10.0, 0.0], [0.0, 0.0], [30.0, 40.0]]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_empty_inputs(reduce):
    out = segment_reduce(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), num_segments=2, reduce=reduce)
    assert out.shape == (2, 3) and out.abs().sum() == 0
    assert segment_reduce(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), reduce=reduce).shape == (0, 3)
    assert segment_reduce(torch.zeros(0, 3), offsets=torch.zeros(1, dtype=torch.long), reduce=reduce).shape == (0, 3)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="values"):
        segment_reduce(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="index"):
        segment_reduce(torch.zeros(3, 1), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="exactly one"):
        segment_reduce(torch.zeros(3, 1))
    with pytest.raises(ValueError, match="reduce"):
        segment_reduce(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long), reduce="min")
    with pytest.raises(ValueError, match="num_segments"):
        segment_reduce(torch.zeros(3, 1), offsets=torch.tensor([0, 3]), num_segments=4)


@settings(max_examples=30, deadline=None)
@given(
    segments=st.lists(st.integers(-1, 5), max_size=30),
    reduce=st.sampled_from(["sum", "mean", "max"]),
    seed=st.integers(0, 2**16),
)
def test_property_matches_loop(segments, reduce, seed):
    index = torch.tensor(segments, dtype=torch.long)
    values = torch.randint(-3, 4, (len(segments), 2), generator=torch.Generator().manual_seed(seed)).double()
    out = segment_reduce(values, index, num_segments=6, reduce=reduce)
    torch.testing.assert_close(out, loop_reduce(values, index, 6, reduce))
