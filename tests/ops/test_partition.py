"""Window partition, DSVT sets and FlatFormer groups: every backend against plain-Python brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops.partition import dsvt_sets, flat_groups, window_partition

BACKENDS = ("reference", "torch")


def random_coords(seed: int, batch_size: int, sparse_shape, count: int, empty_sample: int | None = None):
    """``count`` distinct voxels (M, 4) int32 over ``batch_size`` samples, none in ``empty_sample``."""
    z, y, x = sparse_shape
    cells = torch.randperm(batch_size * z * y * x, generator=torch.Generator().manual_seed(seed))
    batch = cells // (z * y * x)
    if empty_sample is not None:
        cells = cells[batch != empty_sample]
    cells = cells[:count]
    rest = cells % (z * y * x)
    coords = torch.stack([cells // (z * y * x), rest // (y * x), rest // x % y, rest % x], 1)
    return coords.int()


@st.composite
def voxel_scenes(draw, max_extent: int = 14):
    batch_size = draw(st.integers(1, 3))
    sparse_shape = (draw(st.integers(1, 4)), draw(st.integers(1, max_extent)), draw(st.integers(1, max_extent)))
    cells = batch_size * math.prod(sparse_shape)
    count = draw(st.integers(1, min(cells, 150)))
    empty_sample = draw(st.one_of(st.none(), st.integers(0, batch_size - 1))) if batch_size > 1 else None
    coords = random_coords(draw(st.integers(0, 2**16)), batch_size, sparse_shape, count, empty_sample)
    window_shape = tuple(draw(st.integers(1, s + 3)) for s in sparse_shape)
    shift = tuple(draw(st.integers(0, w - 1)) for w in window_shape)
    return coords, sparse_shape, batch_size, window_shape, shift


# ---------------------------------------------------------------------------------------------
# Plain-Python brute force


def brute_windows(coords, sparse_shape, window_shape, shift):
    """Per voxel: (flat window id, (iz, iy, ix)), and the window-major order, by Python integers."""
    grid = [-(-s // w) + (1 if sh else 0) for s, w, sh in zip(sparse_shape, window_shape, shift)]
    ids, inner = [], []
    for b, *zyx in coords.tolist():
        window = [(c + s) // w for c, s, w in zip(zyx, shift, window_shape)]
        inner.append(tuple((c + s) % w for c, s, w in zip(zyx, shift, window_shape)))
        ids.append(((b * grid[0] + window[0]) * grid[1] + window[1]) * grid[2] + window[2])
    order = sorted(range(len(ids)), key=lambda i: (ids[i], inner[i]))
    return ids, inner, order


def brute_sets(coords, sparse_shape, window_shape, shift, set_size, axis):
    """(index rows, mask rows, set windows) of DSVT sets by a per-window Python loop."""
    ids, inner, _ = brute_windows(coords, sparse_shape, window_shape, shift)
    members = {}
    for row, window in enumerate(ids):
        members.setdefault(window, []).append(row)
    index, mask, set_window = [], [], []
    for segment, window in enumerate(sorted(members)):
        z, y, x = zip(*(inner[row] for row in members[window]))
        keys = list(zip(x, y, z)) if axis == "x" else list(zip(y, x, z))
        ranked = [members[window][i] for i in sorted(range(len(keys)), key=keys.__getitem__)]
        n = len(ranked)
        sets = -(-n // set_size)
        for j in range(sets):
            ranks = [(j * set_size + k) * n // (sets * set_size) for k in range(set_size)]
            index.append([ranked[r] for r in ranks])
            mask.append([k > 0 and ranks[k] == ranks[k - 1] for k in range(set_size)])
            set_window.append(segment)
    return index, mask, set_window


def snake_path(sparse_shape, window_shape, axis, shifted):
    """Cells (z, y, x) of one sample in FlatFormer flattening order, walked with nested loops."""
    shift = [w // 2 for w in window_shape] if shifted else [0, 0, 0]
    grid = [-(-s // w) + (1 if sh else 0) for s, w, sh in zip(sparse_shape, window_shape, shift)]
    row, col = (1, 2) if axis == "x" else (2, 1)

    def walk(size, forward):
        return range(size) if forward else range(size - 1, -1, -1)

    path, rows_done = [], 0
    for wz in range(grid[0]):
        for w_row in walk(grid[row], wz % 2 == 0):
            forward = rows_done % 2 == 0
            rows_done += 1
            for w_col in walk(grid[col], forward):
                steps = 0
                for n_col, i_col in enumerate(walk(window_shape[col], forward)):
                    for i_row in walk(window_shape[row], n_col % 2 == 0):
                        for i_z in walk(window_shape[0], steps % 2 == 0):
                            cell = [0, 0, 0]
                            cell[0] = wz * window_shape[0] + i_z - shift[0]
                            cell[row] = w_row * window_shape[row] + i_row - shift[row]
                            cell[col] = w_col * window_shape[col] + i_col - shift[col]
                            if all(0 <= c < s for c, s in zip(cell, sparse_shape)):
                                path.append(tuple(cell))
                        steps += 1
    return path


def brute_groups(coords, sparse_shape, window_shape, group_size, axis, shifted):
    """(order, index rows, mask rows) of FlatFormer groups from :func:`snake_path`."""
    rank = {cell: i for i, cell in enumerate(snake_path(sparse_shape, window_shape, axis, shifted))}
    rows = coords.tolist()
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rank[tuple(rows[i][1:])]))
    index, mask = [], []
    for sample in sorted({r[0] for r in rows}):
        tokens = [i for i in order if rows[i][0] == sample]
        for start in range(0, len(tokens), group_size):
            real = tokens[start : start + group_size]
            index.append([real[k % len(real)] for k in range(group_size)])
            mask.append([k >= len(real) for k in range(group_size)])
    return order, index, mask


# ---------------------------------------------------------------------------------------------
# Structural properties shared by the tests


def assert_permutation_pair(order, inverse):
    m = len(order)
    assert torch.equal(torch.sort(order).values, torch.arange(m))
    assert torch.equal(order[inverse], torch.arange(m))
    assert torch.equal(inverse[order], torch.arange(m))


def assert_covers_once(index, mask, m):
    """Every voxel unmasked exactly once; each masked slot repeats the previous slot of its row."""
    assert torch.equal(torch.bincount(index[~mask], minlength=m), torch.ones(m, dtype=torch.long))
    assert not mask[:, 0].any()
    assert torch.equal(mask[:, 1:], index[:, 1:] == index[:, :-1])


def check_window_partition(part, coords, sparse_shape, window_shape, shift):
    ids, inner, order = brute_windows(coords, sparse_shape, window_shape, shift)
    m = len(ids)
    assert part.window_id.tolist() == ids
    assert [tuple(r) for r in part.in_window.tolist()] == inner
    assert part.order.tolist() == order
    assert_permutation_pair(part.order, part.inverse)
    distinct = sorted(set(ids))
    assert part.num_windows == len(distinct) == len(part.offsets) - 1
    assert part.segment.tolist() == [distinct.index(i) for i in ids]
    counts = part.offsets[1:] - part.offsets[:-1]
    assert part.offsets[0] == 0 and part.offsets[-1] == m and bool((counts > 0).all())
    assert torch.equal(part.segment[part.order], torch.repeat_interleave(torch.arange(len(counts)), counts))
    for name, tensor in (("window_id", part.window_id), ("order", part.order), ("offsets", part.offsets)):
        assert tensor.dtype == torch.long, name


# ---------------------------------------------------------------------------------------------
# Window partition


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(scene=voxel_scenes())
def test_window_partition_matches_brute_force(backend, scene):
    coords, sparse_shape, batch_size, window_shape, shift = scene
    part = window_partition(coords, sparse_shape, window_shape, shift, batch_size, backend=backend)
    check_window_partition(part, coords, sparse_shape, window_shape, shift)
    assert part.window_shape == window_shape


@settings(max_examples=20, deadline=None)
@given(scene=voxel_scenes())
def test_window_partition_without_batch_size_and_int64_coords(scene):
    coords, sparse_shape, _, window_shape, shift = scene
    part = window_partition(coords.long(), sparse_shape, window_shape, shift)
    check_window_partition(part, coords, sparse_shape, window_shape, shift)


def test_dsvt_hybrid_windows_count_the_extra_shifted_window():
    """A voxel at the far corner of a 468 grid lands in window 40 of 41 when shifted by 6 in 24x24."""
    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 467, 467]], dtype=torch.int32)
    part = window_partition(coords, (1, 468, 468), (1, 24, 24), (0, 6, 6), batch_size=1)
    grid_x = -(-468 // 24) + 1
    assert part.window_id.tolist() == [0, (473 // 24) * grid_x + 473 // 24]
    assert part.in_window.tolist() == [[0, 6, 6], [0, 473 % 24, 473 % 24]]


# ---------------------------------------------------------------------------------------------
# DSVT sets


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis", ["x", "y"])
@settings(max_examples=30, deadline=None)
@given(scene=voxel_scenes(), set_size=st.integers(1, 12))
def test_dsvt_sets_match_brute_force(backend, axis, scene, set_size):
    coords, sparse_shape, batch_size, window_shape, shift = scene
    part = window_partition(coords, sparse_shape, window_shape, shift, batch_size)
    sets = dsvt_sets(part, coords, set_size, axis, backend=backend)
    index, mask, set_window = brute_sets(coords, sparse_shape, window_shape, shift, set_size, axis)
    assert sets.index.tolist() == index
    assert sets.mask.tolist() == mask
    assert sets.set_window.tolist() == set_window
    assert_covers_once(sets.index, sets.mask, len(coords))
    assert torch.equal(part.segment[sets.index], sets.set_window[:, None].expand_as(sets.index))


@pytest.mark.parametrize("axis, long_axis", [("x", "y"), ("y", "x")])
def test_dsvt_set_strips_run_across_the_sort_axis(axis, long_axis):
    """A full 12x12 pillar window with tau = 36 splits into 4 strips of 3 lines: "x" sorts x-major, so a
    set holds 3 x-columns spanning all of y (a strip along y); "y" gives strips along x."""
    y, x = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    coords = torch.stack([torch.zeros(144), torch.zeros(144), y.flatten(), x.flatten()], 1).int()
    part = window_partition(coords, (1, 12, 12), (1, 12, 12))
    sets = dsvt_sets(part, coords, 36, axis)
    assert sets.index.shape == (4, 36) and not sets.mask.any()
    for members in sets.index:
        cells = coords[members]
        along = cells[:, 2 if long_axis == "y" else 3]
        across = cells[:, 3 if long_axis == "y" else 2]
        assert along.unique().numel() == 12 and across.unique().numel() == 3


def test_dsvt_sets_reuse_partition_for_voxel_windows():
    """Windows spanning several z levels take the sorting path for both axes."""
    coords = random_coords(3, 2, (4, 9, 9), 200)
    part = window_partition(coords, (4, 9, 9), (2, 4, 5), (1, 2, 0), batch_size=2)
    for axis in ("x", "y"):
        fast = dsvt_sets(part, coords, 8, axis, backend="torch")
        reference = dsvt_sets(part, coords, 8, axis, backend="reference")
        for name in fast._fields:
            assert torch.equal(getattr(fast, name), getattr(reference, name)), name


# ---------------------------------------------------------------------------------------------
# FlatFormer groups


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis", ["x", "y"])
@pytest.mark.parametrize("shifted", [False, True])
@settings(max_examples=25, deadline=None)
@given(scene=voxel_scenes(max_extent=10), group_size=st.integers(1, 20))
def test_flat_groups_match_brute_force(backend, axis, shifted, scene, group_size):
    coords, sparse_shape, batch_size, window_shape, _ = scene
    groups = flat_groups(coords, sparse_shape, window_shape, group_size, axis, shifted, batch_size, backend=backend)
    order, index, mask = brute_groups(coords, sparse_shape, window_shape, group_size, axis, shifted)
    assert groups.order.tolist() == order
    assert groups.index.tolist() == index
    assert groups.mask.tolist() == mask
    assert_permutation_pair(groups.order, groups.inverse)
    batch = coords[:, 0].long()
    unmasked = torch.bincount(groups.index[~groups.mask], minlength=len(coords))
    assert torch.equal(unmasked, torch.ones(len(coords), dtype=torch.long))
    assert bool((batch[groups.index] == batch[groups.index[:, :1]]).all()), "a group mixes samples"
    for row, row_mask in zip(groups.index, groups.mask):
        assert set(row[row_mask].tolist()) <= set(row[~row_mask].tolist()), "a filler is not a repeat"
    per_sample = torch.bincount(batch, minlength=batch_size)
    assert len(groups.index) == int(((per_sample + group_size - 1) // group_size).sum())


@pytest.mark.parametrize("axis", ["x", "y"])
def test_flat_order_walks_neighbouring_cells(axis):
    """On a full pillar grid tiled by windows, consecutive tokens inside a window are 4-neighbours and
    consecutive windows share an edge."""
    y, x = torch.meshgrid(torch.arange(15), torch.arange(10), indexing="ij")
    coords = torch.stack([torch.zeros(150), torch.zeros(150), y.flatten(), x.flatten()], 1).int()
    groups = flat_groups(coords, (1, 15, 10), (1, 5, 5), 25, axis)
    yx = coords[groups.order][:, 2:].long()
    step = (yx[1:] - yx[:-1]).abs().sum(1)
    window = yx // 5
    same_window = (window[1:] == window[:-1]).all(1)
    assert bool((step[same_window] == 1).all())
    assert bool(((window[1:] - window[:-1]).abs().sum(1)[~same_window] == 1).all())
    assert not groups.mask.any() and len(groups.index) == 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_flat_groups_short_sample_repeats_its_own_tokens(backend):
    """Sample 0 has 3 voxels (fewer than G = 8), sample 1 has 10: no group reaches into another sample."""
    coords = torch.cat([random_coords(0, 1, (1, 6, 6), 3), random_coords(1, 1, (1, 6, 6), 10)])
    coords[3:, 0] = 1
    groups = flat_groups(coords, (1, 6, 6), (1, 3, 3), 8, backend=backend)
    first = groups.order[:3]
    assert groups.index[0].tolist() == [first[k % 3].item() for k in range(8)]
    assert groups.mask[0].tolist() == [False] * 3 + [True] * 5
    assert groups.mask[1:].sum() == 6 and len(groups.index) == 3
    assert bool((coords[groups.index[1:], 0] == 1).all())


# ---------------------------------------------------------------------------------------------
# Degenerate inputs


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_input(backend):
    coords = torch.zeros(0, 4, dtype=torch.int32)
    part = window_partition(coords, (1, 8, 8), (1, 4, 4), (0, 2, 2), batch_size=2, backend=backend)
    assert part.num_windows == 0 and part.offsets.tolist() == [0]
    assert part.in_window.shape == (0, 3) and part.order.dtype == torch.long
    sets = dsvt_sets(part, coords, 36, "y", backend=backend)
    assert sets.index.shape == (0, 36) and sets.mask.dtype == torch.bool and sets.set_window.shape == (0,)
    groups = flat_groups(coords, (1, 8, 8), (1, 4, 4), 16, backend=backend)
    assert groups.index.shape == (0, 16) and groups.mask.shape == (0, 16) and groups.order.shape == (0,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_voxel(backend):
    coords = torch.tensor([[0, 0, 5, 7]], dtype=torch.int32)
    part = window_partition(coords, (1, 8, 8), (1, 4, 4), (0, 2, 2), backend=backend)
    assert part.offsets.tolist() == [0, 1] and part.in_window.tolist() == [[0, 3, 1]]
    sets = dsvt_sets(part, coords, 4, "x", backend=backend)
    assert sets.index.tolist() == [[0, 0, 0, 0]] and sets.mask.tolist() == [[False, True, True, True]]
    groups = flat_groups(coords, (1, 8, 8), (1, 4, 4), 5, shifted=True, backend=backend)
    assert groups.index.tolist() == [[0] * 5] and groups.mask.tolist() == [[False] + [True] * 4]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("window_shape, shift", [((2, 6, 6), (0, 0, 0)), ((4, 64, 64), (2, 31, 17))])
def test_all_voxels_in_one_window(backend, window_shape, shift):
    """The window covers the grid (exactly, or as one huge shifted window)."""
    coords = random_coords(5, 1, (2, 6, 6), 50)
    part = window_partition(coords, (2, 6, 6), window_shape, shift, backend=backend)
    assert part.num_windows == 1 and part.offsets.tolist() == [0, 50]
    check_window_partition(part, coords, (2, 6, 6), window_shape, shift)
    sets = dsvt_sets(part, coords, 16, "x", backend=backend)
    assert len(sets.index) == 4 and sets.set_window.tolist() == [0] * 4
    assert_covers_once(sets.index, sets.mask, 50)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_without_voxels(backend):
    coords = random_coords(7, 3, (1, 8, 8), 60, empty_sample=1)
    part = window_partition(coords, (1, 8, 8), (1, 3, 3), (0, 1, 1), batch_size=3, backend=backend)
    check_window_partition(part, coords, (1, 8, 8), (1, 3, 3), (0, 1, 1))
    groups = flat_groups(coords, (1, 8, 8), (1, 3, 3), 7, batch_size=3, backend=backend)
    assert not (coords[groups.index, 0] == 1).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_coords_at_grid_edges(backend):
    corners = [[b, z, y, x] for b in (0, 1) for z in (0, 2) for y in (0, 10) for x in (0, 12)]
    coords = torch.tensor(corners, dtype=torch.int32)
    for shift in ((0, 0, 0), (1, 3, 4)):
        part = window_partition(coords, (3, 11, 13), (2, 4, 5), shift, batch_size=2, backend=backend)
        check_window_partition(part, coords, (3, 11, 13), (2, 4, 5), shift)
    for shifted in (False, True):
        groups = flat_groups(coords, (3, 11, 13), (2, 4, 5), 4, "y", shifted, 2, backend=backend)
        order, index, mask = brute_groups(coords, (3, 11, 13), (2, 4, 5), 4, "y", shifted)
        assert groups.order.tolist() == order and groups.index.tolist() == index and groups.mask.tolist() == mask


def test_deterministic_mode_gives_the_same_partition():
    coords = random_coords(9, 2, (1, 20, 20), 300)
    part = window_partition(coords, (1, 20, 20), (1, 6, 6), (0, 3, 3), batch_size=2)
    torch.use_deterministic_algorithms(True)
    try:
        again = window_partition(coords, (1, 20, 20), (1, 6, 6), (0, 3, 3), batch_size=2)
        sets = dsvt_sets(again, coords, 9, "x")
        groups = flat_groups(coords, (1, 20, 20), (1, 6, 6), 9, batch_size=2)
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(part.order, again.order) and torch.equal(part.offsets, again.offsets)
    assert torch.equal(sets.index, dsvt_sets(part, coords, 9, "x").index)
    assert torch.equal(groups.index, flat_groups(coords, (1, 20, 20), (1, 6, 6), 9, batch_size=2).index)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "row, batch_size, column",
    [([0, 0, 8, 0], 1, "y"), ([0, 0, 0, -1], 1, "x"), ([0, 1, 0, 0], 1, "z"), ([2, 0, 0, 0], 2, "batch")],
)
def test_coords_outside_the_grid_are_rejected(backend, row, batch_size, column):
    coords = torch.tensor([[0, 0, 1, 1], row], dtype=torch.int32)
    with pytest.raises(ValueError, match=f"coords: {column} values"):
        window_partition(coords, (1, 8, 8), (1, 4, 4), batch_size=batch_size, backend=backend)
    with pytest.raises(ValueError, match=f"coords: {column} values"):
        flat_groups(coords, (1, 8, 8), (1, 4, 4), 4, batch_size=batch_size, backend=backend)


def test_bad_arguments_are_named():
    coords = torch.zeros(3, 4, dtype=torch.int32)
    with pytest.raises(ValueError, match="coords: expected \\(M, 4\\)"):
        window_partition(coords[:, :3], (1, 8, 8), (1, 4, 4))
    with pytest.raises(ValueError, match="coords: expected int32 or int64"):
        window_partition(coords.float(), (1, 8, 8), (1, 4, 4))
    with pytest.raises(ValueError, match="window_shape"):
        window_partition(coords, (1, 8, 8), (0, 4, 4))
    with pytest.raises(ValueError, match="shift"):
        window_partition(coords, (1, 8, 8), (1, 4, 4), (0, 4, 0))
    with pytest.raises(ValueError, match="grid too large"):
        window_partition(coords, (1, 2**20, 2**20), (1, 4, 4))
    part = window_partition(coords[:1], (1, 8, 8), (1, 4, 4))
    with pytest.raises(ValueError, match="coords: 3 voxels"):
        dsvt_sets(part, coords, 4)
    with pytest.raises(ValueError, match="axis"):
        dsvt_sets(part, coords[:1], 4, axis="z")
    with pytest.raises(ValueError, match="group_size"):
        flat_groups(coords, (1, 8, 8), (1, 4, 4), 0)
    with pytest.raises(RuntimeError, match="no 'numba' backend"):
        window_partition(coords, (1, 8, 8), (1, 4, 4), backend="numba")


# ---------------------------------------------------------------------------------------------
# Real scan


def test_real_scan_pillars(real_data):
    """KITTI scan as 0.32 m pillars: DSVT hybrid windows and FlatFormer groups, torch vs reference."""
    points = np.fromfile(real_data / "kitti" / "training" / "velodyne" / "000000.bin", dtype=np.float32)
    xy = torch.from_numpy(points.reshape(-1, 4)[:, :2].copy())
    cells = torch.floor((xy + 74.88) / 0.32).long()
    cells = cells[((cells >= 0) & (cells < 468)).all(1)]
    yx = torch.unique(cells[:, 1] * 468 + cells[:, 0])
    coords = torch.stack([torch.zeros_like(yx), torch.zeros_like(yx), yx // 468, yx % 468], 1).int()
    for window_shape, shift in (((1, 12, 12), (0, 0, 0)), ((1, 24, 24), (0, 6, 6))):
        parts = [window_partition(coords, (1, 468, 468), window_shape, shift, 1, backend=b) for b in BACKENDS]
        assert all(torch.equal(a, b) for a, b in zip(parts[0][:6], parts[1][:6]))
        for axis in ("x", "y"):
            sets = [dsvt_sets(parts[0], coords, 36, axis, backend=b) for b in BACKENDS]
            assert all(torch.equal(a, b) for a, b in zip(*sets))
            assert_covers_once(sets[1].index, sets[1].mask, len(coords))
    groups = [flat_groups(coords, (1, 468, 468), (1, 13, 13), 144, "y", True, 1, backend=b) for b in BACKENDS]
    assert all(torch.equal(a, b) for a, b in zip(*groups))


def test_benchmark_baselines_compute_the_same_partitions():
    """The DSVT- and FlatFormer-style baselines timed by the benchmark build the same sets and groups."""
    from voxformer.benchmark.ops_partition import SPARSE_SHAPE, dsvt_style_sets, flatformer_style_groups

    coords = random_coords(11, 2, SPARSE_SHAPE, 3000)
    for window_shape, shift in (((1, 12, 12), (0, 0, 0)), ((1, 24, 24), (0, 6, 6))):
        part = window_partition(coords, SPARSE_SHAPE, window_shape, shift, batch_size=2)
        baseline = dsvt_style_sets(coords, window_shape, shift, 36)
        for axis, (index, mask) in zip(("y", "x"), baseline):
            sets = dsvt_sets(part, coords, 36, axis)
            assert sorted(map(tuple, sets.index.tolist())) == sorted(map(tuple, index.tolist()))
            assert int(sets.mask.sum()) == int(mask.sum())
    baseline = flatformer_style_groups(coords, (1, 13, 13), 144, batch_size=2)
    orders = [(axis, shifted) for axis in ("x", "y") for shifted in (False, True)]
    for (axis, shifted), (index, order) in zip(orders, baseline):
        groups = flat_groups(coords, SPARSE_SHAPE, (1, 13, 13), 144, axis, shifted, batch_size=2)
        assert torch.equal(groups.order, order)
        assert torch.equal(groups.index[~groups.mask], index[~groups.mask])
