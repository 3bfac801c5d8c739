"""LidarDetDataset over a hand-written info file: labels, empty-frame filtering and class ids per frame."""

import numpy as np

from voxformer.datasets import CBGSDataset, LidarDetDataset
from voxformer.datasets.infos import empty_annos, save_infos


def _record(frame_id, names):
    annos = empty_annos()
    annos["boxes"] = np.zeros((len(names), 7), np.float32)
    annos["names"] = np.array(names, dtype=str)
    annos["num_points"] = np.full(len(names), 4, np.int32)
    annos["difficulty"] = np.zeros(len(names), np.int32)
    return {
        "frame_id": frame_id,
        "lidar_path": f"points/{frame_id}.bin",
        "num_features": 4,
        "timestamp": None,
        "pose": None,
        "annos": annos,
    }


FRAMES = {"a": ["Cyclist", "Car", "Cyclist"], "b": ["Van", "DontCare"], "c": [], "d": ["Pedestrian", "Tram"]}


def _dataset(root, **kwargs):
    save_infos(root / "x_infos_train.pkl", [_record(k, v) for k, v in FRAMES.items()], {})
    metainfo = {"classes": ("Car", "Pedestrian", "Cyclist")}
    return LidarDetDataset(data_root=str(root), ann_file="x_infos_train.pkl", metainfo=metainfo, **kwargs)


def test_labels_index_the_class_list_and_other_names_get_minus_one(tmp_path):
    dataset = _dataset(tmp_path, filter_empty_gt=False)
    assert len(dataset) == 4
    assert dataset.get_data_info(0)["gt_labels_3d"].tolist() == [2, 0, 2]
    assert dataset.get_data_info(3)["gt_labels_3d"].tolist() == [1, -1]


def test_cat_ids_list_each_known_class_once(tmp_path):
    dataset = _dataset(tmp_path, filter_empty_gt=False)
    assert [dataset.get_cat_ids(i) for i in range(len(dataset))] == [[0, 2], [], [], [1]]


def test_filter_empty_gt_keeps_frames_with_a_known_class(tmp_path):
    dataset = _dataset(tmp_path)
    assert [dataset.get_data_info(i)["frame_id"] for i in range(len(dataset))] == ["a", "d"]
    assert len(_dataset(tmp_path, test_mode=True)) == 4


def test_cbgs_wraps_the_base_dataset(tmp_path):
    balanced = CBGSDataset(_dataset(tmp_path, filter_empty_gt=False))
    frames = {balanced.get_data_info(i)["frame_id"] for i in range(len(balanced))}
    assert frames == {"a", "d"} and len(balanced) == 3  # 3 class occurrences over 3 classes: one draw each
