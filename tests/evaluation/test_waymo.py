import math

import numpy as np
import pytest

from voxformer.cli import main
from voxformer.errors import VoxformerError
from voxformer.evaluation.waymo_eval import (
    assign_difficulty,
    average_precision,
    evaluate_waymo,
    heading_accuracy,
    range_bin,
)
from voxformer.evaluation.waymo_proto import WaymoObjects, read_objects, write_objects

REFERENCE = {  # the official tool on the fake files (shared/data/real/README.md)
    "VEHICLE_LEVEL_1": (0.209682, 0.16354),
    "VEHICLE_LEVEL_2": (0.206809, 0.16123),
    "PEDESTRIAN_LEVEL_1": (0.129258, 0.0984962),
    "PEDESTRIAN_LEVEL_2": (0.125136, 0.0953438),
    "SIGN_LEVEL_1": (0.0926278, 0.0635938),
    "SIGN_LEVEL_2": (0.067927, 0.0466355),
    "CYCLIST_LEVEL_1": (0.0, 0.0),
    "CYCLIST_LEVEL_2": (0.0, 0.0),
}


def objects(boxes, types, frames, scores=None, difficulty=None, num_points=None):
    n = len(boxes)
    return WaymoObjects(
        boxes=np.asarray(boxes, np.float64).reshape(n, 7),
        types=np.asarray(types, np.int64),
        scores=np.ones(n) if scores is None else np.asarray(scores, np.float64),
        difficulty=np.zeros(n, np.int64) if difficulty is None else np.asarray(difficulty, np.int64),
        num_points=np.full(n, 100) if num_points is None else np.asarray(num_points, np.int64),
        overlap_with_nlz=np.zeros(n, bool),
        frames=np.asarray(frames, np.int64),
        frame_keys=[("segment", i) for i in range(max(list(frames), default=-1) + 1)],
    )


@pytest.fixture
def fake_files(real_data):
    folder = real_data / "waymo"
    gt = read_objects(folder / "fake_ground_truths.bin")
    return gt, read_objects(folder / "fake_predictions.bin", frame_keys=gt.frame_keys)


def test_reference_table(fake_files):
    results = evaluate_waymo(*fake_files)
    for line, (expected_map, expected_maph) in REFERENCE.items():
        values = results[f"OBJECT_TYPE_TYPE_{line}"]
        # the official printout's 6 significant digits, exactly (float32 precision / recall / area)
        assert f"{values['mAP']:.6g}" == f"{expected_map:.6g}", line
        assert f"{values['mAPH']:.6g}" == f"{expected_maph:.6g}", line


def test_without_the_difficulty_step_vehicle_level_1_is_higher(fake_files):
    gt, pred = fake_files
    # keep every box (even with 0 points) and count every unlabeled box as LEVEL_1
    gt.num_points, gt.difficulty = np.full(len(gt), 100), np.where(gt.difficulty == 0, 1, gt.difficulty)
    assert evaluate_waymo(gt, pred)["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1"]["mAP"] == pytest.approx(0.213218, abs=1e-5)


def test_command_prints_official_lines(real_data, tmp_path, capsys):
    folder = real_data / "waymo"
    out = tmp_path / "waymo.json"
    code = main(["evaluate", "waymo", "--gt", str(folder / "fake_ground_truths.bin"),
                 "--pred", str(folder / "fake_predictions.bin"), "--json", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1: [mAP 0.209682] [mAPH 0.16354]"
    assert any(line.startswith("RANGE_TYPE_VEHICLE_[0, 30)_LEVEL_1: [mAP ") for line in printed)
    assert out.is_file()


def test_proto_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    boxes = np.c_[rng.normal(size=(5, 3)), rng.uniform(1, 4, (5, 3)), rng.uniform(-3, 3, 5)]
    written = objects(boxes, [1, 2, 3, 4, 1], [0, 0, 1, 2, 2], rng.uniform(size=5), [0, 1, 2, 0, 2], [0, 3, 9, 7, 1])
    write_objects(tmp_path / "o.bin", written)
    read = read_objects(tmp_path / "o.bin")
    np.testing.assert_allclose(read.boxes, boxes)
    np.testing.assert_allclose(read.scores, written.scores, rtol=1e-6)  # float32 in the proto
    for field in ("types", "difficulty", "num_points", "frames"):
        np.testing.assert_array_equal(getattr(read, field), getattr(written, field))
    assert read.frame_keys == written.frame_keys


def test_read_objects_errors(tmp_path):
    with pytest.raises(VoxformerError, match="missing.bin: Waymo objects file not found"):
        read_objects(tmp_path / "missing.bin")
    (tmp_path / "bad.bin").write_bytes(b"\xff\xff\xff")
    with pytest.raises(VoxformerError, match="bad.bin: not a serialized metrics.Objects"):
        read_objects(tmp_path / "bad.bin")


def test_difficulty_step():
    keep, level = assign_difficulty([0, 0, 0, 2, 1], [0, 5, 6, 50, 3])
    assert keep.tolist() == [False, True, True, True, True]
    assert level[1:].tolist() == [2, 1, 2, 1]


def test_heading_accuracy_wraps():
    np.testing.assert_allclose(
        heading_accuracy(np.array([3.1, 0.0]), np.array([-3.1, math.pi])), [1 - 0.0832 / math.pi, 0], atol=1e-3
    )


def test_one_tp_one_fp_and_flipped_heading():
    gt_box = [10.0, 0, 0, 4, 2, 1.5, 0.3]
    gt = objects([gt_box], [1], [0])
    # a perfect match scored 0.9 and a far false positive scored 0.5
    pred = objects([gt_box, [40.0, 0, 0, 4, 2, 1.5, 0]], [1, 1], [0, 0], [0.9, 0.5])
    line = evaluate_waymo(gt, pred)["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1"]
    # points: (recall 1, precision 1) up to cut-off 0.5, then (1, 0.5); the envelope keeps 1 -> AP 1
    assert line["mAP"] == pytest.approx(1.0) and line["mAPH"] == pytest.approx(1.0)
    flipped = objects([[*gt_box[:6], gt_box[6] + math.pi]], [1], [0], [0.9])
    line = evaluate_waymo(gt, flipped)["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1"]
    assert line["mAP"] == pytest.approx(1.0) and line["mAPH"] == pytest.approx(0.0)


def test_false_positive_ranked_first_halves_precision():
    gt_box = [10.0, 0, 0, 4, 2, 1.5, 0.0]
    pred = objects([[40.0, 0, 0, 4, 2, 1.5, 0], gt_box], [1, 1], [0, 0], [0.9, 0.5])
    line = evaluate_waymo(objects([gt_box], [1], [0]), pred)["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1"]
    # only the (recall 1, precision 0.5) point: the curve is flat at 0.5
    assert line["mAP"] == pytest.approx(0.5)


def test_iou_threshold_and_ranges():
    gt = objects([[10.0, 0, 0, 4, 2, 1.5, 0], [60.0, 0, 0, 1, 1, 2, 0]], [1, 2], [0, 0])
    # the vehicle shifted by 0.8 m: IoU = 3.2 / 4.8 = 0.667 < 0.7 (a miss); the pedestrian exact
    pred = objects([[10.8, 0, 0, 4, 2, 1.5, 0], [60.0, 0, 0, 1, 1, 2, 0]], [1, 2], [0, 0], [0.8, 0.8])
    results = evaluate_waymo(gt, pred)
    assert results["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_2"]["mAP"] == 0.0
    assert results["RANGE_TYPE_PEDESTRIAN_[50, +inf)_LEVEL_2"]["mAP"] == pytest.approx(1.0)
    assert results["RANGE_TYPE_PEDESTRIAN_[0, 30)_LEVEL_2"]["mAP"] == 0.0
    assert results["OVERALL_LEVEL_2"]["mAP"] == pytest.approx(1 / 3)


def test_range_is_the_3d_centre_distance():
    # 29.95 m in the ground plane, 30.004 m in 3D: the official tool puts this pedestrian in [30, 50)
    box = [29.95, 0.0, 1.8, 1, 1, 2, 0]
    assert range_bin(np.array([box, [29.95, 0, 0, 1, 1, 2, 0], [0, 49.0, 10.0, 1, 1, 2, 0]])).tolist() == [1, 0, 2]
    results = evaluate_waymo(objects([box], [2], [0]), objects([box], [2], [0], [0.9]))
    assert results["RANGE_TYPE_PEDESTRIAN_[30, 50)_LEVEL_1"]["mAP"] == pytest.approx(1.0)
    assert results["RANGE_TYPE_PEDESTRIAN_[0, 30)_LEVEL_1"]["mAP"] == 0.0


def test_a_match_across_a_range_boundary_counts_in_neither_shard():
    # pedestrian ground truth at 29 m detected at 31 m (long boxes: IoU 18 / 22); one exact pair in
    # [0, 30) and one in [30, 50), both scored below the straddling prediction
    straddling_gt, straddling_pred = [29.0, 0, 0, 20, 1, 2, 0], [31.0, 0, 0, 20, 1, 2, 0]
    near, mid = [10.0, 0, 0, 1, 1, 2, 0], [0.0, 40, 0, 1, 1, 2, 0]
    gt = objects([straddling_gt, near, mid], [2, 2, 2], [0, 0, 0])
    pred = objects([straddling_pred, near, mid], [2, 2, 2], [0, 0, 0], [0.9, 0.5, 0.5])
    results = evaluate_waymo(gt, pred)
    for level in (1, 2):
        # the object-type shard matches all three pairs
        assert results[f"OBJECT_TYPE_TYPE_PEDESTRIAN_LEVEL_{level}"]["mAP"] == pytest.approx(1.0)
        # [0, 30) holds the 29 m ground truth but not its 31 m prediction: a FN -> recall 1/2 at precision 1
        assert results[f"RANGE_TYPE_PEDESTRIAN_[0, 30)_LEVEL_{level}"]["mAP"] == pytest.approx(0.5)
        # [30, 50) holds the 31 m prediction without its ground truth: a FP ranked first -> precision 1/2
        assert results[f"RANGE_TYPE_PEDESTRIAN_[30, 50)_LEVEL_{level}"]["mAP"] == pytest.approx(0.5)


def test_average_precision_fills_recall_gaps():
    # one point (recall 0.5, precision 1) -> start point (0, 1) -> area 0.5
    assert average_precision(np.array([1.0]), np.array([0.5])) == pytest.approx(0.5)
    # from (0.1, 1.0) to (0.5, 0.5): one 0.05 trapezoid step, then flat at the higher-recall precision
    area = average_precision(np.array([1.0, 0.5]), np.array([0.1, 0.5]))
    assert area == pytest.approx(0.1 + 0.75 * 0.05 + 0.5 * 0.35)
    # the fill steps down from the higher recall (0.45, 0.40, ..., 0.15), so the trapezoid is the
    # 0.03 left next to the lower-recall point (0.12)
    area = average_precision(np.array([1.0, 0.5]), np.array([0.12, 0.5]))
    assert area == pytest.approx(0.12 + 0.75 * 0.03 + 0.5 * 0.35)
    assert average_precision(np.array([]), np.array([])) == 0.0
