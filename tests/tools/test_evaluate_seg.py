"""``voxformer evaluate semantickitti``: .label and .npy predictions scored on the original points."""

import json
import re

import numpy as np
import pytest

from voxformer.cli import main
from voxformer.datasets.formats import semantickitti as sk
from voxformer.evaluation.seg_eval import seg_eval


def write_split(root, scans=3, seed=0):
    """sequences/08/{velodyne,labels} plus predictions as .label (scan 0, 1) and .npy (scan 2)."""
    rng = np.random.default_rng(seed)
    targets, predictions, distances = [], [], []
    for index in range(scans):
        n = 400
        points = np.concatenate([rng.uniform(-70, 70, (n, 3)), rng.random((n, 1))], 1).astype(np.float32)
        raw = rng.choice([10, 40, 48, 50, 70, 0, 252], n)
        target = np.array([sk.LEARNING_MAP[r] for r in raw])
        prediction = np.where(rng.random(n) < 0.7, target, rng.integers(0, 19, n))
        prediction[target == 255] = 3
        for folder in ("velodyne", "labels"):
            (root / "gt/sequences/08" / folder).mkdir(parents=True, exist_ok=True)
        points.tofile(root / f"gt/sequences/08/velodyne/{index:06d}.bin")
        sk.write_label(root / f"gt/sequences/08/labels/{index:06d}.label", raw, rng.integers(0, 9, n))
        (root / "pred/sequences/08/labels").mkdir(parents=True, exist_ok=True)
        if index < 2:
            sk.write_label(root / f"pred/sequences/08/labels/{index:06d}.label", sk.to_raw(prediction))
        else:
            np.save(root / f"pred/sequences/08/labels/{index:06d}.npy", prediction)
        targets.append(target)
        predictions.append(prediction)
        distances.append(np.linalg.norm(points[:, :3].astype(np.float64), axis=1))
    return targets, predictions, distances


def test_scores_equal_the_metric_on_the_same_points(tmp_path, capsys):
    targets, predictions, distances = write_split(tmp_path)
    out = tmp_path / "scores.json"
    argv = ["evaluate", "semantickitti", "--gt-dir", str(tmp_path / "gt"), "--pred-dir", str(tmp_path / "pred")]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 scans" in printed and "mIoU" in printed and "<=20m" in printed and "car" in printed
    scores = json.loads(out.read_text())
    expected = seg_eval(targets, predictions, sk.CLASSES, distances=distances)
    assert scores["mIoU"] == pytest.approx(expected["mIoU"])
    assert scores["IoU/road"] == pytest.approx(expected["IoU"]["road"])
    assert scores["mIoU/>50m"] == pytest.approx(expected["bins"][">50m"]["mIoU"])


def _fails(argv, capsys, pattern):
    assert main(argv) != 0
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and re.search(pattern, message), message


def test_bad_prediction_files_name_the_file(tmp_path, capsys):
    write_split(tmp_path)
    argv = ["evaluate", "semantickitti", "--gt-dir", str(tmp_path / "gt"), "--pred-dir", str(tmp_path / "pred")]
    pred = tmp_path / "pred/sequences/08/labels"
    np.save(pred / "000002.npy", np.zeros(399, np.int64))  # one short of the scan
    _fails(argv, capsys, r"000002\.npy: 399 labels but its scan has 400 points")
    (pred / "000002.npy").unlink()
    _fails(argv, capsys, r"000002\.label: no prediction \(\.label or \.npy\)")
    sk.write_label(pred / "000002.label", np.full(400, 77))
    _fails(argv, capsys, r"000002\.label: unknown SemanticKITTI label id")
    gt = tmp_path / "gt/sequences/08/labels/000001.label"
    gt.write_bytes(gt.read_bytes()[:-8])  # the ground truth no longer matches its scan
    _fails(argv, capsys, r"gt/sequences/08/labels/000001\.label: 398 labels but its scan has 400 points")


def test_scans_elsewhere_or_none(tmp_path, capsys):
    targets, predictions, distances = write_split(tmp_path, scans=2)
    flat = tmp_path / "flat"
    flat.mkdir()
    for index in range(2):  # labels alone in a folder: no velodyne/ beside them
        (flat / f"{index:06d}.label").write_bytes((tmp_path / f"gt/sequences/08/labels/{index:06d}.label").read_bytes())
    pred = str(tmp_path / "pred/sequences/08/labels")
    argv = ["evaluate", "semantickitti", "--gt-dir", str(flat), "--pred-dir", pred]
    assert main([*argv, "--json", str(tmp_path / "a.json")]) == 0
    assert "no distance bins" in capsys.readouterr().out
    scores = json.loads((tmp_path / "a.json").read_text())
    assert not any(key.startswith("mIoU/") for key in scores)
    assert scores["mIoU"] == pytest.approx(seg_eval(targets, predictions, sk.CLASSES)["mIoU"])
    scans = str(tmp_path / "gt/sequences/08/velodyne")
    assert main([*argv, "--scan-dir", scans, "--json", str(tmp_path / "b.json")]) == 0
    expected = seg_eval(targets, predictions, sk.CLASSES, distances=distances)
    near = json.loads((tmp_path / "b.json").read_text())["mIoU/<=20m"]
    assert near == pytest.approx(expected["bins"]["<=20m"]["mIoU"])


def test_json_has_null_for_a_class_never_seen(tmp_path):
    targets, _, _ = write_split(tmp_path, scans=1)
    pred = tmp_path / "pred/sequences/08/labels"
    (pred / "000000.label").unlink()
    np.save(pred / "000000.npy", np.where(targets[0] == 255, 0, targets[0]))  # a perfect prediction
    out = tmp_path / "scores.json"
    argv = ["evaluate", "semantickitti", "--gt-dir", str(tmp_path / "gt"), "--pred-dir", str(tmp_path / "pred")]
    assert main([*argv, "--json", str(out)]) == 0
    text = out.read_text()
    assert "NaN" not in text
    scores = json.loads(text)
    assert scores["IoU/trunk"] is None  # raw id 71 is neither a target nor predicted
    assert scores["IoU/car"] == pytest.approx(100.0)
