"""Point-wise transforms keep each point's label: the label is also a fifth point column, which no
transform touches, so after any of them column 4 must still equal the mask row by row."""

import numpy as np
import pytest
import torch

from voxformer.datasets.transforms import (
    CropToVoxels,
    GlobalRotScaleTrans,
    ObjectSample,
    Pack3DDetInputs,
    PointShuffle,
    PointsRangeFilter,
    RandomFlip3D,
)
from voxformer.errors import ConfigError


def _results(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 19, n)
    labels[::7] = 255
    points = np.concatenate([rng.uniform(-30, 30, (n, 2)), rng.uniform(-3, 2, (n, 1)), rng.random((n, 1))], 1)
    points = np.concatenate([points, labels[:, None]], 1).astype(np.float32)
    return {"points": torch.from_numpy(points), "pts_semantic_mask": torch.from_numpy(labels)}


def _aligned(results):
    return torch.equal(results["points"][:, 4].long(), results["pts_semantic_mask"])


@pytest.mark.parametrize(
    "transform",
    [
        PointsRangeFilter(point_cloud_range=[-10, -20, -2, 25, 5, 1]),
        PointShuffle(),
        CropToVoxels(max_voxels=300, voxel_size=0.5),
        GlobalRotScaleTrans(rot_range=[-3.14, 3.14], scale_ratio_range=[0.9, 1.1], translation_std=[0.1, 0.1, 0.1]),
        RandomFlip3D(flip_ratio_bev_horizontal=1.0, flip_ratio_bev_vertical=1.0),
    ],
    ids=lambda t: type(t).__name__,
)
def test_each_transform_keeps_every_points_label(transform):
    np.random.seed(0)
    results = _results()
    before = results["points"].clone()
    out = transform(results)
    assert len(out["points"]) == len(out["pts_semantic_mask"]) and _aligned(out)
    if isinstance(transform, PointShuffle):
        assert not torch.equal(out["points"], before)  # it did reorder
    if isinstance(transform, (PointsRangeFilter, CropToVoxels)):
        assert 0 < len(out["points"]) < len(before)  # it did drop


def test_a_whole_pipeline_keeps_labels_and_packs_them():
    np.random.seed(3)
    results = _results(seed=3)
    for transform in (
        PointsRangeFilter(point_cloud_range=[-25, -25, -3, 25, 25, 2]),
        RandomFlip3D(flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
        GlobalRotScaleTrans(rot_range=[-3.14, 3.14], translation_std=[0.1, 0.1, 0.1]),
        CropToVoxels(max_voxels=500, voxel_size=0.4),
        PointShuffle(),
    ):
        results = transform(results)
        assert _aligned(results), type(transform).__name__
    packed = Pack3DDetInputs()(results)
    seg = packed["data_samples"].gt_pts_seg
    assert torch.equal(seg.pts_semantic_mask, results["pts_semantic_mask"])
    distance = np.linalg.norm(results["points"][:, :3].numpy(), axis=1)
    np.testing.assert_allclose(seg.point_distance.numpy(), distance, rtol=1e-5)


def test_crop_keeps_whole_voxels_nearest_the_seed():
    np.random.seed(1)
    results = _results(n=3000, seed=1)
    size = 1.0
    full = results["points"][:, :3].numpy().astype(np.float64)
    cells = [tuple(c) for c in np.floor(full / size).astype(np.int64)]
    out = CropToVoxels(max_voxels=200, voxel_size=size)(results)
    kept = {tuple(c) for c in np.floor(out["points"][:, :3].numpy() / size).astype(np.int64)}
    assert len(kept) == 200
    assert sum(c in kept for c in cells) == len(out["points"])  # every point of a kept voxel stays
    # some point of the scan (the seed) is nearer every kept voxel centre than any dropped one
    kept_centres = (np.array(sorted(kept)) + 0.5) * size
    dropped_centres = (np.array(sorted(set(cells) - kept)) + 0.5) * size
    farthest_kept = np.linalg.norm(full[:, None] - kept_centres[None], axis=2).max(1)
    nearest_dropped = np.linalg.norm(full[:, None] - dropped_centres[None], axis=2).min(1)
    assert (farthest_kept <= nearest_dropped + 1e-9).any()


def test_crop_leaves_a_small_scan_whole_and_checks_its_arguments():
    results = _results(n=50)
    out = CropToVoxels(max_voxels=10_000, voxel_size=0.05)(dict(results))
    assert torch.equal(out["points"], results["points"])
    with pytest.raises(ConfigError, match="max_voxels"):
        CropToVoxels(max_voxels=0)
    with pytest.raises(ConfigError, match="voxel_size"):
        CropToVoxels(max_voxels=5, voxel_size=[0.1, 0.0, 0.1])


def test_gt_sampling_refuses_labelled_points(tmp_path):
    sampler = ObjectSample(db_info_path=str(tmp_path / "db.pkl"), sample_groups={"Car": 1})
    with pytest.raises(ConfigError, match="per-point labels"):
        sampler(_results(n=10))
