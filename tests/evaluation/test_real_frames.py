"""Recall and unmatched detections per frame (voxformer.evaluation.frame_recall, frame_files) and the
``voxformer evaluate kitti --fp-per-frame`` / ``evaluate lidar-boxes`` commands."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from voxformer.apis.inference import Detections
from voxformer.cli import main
from voxformer.evaluation.frame_files import class_indices, covered_by, image_boxes, in_camera_view
from voxformer.evaluation.frame_recall import IGNORED, Frame, evaluate_frames, in_bev_range
from voxformer.structures import Boxes3D, KittiCalib

CLASSES = ("Car", "Pedestrian", "Cyclist")
CAR = [10.0, 0.0, -0.9, 4.0, 2.0, 1.5, 0.0]
PED = [8.0, 3.0, -0.8, 1.0, 1.0, 1.7, 0.0]


def shifted(box, dx=0.0, dy=0.0):
    return [box[0] + dx, box[1] + dy, *box[2:]]


def score(gt, gt_class, pred, pred_class, scores=None, **masks):
    frame = Frame("f", gt, gt_class, pred, pred_class, scores if scores is not None else [0.9] * len(pred), **masks)
    return evaluate_frames([frame], CLASSES, score_thr=0.3)


def test_hit_and_miss():
    hit = score([CAR], [0], [shifted(CAR, 0.3)], [0])
    assert hit["classes"]["Car"] == {"iou_thr": 0.5, "gt": 1, "found": 1, "recall": 1.0, "fp": 0}
    assert hit["fp_per_frame"] == 0
    miss = score([CAR], [0], [shifted(CAR, 0.0, 5.0)], [0])
    assert miss["classes"]["Car"]["recall"] == 0 and miss["fp"] == {"f": 1}


@pytest.mark.parametrize(
    "box, cls, shift, found",
    [
        (CAR, 0, 1.6, False),  # IoU (4 - 1.6) / (4 + 1.6) = 0.43 < 0.5
        (CAR, 0, 1.2, True),  # 0.54
        (PED, 1, 0.5, True),  # (1 - 0.5) / (1 + 0.5) = 0.33 >= 0.25
        (PED, 1, 0.65, False),  # 0.21
        (PED, 2, 0.5, True),  # cyclists share the 0.25 threshold
    ],
)
def test_bev_iou_threshold_per_class(box, cls, shift, found):
    result = score([box], [cls], [shifted(box, shift)], [cls])
    assert result["classes"][CLASSES[cls]]["found"] == int(found)
    assert result["fp_per_frame"] == (0 if found else 1)


def test_unmatched_outside_the_region_is_not_charged():
    far = shifted(CAR, 40.0)
    outside = score([CAR], [0], [CAR, far], [0, 0], pred_in_region=[True, False])
    assert outside["fp_per_frame"] == 0 and outside["classes"]["Car"]["recall"] == 1
    inside = score([CAR], [0], [CAR, far], [0, 0])
    assert inside["fp_per_frame"] == 1


def test_ground_truth_outside_the_region_is_no_miss_and_excuses_its_detection():
    result = score([CAR, shifted(CAR, 30.0)], [0, 0], [shifted(CAR, 30.0)], [0], gt_in_region=[True, False])
    assert result["classes"]["Car"]["gt"] == 1 and result["classes"]["Car"]["found"] == 0
    assert result["fp_per_frame"] == 0


def test_ignored_objects_and_excused_detections_are_not_charged():
    van = shifted(CAR, 0.0, 6.0)
    result = score([CAR, van], [0, IGNORED], [CAR, van], [0, 0])
    assert result["classes"]["Car"]["gt"] == 1 and result["fp_per_frame"] == 0  # the Van is no miss either
    elsewhere = shifted(CAR, 0.0, -8.0)
    assert score([CAR], [0], [CAR, elsewhere], [0, 0], pred_excused=[False, True])["fp_per_frame"] == 0
    assert score([CAR], [0], [CAR, elsewhere], [0, 0])["fp_per_frame"] == 1


def test_duplicates_wrong_classes_and_low_scores():
    duplicate = score([CAR], [0], [CAR, shifted(CAR, 0.2)], [0, 0], scores=[0.5, 0.8])
    assert duplicate["classes"]["Car"]["found"] == 1 and duplicate["fp_per_frame"] == 1
    wrong_class = score([PED], [1], [PED], [2])
    assert wrong_class["classes"]["Pedestrian"]["found"] == 0 and wrong_class["classes"]["Cyclist"]["fp"] == 1
    low = score([CAR], [0], [CAR, shifted(CAR, 0, 9)], [0, 0], scores=[0.29, 0.1])
    assert low["classes"]["Car"]["found"] == 0 and low["fp_per_frame"] == 0
    other_class = score([CAR], [0], [CAR, PED], [0, IGNORED])
    assert other_class["fp_per_frame"] == 0 and other_class["dropped_detections"] == 1
    assert math.isnan(score([], [], [], [])["classes"]["Car"]["recall"])


def test_bev_range_is_half_open():
    boxes = np.array([shifted(CAR, -10.0), shifted(CAR, 15.6), shifted(CAR, 15.0)])  # x = 0, 25.6, 25
    assert in_bev_range(boxes, (0.0, -25.6, 25.6, 25.6)).tolist() == [True, False, True]
    assert in_bev_range(boxes, None).all()


def camera_calib() -> KittiCalib:
    """A KITTI-like calib: camera at the LiDAR origin looking along +x (cam x = -y, y = -z, z = x)."""
    p2 = [[721.5, 0, 609.6, 0], [0, 721.5, 172.9, 0], [0, 0, 1, 0]]
    return KittiCalib(np.array(p2), np.eye(3), np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]]))


def test_camera_view_and_dontcare_cover():
    calib = camera_calib()
    boxes = np.array([CAR, shifted(CAR, -20.0), shifted(CAR, 0.0, 30.0)])  # ahead, behind, far to the left
    assert in_camera_view(boxes, calib).tolist() == [True, False, False]
    assert in_camera_view(boxes[:1], calib, image_size=(600, 375)).tolist() == [False]  # u = 609.6
    image = image_boxes(boxes, calib)
    assert image[0, 0] < 609.6 < image[0, 2] and (image[1] == 0).all()
    region = image[0] + np.array([-5.0, -5.0, 5.0, 5.0])
    assert covered_by(image, region[None]).tolist() == [True, False, False]
    assert covered_by(image, np.zeros((0, 4))).tolist() == [False] * 3


def test_class_names_case_and_aliases():
    names = ["car", "Pedestrian", "bicycle", "truck", "Van"]
    assert class_indices(names, CLASSES).tolist() == [0, 1, IGNORED, IGNORED, IGNORED]
    assert class_indices(names, CLASSES, {"bicycle": "Cyclist"}).tolist() == [0, 1, 2, IGNORED, IGNORED]


# -- the command on a generated KITTI folder ----------------------------------------------------------


def kitti_line(name, box, calib, score=None, bbox=(500.0, 150.0, 700.0, 250.0)):
    location, hwl, ry = Boxes3D(torch.tensor([box], dtype=torch.float64)).to_kitti_camera(calib)
    fields = [name, "0.00", "0", "0.00", *(f"{v:.2f}" for v in bbox)]
    fields += [f"{v:.4f}" for v in [*hwl[0].tolist(), *location[0].tolist(), float(ry[0])]]
    return " ".join(fields + ([] if score is None else [f"{score:.3f}"]))


CALIB_TEXT = (
    "P2: 721.5 0 609.6 0 0 721.5 172.9 0 0 0 1 0\n"
    "R0_rect: 1 0 0 0 1 0 0 0 1\n"
    "Tr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0\n"
)


def write_json(path, boxes, names, scores):
    labels = torch.tensor([CLASSES.index(n) for n in names], dtype=torch.long)
    detections = Detections(Boxes3D(torch.tensor(boxes).reshape(-1, 7)), torch.tensor(scores), labels, CLASSES)
    path.write_text(json.dumps(detections.to_json()))


@pytest.fixture
def kitti_folder(tmp_path):
    """Frame 000000: a Car, a Van, a DontCare region; JSON predictions (the format of ``voxformer infer``):
    the Car, one on the Van, one behind the camera, one beyond 25.6 m, one in the DontCare region and one
    on nothing ahead. Frame 000001: a Pedestrian missed; KITTI result lines: one unmatched Car."""
    calib = camera_calib()
    labels, calibs, preds = (tmp_path / name for name in ("label_2", "calib", "preds"))
    for folder in (labels, calibs, preds):
        folder.mkdir()
    van, dontcare_car = shifted(CAR, 4.0, 6.0), shifted(CAR, 8.0, -4.0)
    dontcare_bbox = image_boxes(np.array([dontcare_car]), calib)[0] + np.array([-2.0, -2.0, 2.0, 2.0])
    (labels / "000000.txt").write_text(
        "\n".join(
            [
                kitti_line("Car", CAR, calib),
                kitti_line("Van", van, calib),
                "DontCare -1 -1 -10 " + " ".join(f"{v:.2f}" for v in dontcare_bbox) + " -1 -1 -1 -1000 -1000 -1000 -10",
            ]
        )
        + "\n"
    )
    (labels / "000001.txt").write_text(kitti_line("Pedestrian", PED, calib) + "\n")
    for frame in ("000000", "000001"):
        (calibs / f"{frame}.txt").write_text(CALIB_TEXT)
    nothing = shifted(CAR, -2.0, -4.0)
    boxes = [CAR, van, shifted(CAR, -20.0), shifted(CAR, 30.0), dontcare_car, nothing]
    write_json(preds / "000000.json", boxes, ["Car"] * 6, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    (preds / "000001.txt").write_text(kitti_line("Car", shifted(PED, 4.0, -3.0), calib, score=0.8) + "\n")
    return tmp_path


def evaluate(folder, *extra):
    args = ["evaluate", "kitti", "--gt-dir", str(folder / "label_2"), "--pred-dir", str(folder / "preds")]
    return main(args + ["--calib-dir", str(folder / "calib"), "--fp-per-frame", *extra])


def test_command_on_a_generated_kitti_folder(kitti_folder, capsys):
    out = kitti_folder / "frames.json"
    assert evaluate(kitti_folder, "--range", "-25.6", "-25.6", "25.6", "25.6", "--json", str(out)) == 0
    printed = capsys.readouterr().out
    assert "GT in range" in printed and "000000: 1  000001: 1" in printed
    result = json.loads(out.read_text())
    assert result["classes"]["Car"] == {"iou_thr": 0.5, "gt": 1, "found": 1, "recall": 1.0, "fp": 2}
    assert result["classes"]["Pedestrian"]["recall"] == 0.0
    assert result["classes"]["Cyclist"]["recall"] is None
    assert result["fp"] == {"000000": 1, "000001": 1} and result["fp_per_frame"] == 1.0
    assert result["range"] == [-25.6, -25.6, 25.6, 25.6]
    # without the range the detection 40 m ahead is charged too; a narrow image drops the one at the centre
    assert evaluate(kitti_folder, "--json", str(out)) == 0
    assert json.loads(out.read_text())["fp"]["000000"] == 2
    assert evaluate(kitti_folder, "--image-size", "300", "375", "--json", str(out)) == 0
    assert json.loads(out.read_text())["fp"]["000000"] == 0


def test_range_from_a_config(kitti_folder, tmp_path):
    config = tmp_path / "model.py"
    config.write_text("point_cloud_range = [-25.6, -25.6, -2.0, 25.6, 25.6, 4.0]\n")
    out = tmp_path / "frames.json"
    assert evaluate(kitti_folder, "--config", str(config), "--json", str(out)) == 0
    assert json.loads(out.read_text())["range"] == [-25.6, -25.6, 25.6, 25.6]


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda root: (root / "preds" / "000001.txt").unlink(), "000001.json/.txt: no prediction file for"),
        (lambda root: (root / "preds" / "000001.json").write_text("{}"), "both a .json and a .txt"),
        (lambda root: (root / "preds" / "000000.json").write_text("{"), "000000.json: cannot read JSON"),
        (lambda root: (root / "preds" / "000000.json").write_text('{"names": []}'), "000000.json: not a `voxformer"),
        (lambda root: (root / "label_2" / "000001.txt").write_text("Car 0 0\n"), "000001.txt:1: expected 15 fields"),
        (lambda root: (root / "calib" / "000001.txt").unlink(), "000001.txt: cannot read KITTI calib"),
    ],
)
def test_command_errors_name_the_file(kitti_folder, capsys, breakage, message):
    breakage(kitti_folder)
    assert evaluate(kitti_folder) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_flags_of_the_frame_mode_need_it(kitti_folder, capsys):
    args = ["evaluate", "kitti", "--gt-dir", str(kitti_folder / "label_2"), "--pred-dir", str(kitti_folder / "preds")]
    assert main(args + ["--fp-per-frame"]) == 2 and "needs --calib-dir" in capsys.readouterr().err
    assert main(args + ["--range", "0", "0", "1", "1"]) == 2 and "with --fp-per-frame only" in capsys.readouterr().err


# -- the shared real frames -----------------------------------------------------------------------------


def real_predictions(real_data, out, shift=0.0):
    """The KITTI labels as predictions: result lines (unshifted) or LiDAR-frame JSON moved ``shift`` m in x."""
    from voxformer.commands.evaluate import read_kitti_objects

    root = real_data / "kitti" / "training"
    out.mkdir()
    for label in sorted((root / "label_2").glob("*.txt")):
        if shift == 0.0:
            lines = [line for line in label.read_text().splitlines() if line and not line.startswith("DontCare")]
            (out / label.name).write_text("".join(f"{line} 0.9\n" for line in lines))
            continue
        anno = read_kitti_objects(label, with_score=False, calib=KittiCalib.from_file(root / "calib" / label.name))
        keep = np.isin(anno["name"], CLASSES)
        boxes = anno["boxes_lidar"][keep] + np.array([shift, 0, 0, 0, 0, 0, 0])
        write_json(out / f"{label.stem}.json", boxes.tolist(), anno["name"][keep].tolist(), [0.9] * int(keep.sum()))
    return root


@pytest.mark.parametrize("shift", [0.0, 2.5])
def test_shared_kitti_frames_against_their_labels(real_data, tmp_path, shift):
    root = real_predictions(real_data, tmp_path / "preds", shift)
    out = tmp_path / "frames.json"
    args = ["evaluate", "kitti", "--gt-dir", str(root / "label_2"), "--pred-dir", str(tmp_path / "preds")]
    assert main(args + ["--calib-dir", str(root / "calib"), "--fp-per-frame", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    counts = {name: row["gt"] for name, row in result["classes"].items()}
    assert counts == {"Car": 5, "Pedestrian": 2, "Cyclist": 1}
    recalls = [row["recall"] for row in result["classes"].values()]
    if shift == 0.0:
        assert recalls == [1.0, 1.0, 1.0] and result["fp_per_frame"] == 0
    else:  # 2.5 m moves every box off its object: all missed, each charged where the camera sees it
        assert recalls == [0.0, 0.0, 0.0] and result["fp_per_frame"] > 0


NUSCENES_BOXES = "LIDAR_TOP_1532402927647951_boxes.json"


@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_shared_nuscenes_keyframe_against_its_boxes(real_data, tmp_path, shift):
    gt_file = real_data / "nuscenes" / NUSCENES_BOXES
    entries = json.loads(gt_file.read_text())["boxes"]
    wanted = {"car": "Car", "pedestrian": "Pedestrian", "bicycle": "Cyclist"}
    entries = [e for e in entries if e["name"] in wanted and e["valid"] and e["num_lidar_pts"] > 0]
    pred = tmp_path / "pred.json"
    write_json(
        pred, [shifted(e["box"], shift) for e in entries], [wanted[e["name"]] for e in entries], [0.9] * len(entries)
    )
    out = tmp_path / "frames.json"
    command = ["evaluate", "lidar-boxes", "--gt", str(gt_file), "--pred", str(pred), "--json", str(out)]
    assert main(command + ["--range", "-54", "-54", "54", "54"]) == 0
    result = json.loads(out.read_text())
    assert result["classes"]["Pedestrian"]["gt"] > 10 and result["classes"]["Car"]["gt"] > 0
    if shift == 0.0:
        assert all(row["recall"] in (1.0, None) for row in result["classes"].values())
        assert result["fp_per_frame"] == 0
    else:
        assert result["classes"]["Car"]["recall"] < 1 and result["classes"]["Pedestrian"]["recall"] == 0
        assert result["fp_per_frame"] > 0


def test_infer_then_evaluate_on_shared_scans(real_data, tmp_path):
    """The user's path: `voxformer infer` on KITTI scans (untrained weights), then the frame scores of its
    JSON with the model's range from its config."""
    from voxformer.apis.inference import init_detector

    config = str(Path(__file__).resolve().parents[2] / "configs" / "dsvt" / "dsvt_synthetic_quick.py")
    model = init_detector(config)
    checkpoint = tmp_path / "untrained.pth"
    torch.save(
        {"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": list(model.class_names)}}}, checkpoint
    )
    root = real_data / "kitti" / "training"
    scans, labels = tmp_path / "velodyne", tmp_path / "label_2"
    for folder, source, suffix in ((scans, "velodyne", ".bin"), (labels, "label_2", ".txt")):
        folder.mkdir()
        for frame in ("000000", "000005"):  # a Pedestrian at 23 m in 000005
            (folder / f"{frame}{suffix}").write_bytes((root / source / f"{frame}{suffix}").read_bytes())
    preds = tmp_path / "preds"
    assert main(["infer", str(scans), "--config", config, "--checkpoint", str(checkpoint), "--pred-dir", str(preds),
                 "--score-thr", "0.0"]) == 0  # fmt: skip
    out = tmp_path / "frames.json"
    args = ["evaluate", "kitti", "--gt-dir", str(labels), "--pred-dir", str(preds), "--calib-dir", str(root / "calib")]
    assert main(args + ["--fp-per-frame", "--config", config, "--score-thr", "0.0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["range"] == [-25.6, -25.6, 25.6, 25.6] and set(result["fp"]) == {"000000", "000005"}
    assert result["classes"]["Pedestrian"]["gt"] == 2 and result["classes"]["Car"]["gt"] == 0
    detections = sum(len(json.loads(p.read_text())["scores_3d"]) for p in preds.glob("*.json"))
    assert 0 < sum(result["fp"].values()) <= detections
    assert main(args + ["--fp-per-frame", "--config", config, "--score-thr", "1.01", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["fp_per_frame"] == 0


def test_lidar_boxes_rules_and_errors(tmp_path, capsys):
    truck, barrier, hidden = shifted(CAR, 0, 8), shifted(PED, 0, -8), shifted(PED, 5, 0)
    gt = tmp_path / "frame_boxes.json"
    entries = [{"name": "car", "box": CAR}, {"name": "truck", "box": truck}, {"name": "barrier", "box": barrier}]
    entries.append({"name": "pedestrian", "box": hidden, "valid": True, "num_lidar_pts": 0})
    gt.write_text(json.dumps({"boxes": entries}))
    pred = tmp_path / "frame.json"  # the car, one on the truck, one on the barrier, one on the pointless pedestrian
    write_json(pred, [CAR, truck, barrier, hidden], ["Car", "Car", "Pedestrian", "Pedestrian"], [0.9] * 4)
    out = tmp_path / "frames.json"
    assert main(["evaluate", "lidar-boxes", "--gt", str(gt), "--pred", str(pred), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["classes"]["Car"]["recall"] == 1.0 and result["classes"]["Pedestrian"]["gt"] == 0
    assert result["fp"] == {"frame_boxes": 1} and result["classes"]["Pedestrian"]["fp"] == 1  # the barrier
    assert main(["evaluate", "lidar-boxes", "--gt", str(gt), "--pred", str(pred), str(pred)]) == 2
    assert "--gt has 1 files and --pred 2" in capsys.readouterr().err
    gt.write_text(json.dumps({"boxes": [{"name": "car", "box": [1, 2, 3]}]}))
    assert main(["evaluate", "lidar-boxes", "--gt", str(gt), "--pred", str(pred)]) == 2
    assert "frame_boxes.json: boxes must be rows of 7+ numbers" in capsys.readouterr().err
