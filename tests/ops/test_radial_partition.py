"""Radial and cubic window partitions of float positions and in-window positions, against plain-Python
brute force (math.atan2 per point, windows grouped in dicts)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from voxformer import ops
from voxformer.structures import SparseVoxels

BACKENDS = ("reference", "torch")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def brute_radial_cells(xyz: torch.Tensor, size) -> list[tuple[int, int, int]]:
    cells = []
    for x, y, z in xyz.tolist():
        theta = math.degrees(math.atan2(y, x) + math.pi) % 360.0
        beta = math.degrees(math.atan2(math.hypot(x, y), z))
        r = math.sqrt(x * x + y * y + z * z)
        theta_cell = min(math.floor(theta / size[0]), math.ceil(360 / size[0]) - 1)
        beta_cell = min(math.floor(beta / size[1]), math.ceil(180 / size[1]) - 1)
        cells.append((theta_cell, beta_cell, math.floor(r / size[2])))
    return cells


def brute_cubic_cells(xyz: torch.Tensor, size, origin) -> list[tuple[int, int, int]]:
    return [tuple(math.floor((p - o) / w) for p, o, w in zip(point, origin, size)) for point in xyz.tolist()]


def check_partition(part: ops.WindowPartition, batch: torch.Tensor, cells) -> None:
    """Windows = groups of equal (batch, cell) in ascending order, members in input order."""
    groups: dict[tuple, list[int]] = {}
    for row, (b, cell) in enumerate(zip(batch.tolist(), cells)):
        groups.setdefault((b, *cell), []).append(row)
    keys = sorted(groups)
    assert part.num_windows == len(keys)
    assert part.offsets.tolist() == [0] + list(itertools.accumulate(len(groups[key]) for key in keys))
    assert part.order.tolist() == [row for key in keys for row in groups[key]]
    assert part.segment.tolist() == [keys.index((b, *cell)) for b, cell in zip(batch.tolist(), cells)]
    assert part.in_window.tolist() == [list(cell) for cell in cells]
    assert torch.equal(part.inverse[part.order], torch.arange(len(batch)))
    first = part.order[part.offsets[:-1]]
    assert bool((part.window_id[first].diff() > 0).all())  # ids grow with (batch, cells)
    assert torch.equal(part.window_id[part.order].diff() != 0, part.segment[part.order].diff() != 0)


def random_scene(seed: int, count: int = 300, batch_size: int = 3, extent: float = 30.0):
    g = torch.Generator().manual_seed(seed)
    xyz = (torch.rand(count, 3, generator=g, dtype=torch.float64) * 2 - 1) * extent
    xyz[:, 2] *= 0.1
    batch = torch.randint(0, batch_size, (count,), generator=g)
    return xyz, batch


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_radial_matches_brute_force(backend, seed):
    xyz, batch = random_scene(seed)
    size = ((5.0, 7.0, 11.0), (2.0, 2.0, 120.0), (13.0, 180.0, 4.5))[seed]
    part = ops.radial_window_partition(xyz, batch, size, batch_size=3, backend=backend)
    check_partition(part, batch, brute_radial_cells(xyz, size))
    assert part.window_shape == size


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_cubic_matches_brute_force(backend, seed):
    xyz, batch = random_scene(seed)
    size = (3.0, 4.0, 1.5)
    part = ops.cubic_window_partition(xyz, batch, size, backend=backend)
    check_partition(part, batch, brute_cubic_cells(xyz, size, xyz.amin(0).tolist()))
    origin = (-40.0, -40.0, -5.0)
    part = ops.cubic_window_partition(xyz, batch, size, origin=origin, backend=backend)
    check_partition(part, batch, brute_cubic_cells(xyz, size, origin))


@pytest.mark.parametrize("backend", BACKENDS)
def test_radial_edge_points(backend):
    """θ = ±180° (y = ±0 behind the sensor) share window 0; just below +180° is the last θ window; points on
    the z axis (β = 0 and 180°, the latter in the last β window); the origin; r on a window border."""
    xyz = torch.tensor(
        [
            [-1.0, 0.0, 0.5],
            [-1.0, -0.0, 0.5],
            [-1.0, 1e-9, 0.5],
            [-1.0, -1e-9, 0.5],
            [0.0, 0.0, 5.0],
            [0.0, 0.0, -5.0],
            [0.0, 0.0, 0.0],
            [3.0, 4.0, 0.0],  # r = 5: exactly on the r border
            [2.9999, 4.0, 0.0],
            [1.0, 0.0, 0.0],  # θ = 180°, β = 90°
        ],
        dtype=torch.float64,
    )
    batch = torch.zeros(len(xyz), dtype=torch.long)
    size = (2.0, 4.0, 5.0)
    part = ops.radial_window_partition(xyz, batch, size, backend=backend)
    cells = part.in_window.tolist()
    assert cells[0][0] == cells[1][0] == cells[3][0] == 0
    assert cells[2][0] == 179
    assert cells[4][:2] == [90, 0] and cells[5][:2] == [90, 44]
    assert cells[6] == [90, 0, 0]
    assert cells[7][2] == 1 and cells[8][2] == 0
    assert cells[9] == [90, 22, 0]
    check_partition(part, batch, brute_radial_cells(xyz, size))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_samples_one_point_and_no_points(backend):
    xyz, batch = random_scene(3, count=40, batch_size=4)
    batch = torch.where(batch == 1, 2, batch)  # sample 1 holds nothing
    part = ops.radial_window_partition(xyz, batch, (30.0, 30.0, 10.0), batch_size=4, backend=backend)
    check_partition(part, batch, brute_radial_cells(xyz, (30.0, 30.0, 10.0)))
    one = ops.cubic_window_partition(xyz[:1], batch[:1], (1.0, 1.0, 1.0), backend=backend)
    assert one.num_windows == 1 and one.offsets.tolist() == [0, 1] and one.in_window.tolist() == [[0, 0, 0]]
    for build in (ops.radial_window_partition, ops.cubic_window_partition):
        none = build(xyz[:0], batch[:0], (1.0, 1.0, 1.0), backend=backend)
        assert none.num_windows == 0 and none.offsets.tolist() == [0] and none.order.numel() == 0


def test_float32_backends_agree():
    """Both backends, on the CPU and (where there is one) the GPU, give the CPU reference's partition."""
    xyz, batch = random_scene(4, count=2000)
    xyz = xyz.float()
    for build in (ops.radial_window_partition, ops.cubic_window_partition):
        expected = build(xyz, batch, (3.0, 3.0, 2.0), backend="reference")
        for backend in BACKENDS:
            got = build(xyz.to(DEVICE), batch.to(DEVICE), (3.0, 3.0, 2.0), backend=backend)
            for x, y in zip(got, expected):
                assert torch.equal(torch.as_tensor(x).cpu(), torch.as_tensor(y))


def test_invalid_inputs():
    xyz, batch = random_scene(5, count=10)
    with pytest.raises(ValueError, match="batch values"):
        ops.radial_window_partition(xyz, batch, (2.0, 2.0, 80.0), batch_size=1)
    with pytest.raises(ValueError, match="below the origin"):
        ops.cubic_window_partition(xyz, batch, (1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    bad = xyz.clone()
    bad[3, 1] = float("nan")
    for build in (ops.radial_window_partition, ops.cubic_window_partition):
        with pytest.raises(ValueError, match="not finite"):
            build(bad, batch, (2.0, 2.0, 80.0))
    with pytest.raises(ValueError, match="window_size"):
        ops.radial_window_partition(xyz, batch, (2.0, 0.0, 80.0))
    with pytest.raises(ValueError, match="xyz"):
        ops.radial_window_partition(xyz[:, :2], batch, (2.0, 2.0, 80.0))


def test_spherical_coordinates():
    xyz = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, -2.0, -2.0]], dtype=torch.float64)
    expected = [[225.0, 90.0, math.sqrt(2)], [0.0, 45.0, math.sqrt(2)], [90.0, 135.0, math.sqrt(8)]]
    assert torch.allclose(ops.spherical_coordinates(xyz), torch.tensor(expected, dtype=torch.float64))


def test_window_positions_against_brute_force():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(200, 3, generator=g, dtype=torch.float64) * 10
    size, origin, bins = (0.6, 1.2, 2.5), (-3.0, 0.5, -50.0), 24
    pos = ops.window_positions(values, size, origin, bins=bins)
    expected = [
        [math.floor(((v - o) % w) / (w / bins)) for v, o, w in zip(row, origin, size)] for row in values.tolist()
    ]
    assert pos.dtype == torch.int64 and pos.tolist() == expected
    edges = torch.tensor([[0.0], [0.6], [-0.6], [0.025], [0.599999]], dtype=torch.float64)
    assert ops.window_positions(edges, (0.6,), (0.0,), bins=24).view(-1).tolist() == [0, 0, 0, 1, 23]
    with pytest.raises(ValueError, match="entries"):
        ops.window_positions(values, (1.0, 1.0), (0.0, 0.0))


def test_sparse_voxels_cache():
    xyz, batch = random_scene(6, count=50, batch_size=2)
    batch, order = batch.sort()
    xyz = xyz[order]
    coords = torch.cat([batch[:, None], torch.arange(50)[:, None].repeat(1, 3)], 1).int()
    voxels = SparseVoxels(torch.zeros(50, 4), coords, (60, 60, 60), 2, xyz=xyz)
    radial = voxels.radial_windows((10.0, 10.0, 20.0))
    assert voxels.radial_windows([10, 10, 20]) is radial
    check_partition(radial, batch, brute_radial_cells(xyz, (10.0, 10.0, 20.0)))
    cubic = voxels.cubic_windows((2.0, 2.0, 2.0), origin=(-40.0, -40.0, -5.0))
    assert voxels.replace_features(torch.ones(50, 2)).cubic_windows((2, 2, 2), (-40, -40, -5)) is cubic
    assert voxels.cubic_windows((2.0, 2.0, 2.0)) is not cubic
    with pytest.raises(ValueError, match="xyz"):
        SparseVoxels(torch.zeros(50, 4), coords, (60, 60, 60), 2).radial_windows((1.0, 1.0, 1.0))
