import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from voxformer.evaluation.nuscenes_eval import CLASSES, evaluate_nuscenes, format_nuscenes


def random_samples(rng, num_samples=25, per_sample=12):
    samples = []
    for _ in range(num_samples):
        n = per_sample
        boxes = np.c_[rng.uniform(-45, 45, (n, 2)), rng.uniform(-1, 1, n), rng.uniform(0.5, 5, (n, 3)),
                      rng.uniform(-math.pi, math.pi, n)]  # fmt: skip
        names = rng.choice(CLASSES, n)
        samples.append({
            "boxes": boxes, "velocity": rng.normal(0, 2, (n, 2)), "names": names,
            "attributes": rng.choice(["vehicle.moving", "vehicle.parked", ""], n), "num_points": rng.integers(0, 4, n),
        })  # fmt: skip
    return samples


def noisy_predictions(rng, samples):
    predictions = []
    for sample in samples:
        n = len(sample["names"])
        boxes = sample["boxes"] + np.c_[rng.normal(0, 0.6, (n, 3)), rng.normal(0, 0.2, (n, 3)), rng.normal(0, 0.5, n)]
        extra = rng.integers(0, 5)
        false_boxes = np.c_[rng.uniform(-45, 45, (extra, 2)), np.zeros(extra), np.ones((extra, 3)), np.zeros(extra)]
        predictions.append({
            "boxes": np.concatenate([boxes, false_boxes]),
            "velocity": np.concatenate([sample["velocity"] + rng.normal(0, 0.5, (n, 2)), np.zeros((extra, 2))]),
            "names": np.concatenate([sample["names"], rng.choice(CLASSES, extra)]),
            "attributes": np.concatenate([rng.choice(["vehicle.moving", "vehicle.parked"], n), np.full(extra, "")]),
            "scores": rng.uniform(0, 1, n + extra),
        })  # fmt: skip
    return predictions


def test_ground_truth_against_itself_is_perfect():
    rng = np.random.default_rng(0)
    gt = random_samples(rng)
    for sample in gt:
        sample["num_points"][:] = 5
    pred = [{**s, "scores": rng.uniform(0.1, 1, len(s["names"])), "attributes": np.where(s["attributes"] == "",
             "x", s["attributes"])} for s in gt]  # fmt: skip
    results = evaluate_nuscenes(gt, pred)
    assert results["mAP"] == pytest.approx(1.0)
    assert results["NDS"] == pytest.approx(1.0)
    assert results["per_class"]["barrier"]["vel_err"] != results["per_class"]["barrier"]["vel_err"]  # NaN
    assert "NDS: 1.0000" in format_nuscenes(results)


def test_hand_built_distance_thresholds_and_barrier_period():
    gt = [{"boxes": np.array([[10.0, 0, 0, 1, 2, 1, 0.0]]), "velocity": np.zeros((1, 2)),
           "names": np.array(["barrier"]), "attributes": np.array([""]), "num_points": np.array([3])}]  # fmt: skip
    # 0.7 m away and turned by pi: a match at 1, 2, 4 m but not at 0.5 m; AOE 0 with the barrier's pi period
    pred = [{"boxes": np.array([[10.7, 0, 0, 1, 2, 1, math.pi]]), "velocity": np.zeros((1, 2)),
             "names": np.array(["barrier"]), "attributes": np.array([""]), "scores": np.array([0.5])}]  # fmt: skip
    row = evaluate_nuscenes(gt, pred)["per_class"]["barrier"]
    assert row["AP@0.5"] == 0.0 and row["AP@1.0"] == pytest.approx(1.0)
    assert row["AP"] == pytest.approx(0.75)
    assert row["trans_err"] == pytest.approx(0.7)
    assert row["orient_err"] == pytest.approx(0.0, abs=1e-9)


def test_out_of_range_and_pointless_boxes_are_dropped():
    gt = [{"boxes": np.array([[35.0, 0, 0, 1, 1, 1, 0], [5.0, 0, 0, 1, 1, 1, 0]]), "velocity": np.zeros((2, 2)),
           "names": np.array(["traffic_cone", "traffic_cone"]), "attributes": np.array(["", ""]),
           "num_points": np.array([4, 0])}]  # fmt: skip
    pred = [{"boxes": np.zeros((0, 7)), "velocity": np.zeros((0, 2)), "names": np.zeros(0, str),
             "attributes": np.zeros(0, str), "scores": np.zeros(0)}]  # fmt: skip
    results = evaluate_nuscenes(gt, pred)
    assert results["per_class"]["traffic_cone"]["AP"] == 0.0
    assert results["per_class"]["traffic_cone"]["trans_err"] == 1.0


DEVKIT_SCRIPT = textwrap.dedent("""
    import json, sys, types
    import numpy as np
    import importlib.util, pathlib
    spec = importlib.util.find_spec("nuscenes")
    package = types.ModuleType("nuscenes")  # skip nuscenes/__init__ (it imports cv2 and matplotlib)
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["nuscenes"] = package
    data_classes = types.ModuleType("nuscenes.utils.data_classes")
    data_classes.Box = object  # only used by functions the detection metrics do not call
    sys.modules["nuscenes.utils.data_classes"] = data_classes
    from pyquaternion import Quaternion
    from nuscenes.eval.common.data_classes import EvalBoxes
    from nuscenes.eval.detection.algo import accumulate, calc_ap, calc_tp
    from nuscenes.eval.common.utils import center_distance
    from nuscenes.eval.detection.data_classes import DetectionBox, DetectionMetrics, DetectionConfig
    from nuscenes.eval.detection.constants import TP_METRICS
    data = json.load(open(sys.argv[1]))
    def boxes(frames, is_gt):
        out = EvalBoxes()
        for i, frame in enumerate(frames):
            items = []
            for b, v, name, attr, extra in zip(frame["boxes"], frame["velocity"], frame["names"], frame["attributes"],
                                                frame["num_points" if is_gt else "scores"]):
                items.append(DetectionBox(sample_token=str(i), translation=b[:3], size=[b[4], b[3], b[5]],
                    rotation=list(Quaternion(axis=[0, 0, 1], angle=b[6])), velocity=v, detection_name=name,
                    attribute_name=attr, detection_score=-1.0 if is_gt else extra, num_pts=int(extra) if is_gt else -1,
                    ego_translation=b[:3]))
            out.add_boxes(str(i), items)
        return out
    gt, pred = boxes(data["gt"], True), boxes(data["pred"], False)
    config = DetectionConfig.deserialize(data["config"])
    metrics = DetectionMetrics(config)
    for name in config.class_names:
        for d in config.dist_ths:
            md = accumulate(gt, pred, name, center_distance, d)
            metrics.add_label_ap(name, d, calc_ap(md, config.min_recall, config.min_precision))
        md = accumulate(gt, pred, name, center_distance, config.dist_th_tp)
        for metric in TP_METRICS:
            if (name == "traffic_cone" and metric in ("attr_err", "vel_err", "orient_err")) or (
                    name == "barrier" and metric in ("attr_err", "vel_err")):
                value = float("nan")
            else:
                value = calc_tp(md, config.min_recall, metric)
            metrics.add_label_tp(name, metric, value)
    print(json.dumps({"mAP": metrics.mean_ap, "NDS": metrics.nd_score, "tp": metrics.tp_errors}))
""")


@pytest.fixture(scope="session")
def devkit_python(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nuscenes_devkit")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    for packages in (["numpy<2", "pyquaternion"], ["--no-deps", "nuscenes-devkit==1.2.0"]):
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot install nuscenes-devkit here: {done.stderr.strip().splitlines()[-1:]}")
    return python


@pytest.mark.slow
def test_matches_nuscenes_devkit(devkit_python, tmp_path):
    from voxformer.evaluation import nuscenes_eval

    rng = np.random.default_rng(7)
    gt = random_samples(rng)
    pred = noisy_predictions(rng, gt)

    # the devkit filters ranges and point counts before accumulate: hand it the same filtered boxes
    def filtered(frames, is_gt):
        out = []
        for frame in frames:
            limit = np.array([nuscenes_eval.CLASS_RANGES[n] for n in frame["names"]])
            keep = np.hypot(frame["boxes"][:, 0], frame["boxes"][:, 1]) < limit
            if is_gt:
                keep &= frame["num_points"] > 0
            out.append({key: np.asarray(value)[keep].tolist() for key, value in frame.items()})
        return out

    config = {
        "class_range": nuscenes_eval.CLASS_RANGES, "dist_fcn": "center_distance",
        "dist_ths": list(nuscenes_eval.DISTANCE_THRESHOLDS), "dist_th_tp": nuscenes_eval.TP_DISTANCE,
        "min_recall": nuscenes_eval.MIN_RECALL, "min_precision": nuscenes_eval.MIN_PRECISION,
        "max_boxes_per_sample": nuscenes_eval.MAX_PREDICTIONS, "mean_ap_weight": 5,
    }  # fmt: skip
    payload = tmp_path / "boxes.json"
    payload.write_text(json.dumps({"gt": filtered(gt, True), "pred": filtered(pred, False), "config": config}))
    script = tmp_path / "devkit_eval.py"
    script.write_text(DEVKIT_SCRIPT)
    done = subprocess.run([str(devkit_python), str(script), str(payload)], capture_output=True, text=True, check=True)
    reference = json.loads(done.stdout)
    ours = evaluate_nuscenes(gt, pred)
    assert ours["mAP"] == pytest.approx(reference["mAP"], abs=1e-9)
    assert ours["NDS"] == pytest.approx(reference["NDS"], abs=1e-9)
    for metric, short in zip(nuscenes_eval.TP_METRICS, ("mATE", "mASE", "mAOE", "mAVE", "mAAE")):
        assert ours[short] == pytest.approx(reference["tp"][metric], abs=1e-9), metric
