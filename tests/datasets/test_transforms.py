import numpy as np
import pytest
import torch
from voxformer.ops import boxes_iou_bev, points_in_boxes

from voxformer.datasets.infos import save_pickle
from voxformer.datasets.io import write_points
from voxformer.datasets.transforms import (
    GlobalRotScaleTrans,
    ObjectNameFilter,
    ObjectRangeFilter,
    ObjectSample,
    Pack3DDetInputs,
    PointShuffle,
    PointsRangeFilter,
    RandomFlip3D,
)
from voxformer.datasets.transforms.gt_sampling import ground_heights
from voxformer.structures import Boxes3D

BOXES = np.array([[10, 5, -1, 4, 2, 1.5, 0.3], [-20, -8, -1, 0.8, 0.6, 1.7, -2.0], [30, 20, -0.8, 1.8, 0.6, 1.7, 1.2]])


def _results(seed=0, points_per_box=200):
    rng = np.random.default_rng(seed)
    clouds = []
    for box in BOXES:  # points strictly inside each box (90% of its extent)
        local = rng.uniform(-0.45, 0.45, size=(points_per_box, 3)) * box[3:6]
        c, s = np.cos(box[6]), np.sin(box[6])
        world = np.c_[local[:, 0] * c - local[:, 1] * s, local[:, 0] * s + local[:, 1] * c, local[:, 2]] + box[:3]
        clouds.append(np.c_[world, rng.uniform(0, 1, points_per_box)])
    clouds.append(np.c_[rng.uniform(-40, 40, (500, 2)), rng.uniform(-2, 0, 500), rng.uniform(0, 1, 500)])
    owner = np.repeat(np.arange(len(BOXES) + 1), [points_per_box] * len(BOXES) + [500])
    owner[owner == len(BOXES)] = -1
    return {
        "points": torch.from_numpy(np.concatenate(clouds).astype(np.float32)),
        "gt_bboxes_3d": Boxes3D(torch.from_numpy(BOXES.astype(np.float32))),
        "gt_labels_3d": np.array([0, 1, 2]),
        "gt_names": np.array(["Car", "Pedestrian", "Cyclist"]),
        "point_cloud_range": [-50, -50, -3, 50, 50, 1],
    }, owner


@pytest.mark.parametrize(
    "transform",
    [
        GlobalRotScaleTrans(rot_range=(-3.1, 3.1), scale_ratio_range=(0.8, 1.2), translation_std=(0.5, 0.5, 0.2)),
        RandomFlip3D(flip_ratio_bev_horizontal=1.0, flip_ratio_bev_vertical=0.0),
        RandomFlip3D(flip_ratio_bev_horizontal=0.0, flip_ratio_bev_vertical=1.0),
        RandomFlip3D(flip_ratio_bev_horizontal=1.0, flip_ratio_bev_vertical=1.0),
    ],
)
def test_augmentation_keeps_points_in_their_boxes(transform):
    np.random.seed(1)
    for seed in range(5):
        results, owner = _results(seed)
        before = results["gt_bboxes_3d"].tensor.clone()
        out = transform(results)
        inside = points_in_boxes(out["points"][:, :3], out["gt_bboxes_3d"].tensor).numpy()
        mine = owner >= 0
        np.testing.assert_array_equal(inside[mine], owner[mine])
        assert not torch.equal(out["gt_bboxes_3d"].tensor, before)


def test_point_shuffle_permutes_rows():
    np.random.seed(0)
    results, _ = _results()
    points = results["points"].clone()
    out = PointShuffle()(results)
    assert not torch.equal(out["points"], points)
    torch.testing.assert_close(out["points"][out["points"][:, 3].argsort()], points[points[:, 3].argsort()])


def test_disabled_augmentation_is_identity():
    results, _ = _results()
    points = results["points"].clone()
    transform = GlobalRotScaleTrans(rot_range=(1, 2))
    transform.enabled = False
    assert torch.equal(transform(results)["points"], points)


def test_range_filters_and_name_filter():
    results, _ = _results()
    results["gt_labels_3d"] = np.array([0, -1, 2])
    results = ObjectNameFilter()(results)
    assert results["gt_names"].tolist() == ["Car", "Cyclist"]
    results = ObjectRangeFilter([0, -10, -3, 20, 10, 1])(PointsRangeFilter()(results))
    assert results["gt_names"].tolist() == ["Car"] and len(results["gt_bboxes_3d"]) == 1
    p = results["points"]
    assert (p[:, 0].abs() < 50).all() and (p[:, 2] < 1).all()
    with pytest.raises(ValueError, match="give point_cloud_range"):
        PointsRangeFilter()({"points": p})


@pytest.fixture
def database(tmp_path):
    rng = np.random.default_rng(0)
    entries = {"Car": [], "Pedestrian": []}
    for k in range(60):  # objects crowded into a 30 m square: many candidates collide
        name = "Car" if k % 2 else "Pedestrian"
        size = [4.2, 1.8, 1.6] if name == "Car" else [0.8, 0.6, 1.7]
        box = np.array([*rng.uniform(-15, 15, 2), -1, *size, rng.uniform(-np.pi, np.pi)], np.float32)
        local = rng.uniform(-0.3, 0.3, (20, 3)) * box[3:6]  # stored relative to the centre, world-aligned
        c, s = np.cos(box[6]), np.sin(box[6])
        offsets = np.c_[local[:, 0] * c - local[:, 1] * s, local[:, 0] * s + local[:, 1] * c, local[:, 2]]
        points = np.c_[offsets, np.full(20, 0.5)].astype(np.float32)
        write_points(tmp_path / "db" / f"{k}.bin", points)
        entries[name].append(
            {
                "name": name,
                "path": f"db/{k}.bin",
                "frame_id": "x",
                "gt_idx": k,
                "box3d_lidar": box,
                "num_points_in_gt": 20 if k % 7 else 3,
                "difficulty": 0,
            }
        )
    save_pickle(tmp_path / "dbinfos.pkl", entries)
    return tmp_path


def test_gt_sampling_never_overlaps(database):
    sampler = ObjectSample("dbinfos.pkl", {"Car": 8, "Pedestrian": 6}, classes=["Car", "Pedestrian", "Cyclist"])
    np.random.seed(0)
    pasted = 0
    for seed in range(10):
        results, _ = _results(seed)
        results["data_root"] = str(database)
        out = sampler(results)
        boxes = out["gt_bboxes_3d"].tensor
        iou = boxes_iou_bev(boxes, boxes)
        assert (iou - torch.diag(torch.diag(iou))).max() == 0
        assert len(boxes) == len(out["gt_labels_3d"]) == len(out["gt_names"])
        counts = np.bincount(out["gt_labels_3d"], minlength=3)
        assert counts[0] <= 8 and counts[1] <= 6
        owner = points_in_boxes(out["points"][:, :3], boxes[3:]).numpy()
        assert [(owner == j).sum() for j in range(len(boxes) - 3)] == [20] * (len(boxes) - 3)  # pasted points in place
        pasted += len(boxes) - 3
    assert pasted > 20


def _ground_scene(ground_z, spacing=0.25, half=20.0):
    """A flat ground grid at ``ground_z`` with a 2 m wall along x = 5 (4 columns)."""
    axis = torch.arange(-half, half, spacing)
    grid = torch.cartesian_prod(axis, axis)
    ground = torch.cat([grid, torch.full((len(grid), 1), ground_z)], 1)
    wall_y, wall_z = torch.meshgrid(torch.arange(-half, half, spacing), torch.arange(0, 2, spacing), indexing="ij")
    wall = torch.stack([torch.full((wall_y.numel(),), 5.0), wall_y.flatten(), ground_z + wall_z.flatten()], 1)
    return torch.cat([ground, wall])


def test_ground_heights_reads_the_ground_in_a_ring_around_each_box():
    points = _ground_scene(-1.9)
    boxes = torch.tensor([[0, 0, -1, 4, 2, 1.5, 0.3], [5.5, 0, 3, 0.8, 0.6, 1.7, 0], [60, 0, -1, 4, 2, 1.5, 0]])
    heights = ground_heights(points, boxes)
    assert torch.allclose(heights[:2], torch.tensor([-1.9, -1.9]))  # the wall beside box 1 does not lift it
    assert torch.isnan(heights[2])  # no point within its ring
    assert torch.isnan(ground_heights(points[:0], boxes)).all()


@pytest.mark.parametrize("align", [False, True])
def test_gt_sampling_stands_objects_on_this_frames_ground(database, align):
    sampler = ObjectSample("dbinfos.pkl", {"Car": 8, "Pedestrian": 6}, align_to_ground=align)
    np.random.seed(0)
    ground = _ground_scene(-2.1)
    results = {
        "points": torch.cat([ground, torch.full((len(ground), 1), 0.5)], 1),
        "gt_bboxes_3d": Boxes3D(torch.zeros(0, 7)),
        "gt_labels_3d": np.zeros(0, np.int64),
        "point_cloud_range": [-20, -20, -3, 20, 20, 1],
        "data_root": str(database),
    }
    out = sampler(results)
    boxes = out["gt_bboxes_3d"].tensor
    assert len(boxes) > 4
    bottoms = boxes[:, 2] - boxes[:, 5] / 2  # database objects stand on z = -1 - h / 2
    expected = torch.full_like(bottoms, -2.1) if align else -1 - boxes[:, 5] / 2
    assert torch.allclose(bottoms, expected, atol=1e-5)
    owner = points_in_boxes(out["points"][:, :3], boxes).numpy()
    assert [(owner == j).sum() for j in range(len(boxes))] == [20] * len(boxes)  # the points moved with the box


def test_gt_sampling_fills_the_range_only(database):
    """Only objects in the range count: the frame's pedestrian at (-20, -8) lies outside, its car inside."""
    sampler = ObjectSample("dbinfos.pkl", {"Car": 4, "Pedestrian": 3}, classes=["Car", "Pedestrian", "Cyclist"])
    np.random.seed(0)
    pasted_pedestrians = []
    for seed in range(5):
        results, _ = _results(seed)
        results["point_cloud_range"] = [-12, -12, -3, 12, 12, 1]
        results["data_root"] = str(database)
        out = sampler(results)
        boxes, labels = out["gt_bboxes_3d"].tensor[3:], out["gt_labels_3d"][3:]
        assert len(boxes) > 0 and (boxes[:, :2].abs() < 12).all()
        assert (labels == 0).sum() <= 3  # 4 cars in the range, one of them the frame's own
        pasted_pedestrians.append(int((labels == 1).sum()))
    assert max(pasted_pedestrians) == 3


def test_pack_gives_points_and_a_sample():
    results, _ = _results()
    results["frame_id"] = "000042"
    packed = Pack3DDetInputs()(results)
    sample = packed["data_samples"]
    assert packed["inputs"]["points"].shape[1] == 4
    assert sample.metainfo["frame_id"] == "000042"
    assert (
        isinstance(sample.gt_instances_3d.bboxes_3d, Boxes3D) and sample.gt_instances_3d.labels_3d.dtype == torch.int64
    )
