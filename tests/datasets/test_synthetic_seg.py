"""Per-point labels of the synthetic dataset: consistent with the ray hits and the boxes, deterministic."""

import numpy as np
import torch
from voxformer.ops import points_in_boxes

from voxformer.datasets.formats import semantickitti as sk
from voxformer.datasets.infos import info_path, load_infos
from voxformer.datasets.io import read_points
from voxformer.datasets.synthetic import semantics as sem

OBJECT_CLASSES = {"Car": {sem.CAR}, "Pedestrian": {sem.PERSON}, "Cyclist": {sem.BICYCLE, sem.BICYCLIST}}


def _frames(root):
    for split in ("train", "val"):
        for record in load_infos(info_path(root, "synthetic", split))["data_list"]:
            points = read_points(root / record["lidar_path"], 4)
            semantic, instance = sk.read_label(root / record["pts_semantic_mask_path"], len(points))
            yield record, points, semantic.astype(np.int64), instance.astype(np.int64)


def _box_of_each_point(points, boxes, grow=0.0, lift=0.0):
    """Index of the box (grown by ``grow`` on every side, its bottom raised by ``lift``) holding each point."""
    grown = boxes.copy()
    grown[:, 3:6] += 2 * grow
    grown[:, 2] += lift / 2
    grown[:, 5] -= lift
    return points_in_boxes(torch.from_numpy(points[:, :3]), torch.from_numpy(grown)).numpy()


def test_points_in_object_boxes_carry_the_objects_class(synthetic_root):
    # shrunk boxes, bottoms raised: no ground, kerb or neighbouring sidewalk slab at the feet
    matches = {name: [] for name in OBJECT_CLASSES}
    for record, points, semantic, _ in _frames(synthetic_root):
        annos = record["annos"]
        box = _box_of_each_point(points, annos["boxes"], grow=-0.1, lift=0.2)
        for name, classes in OBJECT_CLASSES.items():
            inside = np.isin(box, np.flatnonzero(annos["names"] == name))
            matches[name] += np.isin(semantic[inside], list(classes)).tolist()
    for name, values in matches.items():
        assert len(values) > 50 and np.mean(values) >= 0.99, (name, len(values), np.mean(values))


def test_object_points_lie_in_their_boxes_and_have_instances(synthetic_root):
    for record, points, semantic, instance in _frames(synthetic_root):
        annos = record["annos"]
        box = _box_of_each_point(points, annos["boxes"], grow=0.2)
        things = np.isin(semantic, [sem.CAR, sem.PERSON, sem.BICYCLE, sem.BICYCLIST])
        assert (box[things] >= 0).mean() >= 0.99
        assert (instance[things] > 0).all() and (instance[~things] == 0).all()
        cars = semantic == sem.CAR
        assert (annos["names"][box[cars & (box >= 0)]] == "Car").mean() >= 0.99


def test_the_label_space_and_the_ground(synthetic_root):
    seen = set()
    for _, points, semantic, _ in _frames(synthetic_root):
        assert set(np.unique(semantic)) <= set(sk.RAW_LABELS)
        learnt = [sk.LEARNING_MAP[int(raw)] for raw in np.unique(semantic)]
        seen |= {sk.CLASSES[index] for index in learnt if index != sk.IGNORE_INDEX}
        near = np.hypot(points[:, 0], points[:, 1]) < 10
        flat = near & np.isin(semantic, [sem.ROAD, sem.PARKING])
        assert abs(np.median(points[flat, 2]) + 1.73) < 0.2  # road and parking are the ground
    assert not seen & set(sem.ABSENT_CLASSES)
    assert len(seen) >= 12, seen  # of the 15 classes the synthetic world has


def test_labels_are_deterministic(synthetic_root, tmp_path):
    from voxformer.datasets.formats.synthetic import write_frame

    write_frame(tmp_path, 3, 1, "hdl64")
    name = "labels/000001.label"
    assert (tmp_path / name).read_bytes() == (synthetic_root / name).read_bytes()


def test_the_dataset_config_loads_labelled_frames(synthetic_root):
    from mmengine.config import Config

    from voxformer.registry import DATASETS

    cfg = Config.fromfile("configs/_base_/datasets/synthetic_seg.py")
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset = DATASETS.build(dict(loader.dataset, data_root=str(synthetic_root)))
        item = dataset[0]
        seg = item["data_samples"].gt_pts_seg
        assert len(seg.pts_semantic_mask) == len(item["inputs"]["points"]) == len(seg.point_distance)
        assert dataset.metainfo["absent_seg_classes"] == sem.ABSENT_CLASSES
    raw = sk.read_label(synthetic_root / dataset.get_data_info(0)["pts_semantic_mask_path"])[0]
    assert len(raw) == len(item["inputs"]["points"])  # validation keeps every point
