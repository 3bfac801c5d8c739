import numpy as np
import pytest
import torch

from voxformer.datasets.formats.kitti import kitti_difficulty, read_calib, read_label
from voxformer.errors import VoxformerError

LINE = "Car 0.00 0 1.85 387.63 181.54 423.81 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57"


def test_read_label(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(LINE + "\nDontCare -1 -1 -10 1 2 3 4 -1 -1 -1 -1000 -1000 -1000 -10\n")
    label = read_label(path)
    assert label["names"].tolist() == ["Car", "DontCare"]
    np.testing.assert_allclose(label["dimensions"][0], [1.67, 1.87, 3.69], rtol=1e-6)
    np.testing.assert_allclose(label["location"][0], [-16.53, 2.39, 58.49], rtol=1e-6)


def test_label_with_wrong_field_count_names_file_and_line(tmp_path):
    path = tmp_path / "000007.txt"
    path.write_text(LINE + "\n" + " ".join(LINE.split()[:12]) + "\n")
    with pytest.raises(VoxformerError, match=r"000007.txt:2: expected 15 fields, got 12"):
        read_label(path)


def test_calib_missing_matrix_names_file(tmp_path):
    path = tmp_path / "000001.txt"
    path.write_text("P2: " + " ".join(["1"] * 12) + "\nR0_rect: " + " ".join(["1"] * 9) + "\n")
    with pytest.raises(VoxformerError, match=r"000001.txt: calib has no Tr_velo_to_cam matrix"):
        read_calib(path)


def test_difficulty_rules():
    bbox = np.array([[0, 0, 10, 50], [0, 0, 10, 30], [0, 0, 10, 30], [0, 0, 10, 20], [0, 0, 10, 50]], np.float32)
    occluded = np.array([0, 1, 2, 0, 0])
    truncated = np.array([0.0, 0.2, 0.4, 0.0, 0.6])
    np.testing.assert_array_equal(kitti_difficulty(bbox, occluded, truncated), [0, 1, 2, -1, -1])


def test_real_kitti_boxes_contain_points(real_data, tmp_path):
    from voxformer.ops import count_points_in_boxes

    from voxformer.datasets.formats.kitti import convert
    from voxformer.datasets.infos import load_infos
    from voxformer.datasets.io import read_points

    root = real_data / "kitti"
    if not (root / "training" / "label_2").is_dir():
        pytest.skip(f"no KITTI training labels under {root}")
    convert(type("Args", (), {"root_path": str(root), "out_dir": str(tmp_path), "workers": 1})())
    records = load_infos(tmp_path / "kitti_infos_train.pkl")["data_list"]
    assert [r["frame_id"] for r in records] == [f"{i:06d}" for i in range(6)]
    checked = 0
    for record in records:
        annos = record["annos"]
        cared = annos["names"] != "DontCare"
        points = read_points(tmp_path / record["lidar_path"], 4)
        counts = count_points_in_boxes(torch.from_numpy(points[:, :3]), torch.from_numpy(annos["boxes"][cared]))
        assert (counts > 0).all(), (record["frame_id"], annos["names"][cared], counts)
        np.testing.assert_array_equal(annos["num_points"][cared], counts.numpy())
        checked += int(cared.sum())
    assert checked >= 6
    car_13m = records[3]["annos"]["boxes"][0]  # README: frame 000003 has one Car about 13 m ahead
    assert 11 < car_13m[0] < 15 and abs(car_13m[1]) < 5
    assert (tmp_path / "kitti_dbinfos_train.pkl").is_file()
