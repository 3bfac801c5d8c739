"""mIoU against a brute-force per-class count: whole split, ignore index, absent classes, distance bins."""

import numpy as np
import pytest
import torch

from voxformer.evaluation.seg_eval import format_scores, seg_eval

CLASSES = [f"c{i}" for i in range(6)]


def brute_force(targets, predictions, classes, ignore=255, absent=()):
    target, prediction = np.concatenate(targets), np.concatenate(predictions)
    labelled = target != ignore
    ious = {}
    for c, name in enumerate(classes):
        if name in absent:
            continue
        inter = sum(1 for t, p, v in zip(target, prediction, labelled) if v and t == c and p == c)
        union = sum(1 for t, p, v in zip(target, prediction, labelled) if v and (t == c or p == c))
        ious[name] = 100.0 * inter / union if union else float("nan")
    defined = [v for v in ious.values() if not np.isnan(v)]
    return ious, (sum(defined) / len(defined) if defined else float("nan"))


def random_split(seed, frames=4, n=300):
    rng = np.random.default_rng(seed)
    targets, predictions, distances = [], [], []
    for _ in range(frames):
        target = rng.choice([0, 1, 2, 4, 255], n, p=[0.3, 0.2, 0.2, 0.2, 0.1])  # classes 3 and 5 never in targets
        prediction = np.where(rng.random(n) < 0.6, target, rng.integers(0, 6, n))
        prediction[rng.random(n) < 0.05] = 255  # an ignored prediction on a labelled point is a miss
        targets.append(target)
        predictions.append(prediction)
        distances.append(rng.uniform(0, 80, n))
    return targets, predictions, distances


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_miou_matches_a_brute_force_count(seed):
    targets, predictions, distances = random_split(seed)
    absent = ("c5",)  # declared absent: left out; c3 is predicted but never a target: IoU 0, counted
    result = seg_eval(targets, predictions, CLASSES, distances=distances, absent_classes=absent)
    ious, miou = brute_force(targets, predictions, CLASSES, absent=absent)
    assert set(result["IoU"]) == set(ious) == {"c0", "c1", "c2", "c3", "c4"}
    for name, value in ious.items():
        assert result["IoU"][name] == pytest.approx(value)
    assert ious["c3"] == 0.0 and result["mIoU"] == pytest.approx(miou)
    for name, (low, high) in {"<=20m": (-1, 20), "20-50m": (20, 50), ">50m": (50, 1e9)}.items():
        masks = [(d > low) & (d <= high) for d in distances]
        _, bin_miou = brute_force(
            [t[m] for t, m in zip(targets, masks)], [p[m] for p, m in zip(predictions, masks)], CLASSES, absent=absent
        )
        assert result["bins"][name]["mIoU"] == pytest.approx(bin_miou), name


def test_the_split_is_pooled_not_averaged_per_frame():
    targets = [np.array([0, 0, 0, 0]), np.array([1, 1])]
    predictions = [np.array([0, 0, 0, 1]), np.array([1, 0])]
    result = seg_eval(targets, predictions, ["a", "b"], distances=None)
    assert result["IoU"]["a"] == pytest.approx(100 * 3 / 5) and result["IoU"]["b"] == pytest.approx(100 * 1 / 3)
    assert result["bins"] == {}


def test_a_class_without_target_or_prediction_is_left_out_with_a_note():
    result = seg_eval([np.array([0, 1, 255])], [np.array([0, 1, 2])], ["a", "b", "c"])
    assert np.isnan(result["IoU"]["c"]) and result["mIoU"] == pytest.approx(100.0)
    assert "left out of the mIoU" in format_scores(result)


def test_bad_shapes_and_targets_are_errors():
    with pytest.raises(ValueError, match="3 predictions for 2 target points"):
        seg_eval([np.array([0, 1])], [np.array([0, 1, 1])], ["a", "b"])
    with pytest.raises(ValueError, match="outside"):
        seg_eval([np.array([0, 7])], [np.array([0, 1])], ["a", "b"])
    with pytest.raises(ValueError, match="absent classes"):
        seg_eval([np.array([0])], [np.array([0])], ["a", "b"], absent_classes=("z",))


def test_seg_metric_gives_the_same_numbers_and_keys():
    from voxformer.evaluation.metrics import SegMetric
    from voxformer.structures.det3d_sample import Det3DSample, PointData

    targets, predictions, distances = random_split(5)
    metric = SegMetric(absent_classes=("c5",))
    metric.dataset_meta = {"seg_classes": CLASSES}
    for target, prediction, distance in zip(targets, predictions, distances):
        sample = Det3DSample(metainfo={"frame_id": "f"})
        sample.gt_pts_seg = PointData(
            pts_semantic_mask=torch.from_numpy(target), point_distance=torch.from_numpy(distance).float()
        )
        sample.pred_pts_seg = PointData(pts_semantic_mask=torch.from_numpy(prediction))
        metric.process(None, [sample.to_dict() if len(metric.results) % 2 else sample])
    metrics = metric.evaluate(len(targets))
    expected = seg_eval(
        targets, predictions, CLASSES, distances=[d.astype(np.float32) for d in distances], absent_classes=("c5",)
    )
    assert metrics["seg/mIoU"] == pytest.approx(expected["mIoU"])
    assert metrics["seg/IoU/c2"] == pytest.approx(expected["IoU"]["c2"])
    assert metrics["seg/mIoU/20-50m"] == pytest.approx(expected["bins"]["20-50m"]["mIoU"])
    assert "seg/IoU/c5" not in metrics and {"seg/mIoU/<=20m", "seg/mIoU/>50m"} <= set(metrics)


def test_seg_metric_reports_a_length_mismatch():
    from voxformer.evaluation.metrics import SegMetric
    from voxformer.structures.det3d_sample import Det3DSample, PointData

    sample = Det3DSample(metainfo={"frame_id": "000007"})
    sample.gt_pts_seg = PointData(pts_semantic_mask=torch.zeros(5, dtype=torch.long))
    sample.pred_pts_seg = PointData(pts_semantic_mask=torch.zeros(4, dtype=torch.long))
    metric = SegMetric(class_names=CLASSES)
    with pytest.raises(ValueError, match="000007"):
        metric.process(None, [sample])
