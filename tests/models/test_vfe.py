"""Dynamic voxel feature encoders against a per-voxel loop, and the data preprocessor."""

import pytest
import torch
from voxformer.ops import voxelize

from voxformer.models.detectors import VoxelDataPreprocessor
from voxformer.models.voxel_encoders import DynamicPillarVFE, DynamicVFE

RANGE = [0.0, -2.0, -1.0, 4.0, 2.0, 1.0]
VOXEL = [0.5, 0.5, 0.5]


def _points(rng, n=200):
    low, high = torch.tensor(RANGE[:3]) - 0.3, torch.tensor(RANGE[3:]) + 0.3  # some fall outside
    xyz = low + (high - low) * torch.rand(n, 3, generator=rng)
    return torch.cat([xyz, torch.rand(n, 1, generator=rng)], dim=1)


def _loop_reference(vfe, points, point_to_voxel, coords, normalize=False):
    """The same encoder written voxel by voxel."""
    low, high, voxel = torch.tensor(RANGE[:3]), torch.tensor(RANGE[3:]), torch.tensor(VOXEL)
    out = []
    for v in range(coords.shape[0]):
        p = points[point_to_voxel == v]
        z, y, x = coords[v, 1:].tolist()
        centre = torch.tensor([x + 0.5, y + 0.5, z + 0.5]) * voxel + low
        xyz, offsets = p[:, :3], torch.cat([p[:, :3] - p[:, :3].mean(0), p[:, :3] - centre], dim=1)
        if normalize:  # positions to [-1, 1] over the range, offsets in voxel sizes
            xyz, offsets = (xyz - (low + high) / 2) / ((high - low) / 2), offsets / voxel.repeat(2)
        features = torch.cat([xyz, p[:, 3:], offsets], dim=1)
        for layer in vfe.layers:
            h = layer(features)
            pooled = h.max(0).values
            features = torch.cat([h, pooled.expand_as(h)], dim=1)
        out.append(pooled)
    return torch.stack(out)


@pytest.mark.parametrize("normalize", [False, True])
def test_dynamic_vfe_matches_per_voxel_loop(rng, normalize):
    points = [_points(rng), _points(rng, 50)]
    result = voxelize(points, VOXEL, RANGE)
    vfe = DynamicVFE(4, [8, 6], VOXEL, RANGE, normalize_inputs=normalize)
    assert (vfe.layers[0][0].bias is not None) == normalize
    all_points = torch.cat(points)
    voxels = vfe(all_points, result.point_to_voxel, result.coords, 2)
    assert voxels.features.shape == (len(result.coords), 6) and voxels.sparse_shape == (4, 8, 8)
    expected = _loop_reference(vfe, all_points, result.point_to_voxel, result.coords, normalize)
    torch.testing.assert_close(voxels.features, expected, rtol=1e-5, atol=1e-5)
    voxels.features.sum().backward()
    assert all(p.grad is not None for p in vfe.parameters())


def test_pillar_vfe_requires_one_z_cell():
    DynamicPillarVFE(4, [8], [0.5, 0.5, 2.0], RANGE)
    with pytest.raises(ValueError, match="one z cell"):
        DynamicPillarVFE(4, [8], VOXEL, RANGE)


def test_vfe_checks_point_columns(rng):
    vfe = DynamicVFE(5, [8], VOXEL, RANGE)
    points = _points(rng)
    result = voxelize(points, VOXEL, RANGE)
    with pytest.raises(ValueError, match="in_channels"):
        vfe(points, result.point_to_voxel, result.coords, 1)


def test_preprocessor_concatenates_and_voxelizes(rng):
    pre = VoxelDataPreprocessor(VOXEL, RANGE)
    points = [_points(rng, 30), _points(rng, 20)]
    out = pre(dict(inputs=dict(points=points), data_samples=None))
    inputs = out["inputs"]
    assert inputs["points"].shape == (50, 4) and inputs["batch_size"] == 2
    assert inputs["point_to_voxel"].shape == (50,)
    inside = inputs["point_to_voxel"] >= 0
    assert set(inputs["coords"][inputs["point_to_voxel"][inside], 0].tolist()) <= {0, 1}
    assert pre.sparse_shape == (4, 8, 8)


def test_preprocessor_rejects_ranges_that_are_not_whole_voxels():
    with pytest.raises(ValueError, match="point_cloud_range"):
        VoxelDataPreprocessor([0.3, 0.3, 0.5], RANGE)
