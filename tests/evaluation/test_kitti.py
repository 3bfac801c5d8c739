import json
import math

import numpy as np
import pytest

from voxformer.cli import main
from voxformer.evaluation.kitti_eval import evaluate_kitti, flatten_kitti, format_kitti, score_thresholds


def lidar_frames(rng, num_frames, per_frame, classes=("Car", "Pedestrian", "Cyclist")):
    """Non-overlapping boxes on a grid (a 10 m cell each), random class and difficulty."""
    frames = []
    for _ in range(num_frames):
        cells = rng.choice(64, per_frame, replace=False)
        centre = np.c_[(cells % 8) * 10.0, (cells // 8) * 10.0 - 40, rng.uniform(-1, 0, per_frame)]
        size = np.c_[rng.uniform(0.6, 4.5, per_frame), rng.uniform(0.5, 2, per_frame), rng.uniform(1.4, 1.8, per_frame)]
        boxes = np.c_[centre, size, rng.uniform(-math.pi, math.pi, per_frame)]
        frames.append(
            {"name": rng.choice(classes, per_frame), "boxes_lidar": boxes, "difficulty": rng.integers(0, 3, per_frame)}
        )
    return frames


def as_detections(frames, rng):
    return [{**f, "score": rng.uniform(0.05, 1, len(f["name"]))} for f in frames]


def valid_count(frames, class_name, level):
    return sum(
        int(np.sum((f["name"] == class_name) & (f["difficulty"] <= level) & (f["difficulty"] >= 0))) for f in frames
    )


def test_ground_truth_against_itself_scores_100():
    rng = np.random.default_rng(0)
    gt = lidar_frames(rng, 60, 8)
    flat = flatten_kitti(evaluate_kitti(gt, as_detections(gt, rng)))
    for class_name in ("Car", "Pedestrian", "Cyclist"):
        for level, difficulty in enumerate(("easy", "moderate", "hard")):
            assert valid_count(gt, class_name, level) >= 41
            for row in ("bev", "3d", "aos"):
                assert flat[f"{class_name}_{row}/{difficulty}_R40"] == pytest.approx(100.0)
                assert flat[f"{class_name}_{row}/{difficulty}"] == pytest.approx(100.0)


@pytest.mark.parametrize("num_objects", [1, 5, 13, 40])
def test_fewer_than_41_objects_cannot_reach_100(num_objects):
    # the 41 precision points are indexed by threshold number, so n perfect detections fill n of them
    rng = np.random.default_rng(num_objects)
    gt = lidar_frames(rng, num_objects, 1, classes=("Car",))
    for frame in gt:
        frame["difficulty"] = np.zeros(1, np.int64)
    table = evaluate_kitti(gt, as_detections(gt, rng))["strict"]["Car"]["3d"]
    assert table[0, 1] == pytest.approx(100 * (num_objects - 1) / 40)  # R40 skips point 0
    assert table[0, 0] == pytest.approx(100 * len(range(0, num_objects, 4)) / 11)


def one_car(yaw=0.0, name="Car", score=None, difficulty=0):
    frame = {"name": np.array([name]), "boxes_lidar": np.array([[10.0, 2.0, -0.8, 4.0, 1.8, 1.5, yaw]])}
    if score is None:
        frame["difficulty"] = np.array([difficulty])
    else:
        frame["score"] = np.array([score])
    return frame


def many(frame_fn, count=45):
    return [frame_fn() for _ in range(count)]


def test_one_true_positive_and_one_false_positive_per_frame():
    gt = many(one_car)
    detections = []
    for _ in range(45):
        det = one_car(score=0.9)
        det["name"] = np.array(["Car", "Car"])
        det["boxes_lidar"] = np.concatenate([det["boxes_lidar"], [[30.0, -5, -0.8, 4, 1.8, 1.5, 0]]])
        det["score"] = np.array([0.9, 0.5])
        detections.append(det)
    table = evaluate_kitti(gt, detections)["strict"]["Car"]
    # every threshold is 0.9 (TP scores only): FPs scored 0.5 never count -> 100
    assert table["3d"][0, 1] == pytest.approx(100.0)
    for det in detections:
        det["score"] = np.array([0.5, 0.9])  # now the false positive outranks the match
    table = evaluate_kitti(gt, detections)["strict"]["Car"]
    assert table["3d"][0, 1] == pytest.approx(50.0)
    assert table["bev"][0, 0] == pytest.approx(50.0)


def test_box_rotated_by_89_degrees_is_a_miss_and_aos_counts_heading():
    gt = many(one_car)
    rotated = evaluate_kitti(gt, many(lambda: one_car(yaw=math.radians(89), score=0.9)))["strict"]["Car"]
    assert rotated["3d"][0, 1] == 0.0 and rotated["bev"][0, 1] == 0.0
    flipped = evaluate_kitti(gt, many(lambda: one_car(yaw=math.pi - 1e-6, score=0.9)))["strict"]["Car"]
    assert flipped["3d"][0, 1] == pytest.approx(100.0)  # same footprint
    assert flipped["aos"][0, 1] == pytest.approx(0.0, abs=1e-6)  # (1 + cos(pi)) / 2


def test_neighbouring_class_and_ignored_difficulty_are_neither_tp_nor_fp():
    gt = many(one_car) + many(lambda: one_car(name="Van")) + many(lambda: one_car(difficulty=2))
    detections = many(lambda: one_car(score=0.9), 135)
    table = evaluate_kitti(gt, detections)["strict"]["Car"]
    assert table["3d"][0, 1] == pytest.approx(100.0)  # easy: the Van and hard matches are ignored
    assert table["3d"][2, 1] == pytest.approx(100.0)


def image_frame(dont_care: bool):
    """A true-positive Car scored 0.60 and a Car detection scored 0.90 inside a DontCare box (or
    on empty ground without it); the DontCare row has KITTI's placeholder 3D box."""
    gt = {
        "name": np.array(["Car"] + (["DontCare"] if dont_care else [])),
        "truncated": np.zeros(1 + dont_care),
        "occluded": np.zeros(1 + dont_care, np.int64),
        "alpha": np.zeros(1 + dont_care),
        "bbox": np.array([[100.0, 100, 300, 200]] + ([[600.0, 100, 800, 200]] if dont_care else [])),
        "boxes_lidar": np.array([[10.0, 2, -0.8, 4, 1.8, 1.5, 0]] + ([[0, 0, -10, 1, 1, 1, 0]] if dont_care else [])),
    }
    det = {
        "name": np.array(["Car", "Car"]),
        "alpha": np.zeros(2),
        "bbox": np.array([[100.0, 100, 300, 200], [620.0, 110, 780, 190]]),  # the second inside the DontCare box
        "boxes_lidar": np.array([[10.0, 2, -0.8, 4, 1.8, 1.5, 0], [30.0, -8, -0.8, 4, 1.8, 1.5, 0]]),
        "score": np.array([0.60, 0.90]),
    }
    return gt, det


@pytest.mark.parametrize("dont_care", [True, False])
def test_dont_care_excuses_a_detection_in_the_2d_box_row_only(dont_care):
    frames = [image_frame(dont_care) for _ in range(40)]
    results = evaluate_kitti([f[0] for f in frames], [f[1] for f in frames])["strict"]["Car"]
    # 40 TP scores give 40 thresholds, all 0.60: precision p on points 0..39, 0 on point 40, R40 = 39 p / 40
    counted_fp = 0.5  # precision with the 0.90 detection a FP
    excused = 1.0  # precision with it excused
    image_precision = excused if dont_care else counted_fp
    moderate_r40 = 1
    assert results["bbox"][moderate_r40, 1] == pytest.approx(100 * 39 / 40 * image_precision)
    assert results["aos"][moderate_r40, 1] == pytest.approx(100 * 39 / 40 * image_precision)  # AOS follows bbox
    for row in ("bev", "3d"):  # DontCare rows have no 3D box: the detection is a FP either way
        assert results[row][moderate_r40, 1] == pytest.approx(100 * 39 / 40 * counted_fp), row
    if dont_care:
        assert results["3d"][moderate_r40, 1] == pytest.approx(48.75)
        assert results["bbox"][moderate_r40, 1] == pytest.approx(97.5)


@pytest.mark.parametrize("margin, expected", [(-1e-9, 0.0), (1e-9, 100 * 39 / 40)])
def test_overlap_a_hair_from_the_threshold_is_decided_in_float64(margin, expected):
    # two 4 x 2 x 1.5 Cars shifted along x by d: IoU (4 - d) / (4 + d); choose d for IoU 0.7 + margin
    iou = 0.7 + margin
    shift = 4 * (1 - iou) / (1 + iou)
    gt = many(one_car, 40)
    detections = []
    for _ in range(40):
        det = one_car(score=0.9)
        det["boxes_lidar"][0, 0] += shift
        detections.append(det)
    table = evaluate_kitti(gt, detections)["strict"]["Car"]
    for row in ("bev", "3d"):
        assert table[row][0, 1] == pytest.approx(expected), row


def test_calib_frame_overlaps_are_not_kittis(real_data, tmp_path):
    """Boxes converted with the calib file are tilted in the LiDAR frame (about 0.85 deg); taken as
    upright there, their overlaps move away from the camera-frame ones (what ``--calib-dir`` trades)."""
    from voxformer.commands.evaluate import read_kitti_objects
    from voxformer.evaluation.box_overlap import paired_box_iou
    from voxformer.structures import KittiCalib

    training = real_data / "kitti" / "training"
    label = training / "label_2" / "000004.txt"
    moved = []
    for line in label.read_text().splitlines():
        fields = line.split()
        if fields[0] != "DontCare":  # shift 0.4 m along camera x and 0.3 m along camera y, turn by 0.15 rad
            fields[11:15] = [f"{float(v) + step:.4f}" for v, step in zip(fields[11:15], (0.4, 0.3, 0.0, 0.15))]
        moved.append(" ".join(fields) + "\n")
    moved_label = tmp_path / label.name
    moved_label.write_text("".join(moved))
    calib = KittiCalib.from_file(training / "calib" / label.name)
    cars = read_kitti_objects(label, with_score=False)["name"] == "Car"
    for mode in ("bev", "3d"):
        camera, lidar = (
            paired_box_iou(read_kitti_objects(label, False, c)["boxes_lidar"][cars],
                           read_kitti_objects(moved_label, False, c)["boxes_lidar"][cars], mode)
            for c in (None, calib)
        )  # fmt: skip
        assert (camera > 0.3).all(), mode  # real overlaps, not a degenerate case
        assert 1e-4 < np.abs(camera - lidar).max() < 0.01, mode


def test_score_thresholds_sample_recall():
    thresholds = score_thresholds(np.linspace(1, 0.01, 100), num_gt=100)
    assert len(thresholds) == 41
    assert thresholds[0] == 1.0 and thresholds[-1] == pytest.approx(0.01)


def test_empty_frames_and_missing_fields():
    empty = {"name": np.zeros(0, str), "boxes_lidar": np.zeros((0, 7)), "difficulty": np.zeros(0)}
    results = evaluate_kitti([empty], [{**empty, "score": np.zeros(0)}])
    assert results["strict"]["Car"]["3d"].sum() == 0
    with pytest.raises(ValueError, match="score"):
        evaluate_kitti([empty], [empty])
    with pytest.raises(ValueError, match="frames"):
        evaluate_kitti([empty], [])


def test_printout_has_the_familiar_headers():
    rng = np.random.default_rng(3)
    gt = lidar_frames(rng, 10, 4)
    text = format_kitti(evaluate_kitti(gt, as_detections(gt, rng)))
    assert "Car AP_R40@0.70, 0.70:" in text and "Pedestrian AP@0.25, 0.25:" in text
    assert "3d   AP:" in text and "aos  AP:" in text


def test_command_on_real_labels_against_themselves(real_data, tmp_path, capsys):
    labels = real_data / "kitti" / "training" / "label_2"
    results = tmp_path / "results"
    results.mkdir()
    for path in labels.glob("*.txt"):
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("DontCare")]
        (results / path.name).write_text("".join(f"{line} 0.9\n" for line in lines))
    out = tmp_path / "kitti.json"
    calib = real_data / "kitti" / "training" / "calib"
    assert main(["evaluate", "kitti", "--gt-dir", str(labels), "--pred-dir", str(results), "--json", str(out)]) == 0
    assert "Car AP_R40@0.70, 0.70, 0.70:" in capsys.readouterr().out
    camera = json.loads(out.read_text())
    assert main(["evaluate", "kitti", "--gt-dir", str(labels), "--pred-dir", str(results), "--calib-dir", str(calib),
                 "--json", str(out)]) == 0  # fmt: skip
    lidar = json.loads(out.read_text())
    # a few GT per class: below 100 (fewer than 41); a box has IoU 1 with itself in either frame
    assert camera == pytest.approx(lidar)
    assert camera["Car_3d/easy_R40"] == camera["Car_image/easy_R40"]
