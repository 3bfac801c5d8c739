"""serialize: bit-level Morton definition, Hilbert locality and bijectivity, batch bits, 20-bit grids."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops import serialize


def cube(bits, batch=0):
    side = range(1 << bits)
    return torch.tensor([[batch, z, y, x] for z, y, x in itertools.product(side, side, side)], dtype=torch.int32)


def morton_by_loop(b, z, y, x, bits):
    code = 0
    for level in range(bits):
        code |= ((x >> level) & 1) << (3 * level)
        code |= ((y >> level) & 1) << (3 * level + 1)
        code |= ((z >> level) & 1) << (3 * level + 2)
    return (b << (3 * bits)) | code


@pytest.mark.parametrize("curve", ["z", "hilbert"])
@pytest.mark.parametrize("bits", [1, 2, 3])
def test_bijective_on_a_full_cube(curve, bits):
    codes = serialize(cube(bits), curve).codes
    assert sorted(codes.tolist()) == list(range(1 << (3 * bits)))


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_hilbert_neighbours_differ_by_one_cell(bits):
    coords = cube(bits)
    walk = coords[serialize(coords, "hilbert").order]
    steps = (walk[1:, 1:] - walk[:-1, 1:]).abs().sum(dim=1)
    assert steps.tolist() == [1] * (len(coords) - 1)


def test_z_order_matches_bit_loop(rng):
    coords = torch.randint(0, 1 << 20, (200, 4), generator=rng)
    coords[:, 0] = torch.randint(0, 8, (200,), generator=rng)
    codes = serialize(coords, "z", bits=20).codes
    assert codes.tolist() == [morton_by_loop(*row, 20) for row in coords.tolist()]


@pytest.mark.parametrize("curve", ["z", "hilbert"])
def test_twenty_bit_grid_with_batch_high_bits(curve, rng):
    coords = torch.randint(0, 1 << 20, (500, 4), generator=rng)
    coords[:, 0] = torch.randint(0, 8, (500,), generator=rng)
    out = serialize(coords, curve)
    assert len(set(out.codes.tolist())) == len(torch.unique(coords, dim=0))
    assert torch.equal(out.codes >> 60, coords[:, 0])  # 20 bits per axis from the data, batch above
    ordered = coords[out.order]
    assert torch.all(ordered[1:, 0] >= ordered[:-1, 0])  # samples never interleave
    assert torch.equal(out.order[out.inverse], torch.arange(500))
    assert torch.all(out.codes[out.order][1:] >= out.codes[out.order][:-1])


def test_hilbert_visits_an_aligned_sub_cube_contiguously():
    coords = cube(2)  # the 4^3 corner of a 32^3 curve (bits=5)
    out = serialize(coords, "hilbert", bits=5)
    codes = sorted(out.codes.tolist())
    assert codes == list(range(codes[0], codes[0] + 64))
    walk = coords[out.order]
    assert (walk[1:, 1:] - walk[:-1, 1:]).abs().sum(dim=1).tolist() == [1] * 63


def test_batch_bits_that_do_not_fit_fail_clearly():
    coords = torch.tensor([[8, 0, 0, (1 << 20) - 1]])
    with pytest.raises(ValueError, match="batch index 8 needs 4 bits"):
        serialize(coords)
    with pytest.raises(ValueError, match="bits=3"):
        serialize(torch.tensor([[0, 0, 0, 9]]), bits=3)
    with pytest.raises(ValueError, match="non-negative"):
        serialize(torch.tensor([[0, -1, 0, 0]]))
    with pytest.raises(ValueError, match="curve"):
        serialize(torch.tensor([[0, 1, 0, 0]]), curve="peano")
    with pytest.raises(ValueError, match="coords"):
        serialize(torch.zeros(3, 3, dtype=torch.int32))


@pytest.mark.parametrize("curve", ["z", "hilbert"])
def test_empty_and_single(curve):
    out = serialize(torch.zeros(0, 4, dtype=torch.int32), curve)
    assert out.codes.shape == out.order.shape == out.inverse.shape == (0,)
    one = serialize(torch.tensor([[2, 0, 0, 0]], dtype=torch.int32), curve)
    assert one.order.tolist() == [0] and one.inverse.tolist() == [0] and one.codes.tolist() == [2 << 3]


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), *[st.integers(0, 40)] * 3), min_size=1, max_size=60, unique=True),
    curve=st.sampled_from(["z", "hilbert"]),
)
def test_property_distinct_voxels_get_distinct_codes(rows, curve):
    coords = torch.tensor(rows, dtype=torch.int32)
    out = serialize(coords, curve)
    assert len(set(out.codes.tolist())) == len(rows)
    assert torch.equal(out.inverse[out.order], torch.arange(len(rows)))
    batches = coords[out.order, 0]
    assert torch.all(batches[1:] >= batches[:-1])
