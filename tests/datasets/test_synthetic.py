import numpy as np
import pytest
import torch
from voxformer.ops import count_points_in_boxes

from voxformer.datasets.infos import info_path, load_infos
from voxformer.datasets.io import read_points


def _all_records(root):
    return [r for split in ("train", "val") for r in load_infos(info_path(root, "synthetic", split))["data_list"]]


def test_splits_and_layout(synthetic_root):
    train = load_infos(info_path(synthetic_root, "synthetic", "train"))
    val = load_infos(info_path(synthetic_root, "synthetic", "val"))
    assert [r["frame_id"] for r in train["data_list"]] == ["000000", "000001", "000002", "000003"]
    assert [r["frame_id"] for r in val["data_list"]] == ["000004", "000005"]
    assert train["metainfo"]["classes"] == ("Car", "Pedestrian", "Cyclist")
    assert (synthetic_root / "synthetic_dbinfos_train.pkl").is_file()


def test_same_seed_same_bytes(synthetic_root, tmp_path):
    from voxformer.datasets.formats.synthetic import write_frame

    for index in (0, 4):
        write_frame(tmp_path, 3, index, "hdl64")
        for name in (f"points/{index:06d}.bin", f"labels/{index:06d}.pkl"):
            assert (tmp_path / name).read_bytes() == (synthetic_root / name).read_bytes(), name
    write_frame(tmp_path, 4, 0, "hdl64")
    assert (tmp_path / "points/000000.bin").read_bytes() != (synthetic_root / "points/000000.bin").read_bytes()


def test_every_box_has_points_and_counts_match_a_recount(synthetic_root):
    for record in _all_records(synthetic_root):
        points = read_points(synthetic_root / record["lidar_path"], 4)
        boxes = record["annos"]["boxes"]
        recount = count_points_in_boxes(torch.from_numpy(points[:, :3]), torch.from_numpy(boxes)).numpy()
        assert (record["annos"]["num_points"] >= 1).all()
        np.testing.assert_array_equal(record["annos"]["num_points"], recount)


def test_points_are_in_the_lidar_frame(synthetic_root):
    points = read_points(synthetic_root / "points/000000.bin", 4)
    near = np.hypot(points[:, 0], points[:, 1]) < 8
    assert abs(np.median(points[near, 2]) + 1.73) < 0.15  # ground about one mount height below the sensor
    assert points[:, 3].min() >= 0 and points[:, 3].max() <= 1
    assert len(points) > 50_000


def test_class_mix_distances_and_sparse_cars(synthetic_root):
    records = _all_records(synthetic_root)
    counts = {name: [] for name in ("Car", "Pedestrian", "Cyclist")}
    far, car_points = [], []
    for record in records:
        annos = record["annos"]
        for name in counts:
            counts[name].append(int((annos["names"] == name).sum()))
        far.append(np.hypot(annos["boxes"][:, 0], annos["boxes"][:, 1]).max())
        car_points += annos["num_points"][annos["names"] == "Car"].tolist()
    assert 8 <= np.mean(counts["Car"]) <= 20 and min(counts["Car"]) >= 5
    assert 2 <= np.mean(counts["Pedestrian"]) <= 8
    assert 1 <= np.mean(counts["Cyclist"]) <= 4
    assert max(far) >= 70
    assert np.mean(np.array(car_points) < 50) >= 0.25


def test_labels_have_the_metric_fields(synthetic_root):
    annos = _all_records(synthetic_root)[0]["annos"]
    n = len(annos["boxes"])
    assert annos["bbox"].shape == (n, 4) and (annos["bbox"][:, 3] > annos["bbox"][:, 1]).all()
    assert set(np.unique(annos["difficulty"])) <= {-1, 0, 1, 2}
    assert ((annos["level"] == 2) == (annos["num_points"] <= 5)).all()
    assert ((annos["occlusion"] >= 0) & (annos["occlusion"] <= 1)).all()


def test_resume_keeps_finished_frames(synthetic_root, synthetic_frames, capsys):
    from voxformer.datasets.formats.synthetic import _is_done, generate

    assert generate(synthetic_root, synthetic_frames, seed=3, workers=1, progress=False) == []
    assert "resuming: 6 of 6" in capsys.readouterr().out
    assert not _is_done(synthetic_root, 0, 4, "hdl64")  # another seed regenerates


def test_rectangles_overlap_separating_axes():
    from voxformer.datasets.synthetic.scene import rectangles_overlap

    square = np.array([0.0, 0.0, 2.0, 2.0, 0.0])
    others = np.array([[1.9, 0, 2, 2, 0], [2.1, 0, 2, 2, 0], [2.3, 0, 2, 2, np.pi / 4], [2.5, 0, 2, 2, np.pi / 4]])
    # a square turned 45 degrees reaches sqrt(2) from its centre: 2.3 - 1.41 < 1 overlaps, 2.5 - 1.41 > 1 does not
    np.testing.assert_array_equal(rectangles_overlap(square, others), [True, False, True, False])


@pytest.mark.parametrize("sensor, beams, mount", [("hdl64", 64, 1.73), ("waymo", 64, 2.18)])
def test_sensor_patterns(sensor, beams, mount):
    from voxformer.datasets.synthetic.sensors import get_sensor

    model = get_sensor(sensor)
    elevations = np.array(model.elevations_deg)
    assert model.num_beams == beams and model.mount_height == mount
    assert np.all(np.diff(elevations) < 0)
    assert np.allclose(np.linalg.norm(model.directions, axis=-1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="unknown sensor"):
        get_sensor("vlp16")
