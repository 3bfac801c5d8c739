"""What ``voxformer vis`` reads and crops: KITTI labels in the LiDAR frame (``--gt label_2.txt --calib``),
predictions with their classes and scores, ``--range`` / ``--config``."""

import json

import numpy as np
import pytest

from voxformer.commands.vis import read_gt_boxes, read_predictions
from voxformer.errors import VoxformerError


def test_kitti_labels_become_lidar_boxes_without_dontcare(real_data):
    kitti = real_data / "kitti" / "training"
    boxes = read_gt_boxes(str(kitti / "label_2" / "000003.txt"), str(kitti / "calib" / "000003.txt"))
    rows = [line.split()[0] for line in (kitti / "label_2" / "000003.txt").read_text().splitlines()]
    assert boxes.shape == (sum(name != "DontCare" for name in rows), 7)
    car = boxes[0]  # the one Car about 13 m ahead (x forward in the LiDAR frame)
    assert 10 < car[0] < 16 and abs(car[1]) < 5 and 3 < car[3] < 5.5 and car[3] > car[4]


def test_a_kitti_label_without_calib_names_the_option(tmp_path):
    label = tmp_path / "000000.txt"
    label.write_text("Car 0.00 0 0.0 0 0 10 10 1.5 1.6 4.0 1.0 1.6 10.0 0.0\n")
    with pytest.raises(VoxformerError, match="--calib"):
        read_gt_boxes(str(label), None)


def test_json_ground_truth_still_reads(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text('{"boxes_3d": [[1, 2, 0, 4, 2, 1.5, 0.1]]}')
    np.testing.assert_allclose(read_gt_boxes(str(path), None), [[1, 2, 0, 4, 2, 1.5, 0.1]])


def _write_predictions(path, names):
    boxes = [[1, 0, 0, 4, 2, 1.5, 0], [5, 5, 0, 0.8, 0.6, 1.7, 1.0], [9, -3, 0, 1.8, 0.7, 1.6, 2.0]]
    path.write_text(json.dumps({"boxes_3d": boxes, "scores_3d": [0.9, 0.2, 0.5], "names": names}))


def test_predictions_keep_their_classes_and_scores_above_the_threshold(tmp_path):
    path = tmp_path / "pred.json"
    _write_predictions(path, ["Car", "Pedestrian", "Cyclist"])
    detections = read_predictions(str(path), 0.3)
    assert detections.names == ["Car", "Cyclist"]
    np.testing.assert_allclose(detections.scores.numpy(), [0.9, 0.5])
    np.testing.assert_allclose(detections.boxes.tensor[:, 0].numpy(), [1, 9])
    assert len(read_predictions(str(path), 0.95)) == 0


def test_predictions_with_a_name_missing_name_the_file(tmp_path):
    path = tmp_path / "pred.json"
    _write_predictions(path, ["Car", "Pedestrian"])
    with pytest.raises(VoxformerError, match="pred.json: 3 boxes but 2 names"):
        read_predictions(str(path), 0.0)


def test_a_bev_range_shows_only_the_points_inside():
    from voxformer.visualization.bev import draw_bev

    points = np.array([[1.0, 1.0, 0.0], [30.0, 0.0, 0.0], [-5.0, -25.0, 1.0], [0.0, 40.0, 2.0]], np.float32)
    figure = draw_bev(points, point_cloud_range=(-25.6, -25.6, -3, 25.6, 25.6, 1))
    shown = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(shown, [[-1.0, 1.0], [25.0, -5.0]])  # drawn as (-y, x)
    assert figure.axes[0].get_xlim() == (-25.6, 25.6)


def test_vis_crops_to_a_config_range(tmp_path):
    from voxformer.cli import main

    points = tmp_path / "scan.bin"
    np.random.default_rng(0).uniform(-60, 60, size=(500, 4)).astype(np.float32).tofile(points)
    out = tmp_path / "pictures"
    config = "configs/dsvt/dsvt_synthetic_quick.py"
    assert main(["vis", str(points), "--point-format", "kitti", "--config", config, "--out-dir", str(out)]) == 0
    assert (out / "scan_bev.png").is_file()
