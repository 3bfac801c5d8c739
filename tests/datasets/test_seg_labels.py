"""Per-point label files and label maps: SemanticKITTI .label, nuScenes-lidarseg, the learning space."""

import numpy as np
import pytest
import torch

from voxformer.datasets.formats import nuscenes_lidarseg as nl
from voxformer.datasets.formats import semantickitti as sk
from voxformer.datasets.seg_labels import read_seg_labels
from voxformer.errors import VoxformerError


def test_label_round_trip_keeps_lower_and_upper_16_bits(tmp_path):
    rng = np.random.default_rng(0)
    semantic = rng.integers(0, 1 << 16, 1000)
    instance = rng.integers(0, 1 << 16, 1000)
    semantic[:2], instance[:2] = (0xFFFF, 0), (0, 0xFFFF)
    sk.write_label(tmp_path / "a.label", semantic, instance)
    raw = np.fromfile(tmp_path / "a.label", dtype="<u4")
    np.testing.assert_array_equal(raw & 0xFFFF, semantic)
    np.testing.assert_array_equal(raw >> 16, instance)
    read_semantic, read_instance = sk.read_label(tmp_path / "a.label", 1000)
    np.testing.assert_array_equal(read_semantic, semantic)
    np.testing.assert_array_equal(read_instance, instance)
    with pytest.raises(VoxformerError, match="65535"):
        sk.encode_label(np.array([1 << 16]))


def test_semantickitti_learning_map_folds_as_the_yaml_says():
    assert len(sk.CLASSES) == 19 and len(sk.PALETTE) == 19
    expected = {
        10: "car", 252: "car", 11: "bicycle", 13: "other-vehicle", 16: "other-vehicle", 257: "other-vehicle",
        259: "other-vehicle", 20: "other-vehicle", 18: "truck", 258: "truck", 30: "person", 254: "person",
        31: "bicyclist", 253: "bicyclist", 32: "motorcyclist", 255: "motorcyclist", 15: "motorcycle",
        40: "road", 60: "road", 44: "parking", 48: "sidewalk", 49: "other-ground", 50: "building",
        51: "fence", 70: "vegetation", 71: "trunk", 72: "terrain", 80: "pole", 81: "traffic-sign",
    }  # fmt: skip
    for raw, name in expected.items():
        assert sk.CLASSES[sk.LEARNING_MAP[raw]] == name, raw
    for raw in (0, 1, 52, 99):
        assert sk.LEARNING_MAP[raw] == sk.IGNORE_INDEX
    assert set(sk.LEARNING_MAP) == set(sk.RAW_LABELS) and len(sk.RAW_LABELS) == 34
    learning = np.arange(19)
    np.testing.assert_array_equal(sk.to_learning(sk.to_raw(learning)), learning)  # learning_map_inv inverts it
    assert sk.to_raw(np.array([255]))[0] == 0


def test_nuscenes_learning_map_merges_32_into_16():
    assert len(nl.RAW_CLASSES) == 32 and len(nl.CLASSES) == 16
    names = {raw: (nl.CLASSES[v] if v != 255 else None) for raw, v in nl.LEARNING_MAP.items()}
    assert names[15] == names[16] == "bus"
    assert names[2] == names[3] == names[4] == names[6] == "pedestrian"
    assert names[24] == "driveable_surface" and names[30] == "vegetation" and names[9] == "barrier"
    ignored = [raw for raw, name in names.items() if name is None]
    assert ignored == [0, 1, 5, 7, 8, 10, 11, 13, 19, 20, 29, 31]
    assert sorted({v for v in nl.LEARNING_MAP.values() if v != 255}) == list(range(16))


def test_unknown_ids_and_wrong_lengths_name_the_file(tmp_path):
    sk.write_label(tmp_path / "x.label", np.array([10, 40, 77]))
    with pytest.raises(VoxformerError, match=r"x\.label.*unknown SemanticKITTI label id.*77"):
        read_seg_labels(tmp_path / "x.label", "semantickitti", 3)
    with pytest.raises(VoxformerError, match=r"x\.label: 3 labels but its scan has 4 points"):
        read_seg_labels(tmp_path / "x.label", "semantickitti", 4)
    (tmp_path / "odd.label").write_bytes(b"\x00" * 6)
    with pytest.raises(VoxformerError, match=r"odd\.label: 6 bytes"):
        sk.read_label(tmp_path / "odd.label")
    np.array([17, 40], np.uint8).tofile(tmp_path / "t_lidarseg.bin")
    with pytest.raises(VoxformerError, match=r"t_lidarseg\.bin.*unknown nuScenes-lidarseg label id.*40"):
        read_seg_labels(tmp_path / "t_lidarseg.bin", "nuscenes", 2)
    with pytest.raises(VoxformerError, match=r"t_lidarseg\.bin: 2 labels but its scan has 5"):
        read_seg_labels(tmp_path / "t_lidarseg.bin", "nuscenes", 5)
    np.save(tmp_path / "p.npy", np.array([0, 18, 255, 19]))
    with pytest.raises(VoxformerError, match=r"p\.npy: unknown label id.*19"):
        read_seg_labels(tmp_path / "p.npy", "learning", 4, num_classes=19)
    with pytest.raises(VoxformerError, match=r"missing\.label: label file not found"):
        read_seg_labels(tmp_path / "missing.label", "semantickitti")


def test_load_point_seg_labels_aligns_with_the_points(tmp_path):
    from voxformer.datasets.transforms import LoadPointSegLabels, LoadPointsFromFile

    points = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    points.tofile(tmp_path / "s.bin")
    sk.write_label(tmp_path / "s.label", np.array([10, 252, 40, 0, 81]), np.array([1, 1, 0, 0, 2]))
    results = {"lidar_path": str(tmp_path / "s.bin"), "num_features": 4, "label_format": "semantickitti"}
    results = LoadPointsFromFile()(dict(results, pts_semantic_mask_path=str(tmp_path / "s.label")))
    results = LoadPointSegLabels()(results)
    assert results["pts_semantic_mask"].dtype == torch.int64
    assert results["pts_semantic_mask"].tolist() == [0, 0, 8, 255, 18]
    np.array([1, 2, 3], np.float32).tofile(tmp_path / "short.bin")
    with pytest.raises(VoxformerError, match=r"s\.label: 5 labels but its scan has 2 points"):
        LoadPointSegLabels()(dict(results, points=torch.zeros(2, 4)))
    with pytest.raises(VoxformerError, match=r"s\.bin: the scan has no label file"):
        LoadPointSegLabels()({"lidar_path": str(tmp_path / "s.bin"), "points": torch.zeros(5, 4)})


def test_point_data_on_the_sample_keeps_lengths_equal():
    from voxformer.structures.det3d_sample import Det3DSample, PointData

    sample = Det3DSample()
    sample.gt_pts_seg = PointData(pts_semantic_mask=torch.arange(4), point_distance=torch.ones(4))
    sample.pred_pts_seg = PointData(pts_semantic_mask=torch.zeros(4, dtype=torch.long))
    assert len(sample.gt_pts_seg) == 4 and sample.pred_pts_seg.pts_semantic_mask.tolist() == [0, 0, 0, 0]
    picked = sample.gt_pts_seg[torch.tensor([True, False, True, False])]
    assert picked.pts_semantic_mask.tolist() == [0, 2] and len(picked.point_distance) == 2
    with pytest.raises(AssertionError, match="3 rows"):
        sample.gt_pts_seg.pts_logits = torch.zeros(3, 19)
    with pytest.raises(AssertionError):
        sample.gt_pts_seg = torch.zeros(4)  # not a PointData
