"""voxelize: every backend against a NumPy brute force (dynamic and hard), properties, edge cases."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from voxformer.ops import DynamicVoxels, HardVoxels, voxelize

BACKENDS = ["reference", "torch", "numba"]
SIZE = (0.5, 0.5, 1.0)
RANGE = (-2.0, -1.0, -1.0, 2.0, 1.0, 1.0)  # grid X=8, Y=4, Z=2


def brute_force(clouds, voxel_size, pc_range):
    """Dict (b, z, y, x) -> global point indices in input order, voxel first-arrival order per sample,
    and the number of non-finite points, by a loop over points."""
    shape = [round((pc_range[a + 3] - pc_range[a]) / voxel_size[a]) for a in range(3)]
    members, arrival, nonfinite, offset = {}, [], 0, 0
    for b, cloud in enumerate(clouds):
        arrived = []
        for i, p in enumerate(cloud.double().numpy()):
            if not np.isfinite(p).all():
                nonfinite += 1
                continue
            cell = [math.floor((p[a] - pc_range[a]) / voxel_size[a]) for a in range(3)]
            inside = all(pc_range[a] <= p[a] < pc_range[a + 3] and cell[a] < shape[a] for a in range(3))
            if inside:
                key = (b, cell[2], cell[1], cell[0])
                if key not in members:
                    members[key] = []
                    arrived.append(key)
                members[key].append(offset + i)
        arrival.append(arrived)
        offset += len(cloud)
    return members, arrival, nonfinite


def check_dynamic(out, clouds, voxel_size=SIZE, pc_range=RANGE):
    members, _, nonfinite = brute_force(clouds, voxel_size, pc_range)
    keys = sorted(members)
    assert isinstance(out, DynamicVoxels)
    assert out.coords.dtype == torch.int32 and out.num_points.dtype == torch.int32
    assert out.point_to_voxel.dtype == torch.int64
    assert out.coords.tolist() == [list(k) for k in keys]
    assert out.num_points.tolist() == [len(members[k]) for k in keys]
    expected = [-1] * sum(len(c) for c in clouds)
    for v, key in enumerate(keys):
        for i in members[key]:
            expected[i] = v
    assert out.point_to_voxel.tolist() == expected
    assert out.num_nonfinite == nonfinite


def check_hard(out, clouds, max_points, max_voxels, voxel_size=SIZE, pc_range=RANGE):
    members, arrival, nonfinite = brute_force(clouds, voxel_size, pc_range)
    kept = sorted(k for arrived in arrival for k in arrived[: max_voxels if max_voxels is not None else None])
    all_points = torch.cat(clouds)
    assert isinstance(out, HardVoxels)
    assert out.coords.tolist() == [list(k) for k in kept]
    assert out.num_points.tolist() == [min(len(members[k]), max_points) for k in kept]
    expected = torch.zeros(len(kept), max_points, all_points.shape[1], dtype=all_points.dtype)
    for v, key in enumerate(kept):
        rows = members[key][:max_points]
        expected[v, : len(rows)] = all_points[rows]
    assert torch.equal(out.voxels, expected)
    assert out.num_nonfinite == nonfinite


def lattice_cloud(n, rng, channels=4):
    """Points on a lattice of quarter voxels over and beyond the range: many shared voxels, many points
    exactly on voxel faces and on the range bounds."""
    xyz = torch.stack(
        [
            torch.randint(-10, 11, (n,), generator=rng) * 0.25,
            torch.randint(-6, 7, (n,), generator=rng) * 0.25,
            torch.randint(-5, 6, (n,), generator=rng) * 0.25,
        ],
        dim=1,
    )
    return torch.cat([xyz, torch.rand(n, channels - 3, generator=rng)], dim=1).float()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_matches_brute_force(backend, rng):
    clouds = [lattice_cloud(300, rng), lattice_cloud(0, rng), lattice_cloud(150, rng)]
    check_dynamic(voxelize(clouds, SIZE, RANGE, backend=backend), clouds)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("max_points,max_voxels", [(1, None), (3, 5), (100, 0), (2, 1000)])
def test_hard_matches_brute_force(backend, max_points, max_voxels, rng):
    clouds = [lattice_cloud(200, rng), lattice_cloud(0, rng), lattice_cloud(120, rng, channels=5)[:, :4]]
    out = voxelize(clouds, SIZE, RANGE, max_points_per_voxel=max_points, max_voxels=max_voxels, backend=backend)
    check_hard(out, clouds, max_points, max_voxels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_range_edges_min_kept_max_dropped(backend):
    lo, hi = RANGE[:3], RANGE[3:]
    points = torch.tensor(
        [
            [lo[0], lo[1], lo[2], 0.1],  # the lower corner: kept in voxel (0, 0, 0)
            [hi[0], 0.0, 0.0, 0.2],  # x on the upper bound: dropped
            [0.0, hi[1], 0.0, 0.3],
            [0.0, 0.0, hi[2], 0.4],
            [*(np.nextafter(np.float32(h), np.float32(0)) for h in hi), 0.5],  # just inside
        ]
    )
    out = voxelize(points, SIZE, RANGE, backend=backend)
    assert out.coords.tolist() == [[0, 0, 0, 0], [0, 1, 3, 7]]
    assert out.point_to_voxel.tolist() == [0, -1, -1, -1, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_points_dropped_and_counted(backend):
    points = torch.tensor(
        [[0.1, 0.1, 0.1, 1.0], [float("nan"), 0.0, 0.0, 1.0], [0.1, 0.1, 0.1, float("inf")], [0.2, 0.1, 0.1, 0.5]]
    )
    with pytest.warns(UserWarning, match="dropped 2 points with NaN or inf"):
        out = voxelize(points, SIZE, RANGE, backend=backend)
    assert out.num_nonfinite == 2
    assert out.point_to_voxel.tolist() == [0, -1, -1, 0]
    with pytest.warns(UserWarning):
        hard = voxelize(points, SIZE, RANGE, max_points_per_voxel=4, backend=backend)
    assert hard.num_points.tolist() == [2]
    assert torch.equal(hard.voxels[0, :2], points[[0, 3]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs_give_empty_outputs(backend):
    empty = torch.zeros(0, 4)
    out = voxelize([empty, empty], SIZE, RANGE, backend=backend)
    assert out.coords.shape == (0, 4) and out.coords.dtype == torch.int32
    assert out.point_to_voxel.shape == (0,) and out.num_points.shape == (0,)
    hard = voxelize(empty, SIZE, RANGE, max_points_per_voxel=5, max_voxels=10, backend=backend)
    assert hard.voxels.shape == (0, 5, 4) and hard.coords.shape == (0, 4) and hard.num_points.shape == (0,)
    outside = torch.tensor([[100.0, 0.0, 0.0, 1.0]])
    assert voxelize(outside, SIZE, RANGE, backend=backend).point_to_voxel.tolist() == [-1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_voxel_keeps_first_points(backend):
    points = torch.tensor([[0.1, 0.1, 0.1, float(i)] for i in range(6)])
    hard = voxelize([points, points], SIZE, RANGE, max_points_per_voxel=4, max_voxels=1, backend=backend)
    assert hard.coords.tolist() == [[0, 1, 2, 4], [1, 1, 2, 4]]
    assert hard.num_points.tolist() == [4, 4]
    assert hard.voxels[:, :, 3].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_points_and_output_device(backend, rng):
    points = lattice_cloud(100, rng).double()
    out = voxelize(points, SIZE, RANGE, max_points_per_voxel=2, backend=backend)
    assert out.voxels.dtype == torch.float64 and out.voxels.device == points.device
    check_hard(out, [points], 2, None)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="points"):
        voxelize(torch.zeros(5, 2), SIZE, RANGE)
    with pytest.raises(ValueError, match="points"):
        voxelize([], SIZE, RANGE)
    with pytest.raises(ValueError, match="dtype"):
        voxelize([torch.zeros(1, 4), torch.zeros(1, 4, dtype=torch.float64)], SIZE, RANGE)
    with pytest.raises(ValueError, match="max_voxels needs max_points_per_voxel"):
        voxelize(torch.zeros(1, 4), SIZE, RANGE, max_voxels=3)
    with pytest.raises(ValueError, match="whole number"):
        voxelize(torch.zeros(1, 4), (0.3, 0.5, 1.0), RANGE)
    with pytest.raises(ValueError, match="voxel_size"):
        voxelize(torch.zeros(1, 4), (0.5, 0.5), RANGE)


coordinate = st.one_of(
    st.integers(-12, 12).map(lambda i: i * 0.25),  # faces and bounds
    st.floats(-3.0, 3.0, width=32),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)
cloud = st.lists(st.tuples(coordinate, coordinate, coordinate), max_size=40).map(
    lambda rows: torch.tensor([[*r, i] for i, r in enumerate(rows)], dtype=torch.float32).reshape(-1, 4)
)


@settings(max_examples=40, deadline=None)
@given(clouds=st.lists(cloud, min_size=1, max_size=3), max_points=st.integers(1, 4), max_voxels=st.integers(0, 6))
def test_property_every_backend_matches_brute_force(clouds, max_points, max_voxels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for backend in BACKENDS:
            check_dynamic(voxelize(clouds, SIZE, RANGE, backend=backend), clouds)
            hard = voxelize(clouds, SIZE, RANGE, max_points, max_voxels, backend=backend)
            check_hard(hard, clouds, max_points, max_voxels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_kitti_scan_backends_agree(backend, real_data):
    points = torch.from_numpy(np.fromfile(real_data / "kitti/training/velodyne/000000.bin", np.float32).reshape(-1, 4))
    size, pc_range = (0.1, 0.1, 0.1), (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)
    out = voxelize(points, size, pc_range, backend=backend)
    expected = voxelize(points, size, pc_range, backend="reference")
    assert torch.equal(out.coords, expected.coords) and torch.equal(out.point_to_voxel, expected.point_to_voxel)
    assert int(out.num_points.sum()) == int((out.point_to_voxel >= 0).sum()) > 10_000
