"""nuScenes detection metrics (``detection_cvpr_2019``): mAP over centre-distance thresholds, the five
TP errors and NDS, re-implemented on arrays.

Input: one dict per sample for ground truth and for predictions:

- ``boxes`` (N, 7) (x, y, z, dx, dy, dz, yaw) in a frame centred on the ego vehicle (distances
  to the origin are the class-range test), ``velocity`` (N, 2) (NaN where unknown), ``names`` (N,)
  detection class names, ``attributes`` (N,) attribute names ("" where none);
- ground truth: ``num_points`` (N,) lidar + radar points (boxes with 0 are dropped);
- predictions: ``scores`` (N,); only the 500 highest-scoring predictions of a sample are kept.

Rules (devkit ``accumulate`` / ``calc_ap`` / ``calc_tp``): boxes beyond the class range are dropped;
per class, predictions by descending score take the nearest untaken GT by 2D centre distance, a
match when the distance < d (0.5, 1, 2, 4 m); precision and the cumulative-mean TP errors are
interpolated on 101 recall points; AP = mean(max(p - 0.1, 0)) / 0.9 over recall > 0.1; TP errors
at d = 2 m averaged from recall 0.1 to the highest recall reached (1 when never reached); AOE
has period pi for barrier; traffic_cone AOE/AVE/AAE and barrier AVE/AAE are NaN (left out of the
means). NDS = (5 mAP + sum over TP errors of (1 - min(1, err))) / 10.
"""

from __future__ import annotations

import math

import numba
import numpy as np

CLASS_RANGES = {
    "car": 50.0, "truck": 50.0, "bus": 50.0, "trailer": 50.0, "construction_vehicle": 50.0,
    "pedestrian": 40.0, "motorcycle": 40.0, "bicycle": 40.0, "traffic_cone": 30.0, "barrier": 30.0,
}  # fmt: skip
CLASSES = tuple(CLASS_RANGES)
DISTANCE_THRESHOLDS = (0.5, 1.0, 2.0, 4.0)
TP_DISTANCE = 2.0
MIN_RECALL = 0.1
MIN_PRECISION = 0.1
MAX_PREDICTIONS = 500
TP_METRICS = ("trans_err", "scale_err", "orient_err", "vel_err", "attr_err")
NOT_APPLICABLE = {"traffic_cone": ("attr_err", "vel_err", "orient_err"), "barrier": ("attr_err", "vel_err")}
RECALL_POINTS = 101


@numba.njit(cache=True)
def _greedy_match(pred_sample, pred_xy, gt_start, gt_xy, distance_threshold):
    """Index of the GT matched by each prediction (-1: none), predictions in descending score order."""
    taken = np.zeros(len(gt_xy), dtype=np.bool_)
    match = np.full(len(pred_sample), -1, dtype=np.int64)
    for p in range(len(pred_sample)):
        s = pred_sample[p]
        best, best_distance = -1, np.inf
        for g in range(gt_start[s], gt_start[s + 1]):
            if taken[g]:
                continue
            distance = math.hypot(gt_xy[g, 0] - pred_xy[p, 0], gt_xy[g, 1] - pred_xy[p, 1])
            if distance < best_distance:
                best, best_distance = g, distance
        if best >= 0 and best_distance < distance_threshold:
            taken[best] = True
            match[p] = best
    return match


def _cumulative_mean(values: np.ndarray) -> np.ndarray:
    """NaN-aware running mean; all-NaN input gives ones (the devkit's ``cummean``)."""
    if np.isnan(values).all():
        return np.ones(len(values))
    sums = np.nancumsum(values)
    counts = np.cumsum(~np.isnan(values))
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts != 0)


def _angle_difference(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    diff = np.remainder(a - b + period / 2, period) - period / 2
    return np.abs(np.where(diff > math.pi, diff - 2 * math.pi, diff))


def _concatenate(frames: list[dict], keys: tuple[str, ...], what: str) -> dict:
    counts = [len(frame["names"]) for frame in frames]
    out = {"sample": np.repeat(np.arange(len(frames), dtype=np.int64), counts)}
    widths = {"boxes": 7, "velocity": 2}
    for key in keys:
        parts = []
        for i, frame in enumerate(frames):
            if key not in frame:
                raise ValueError(f"{what} of sample {i} has no {key!r} field")
            value = np.asarray(frame[key])
            if key == "boxes":
                value = value[:, :7] if value.ndim == 2 else value
            parts.append(value.reshape(counts[i], widths[key]) if key in widths else value.reshape(counts[i]))
        empty = np.zeros((0, widths[key])) if key in widths else np.zeros(0)
        out[key] = np.concatenate(parts) if parts else empty
    out["names"] = out["names"].astype(str)
    out["attributes"] = out["attributes"].astype(str)
    return out


def _in_range(table: dict) -> np.ndarray:
    limit = np.array([CLASS_RANGES.get(name, -1.0) for name in table["names"]])
    return np.hypot(table["boxes"][:, 0], table["boxes"][:, 1]) < limit


def _top_predictions(pred: dict) -> np.ndarray:
    """Mask keeping the ``MAX_PREDICTIONS`` highest-scoring predictions of every sample."""
    order = np.lexsort((-pred["scores"], pred["sample"]))
    first = np.searchsorted(pred["sample"][order], pred["sample"][order], side="left")
    keep = np.zeros(len(order), dtype=bool)
    keep[order] = np.arange(len(order)) - first < MAX_PREDICTIONS
    return keep


def _class_curves(gt: dict, pred: dict, class_name: str, distance_threshold: float) -> dict | None:
    """Interpolated precision, confidence and TP errors on 101 recall points (None: no match)."""
    gt_rows = np.flatnonzero(gt["names"] == class_name)
    if len(gt_rows) == 0:
        return None
    gt_rows = gt_rows[np.argsort(gt["sample"][gt_rows], kind="stable")]
    num_samples = int(max(gt["sample"].max(initial=0), pred["sample"].max(initial=0))) + 1
    gt_start = np.concatenate([[0], np.cumsum(np.bincount(gt["sample"][gt_rows], minlength=num_samples))])
    pred_rows = np.flatnonzero(pred["names"] == class_name)
    order = np.lexsort((pred_rows, pred["scores"][pred_rows]))[::-1]  # descending score, later index first
    pred_rows = pred_rows[order]
    match = _greedy_match(
        pred["sample"][pred_rows], pred["boxes"][pred_rows, :2], gt_start, gt["boxes"][gt_rows, :2], distance_threshold
    )
    is_tp = match >= 0
    if not is_tp.any():
        return None
    tp = np.cumsum(is_tp).astype(np.float64)
    fp = np.cumsum(~is_tp).astype(np.float64)
    confidence = pred["scores"][pred_rows]
    recall_points = np.linspace(0, 1, RECALL_POINTS)
    precision = np.interp(recall_points, tp / len(gt_rows), tp / (tp + fp), right=0)
    confidence_at = np.interp(recall_points, tp / len(gt_rows), confidence, right=0)

    matched_pred = pred_rows[is_tp]
    matched_gt = gt_rows[match[is_tp]]
    g_boxes, p_boxes = gt["boxes"][matched_gt], pred["boxes"][matched_pred]
    period = math.pi if class_name == "barrier" else 2 * math.pi
    aligned = np.prod(np.minimum(g_boxes[:, 3:6], p_boxes[:, 3:6]), axis=1)
    union = np.prod(g_boxes[:, 3:6], axis=1) + np.prod(p_boxes[:, 3:6], axis=1) - aligned
    gt_attributes = gt["attributes"][matched_gt]
    errors = {
        "trans_err": np.hypot(*(g_boxes[:, :2] - p_boxes[:, :2]).T),
        "scale_err": 1 - aligned / union,
        "orient_err": _angle_difference(g_boxes[:, 6], p_boxes[:, 6], period),
        "vel_err": np.linalg.norm(gt["velocity"][matched_gt] - pred["velocity"][matched_pred], axis=1),
        "attr_err": np.where(gt_attributes == "", np.nan, 1.0 - (gt_attributes == pred["attributes"][matched_pred])),
    }
    matched_confidence = confidence[is_tp]
    curves = {"precision": precision, "confidence": confidence_at}
    for name, values in errors.items():
        running = _cumulative_mean(values.astype(np.float64))
        curves[name] = np.interp(confidence_at[::-1], matched_confidence[::-1], running[::-1])[::-1]
    return curves


def _average_precision(curves: dict | None) -> float:
    if curves is None:
        return 0.0
    precision = curves["precision"][round(100 * MIN_RECALL) + 1 :] - MIN_PRECISION
    return float(np.mean(np.clip(precision, 0, None))) / (1.0 - MIN_PRECISION)


def _tp_error(curves: dict | None, metric: str) -> float:
    first = round(100 * MIN_RECALL) + 1
    if curves is None:
        return 1.0
    nonzero = np.flatnonzero(curves["confidence"])
    last = int(nonzero[-1]) if len(nonzero) else 0
    if last < first:
        return 1.0
    return float(np.mean(curves[metric][first : last + 1]))


def evaluate_nuscenes(gt_frames: list[dict], pred_frames: list[dict], classes: tuple[str, ...] = CLASSES) -> dict:
    """``{"mAP", "NDS", "mATE", "mASE", "mAOE", "mAVE", "mAAE", "per_class": {class: {"AP@0.5", ...,
    "AP", "trans_err", ...}}}``; per-sample lists must align (same sample at the same index)."""
    if len(gt_frames) != len(pred_frames):
        raise ValueError(f"{len(gt_frames)} ground-truth samples but {len(pred_frames)} prediction samples")
    gt = _concatenate(gt_frames, ("boxes", "velocity", "names", "attributes", "num_points"), "ground truth")
    pred = _concatenate(pred_frames, ("boxes", "velocity", "names", "attributes", "scores"), "predictions")
    gt_keep = _in_range(gt) & (gt["num_points"] > 0)
    gt = {key: value[gt_keep] for key, value in gt.items()}
    pred_keep = _top_predictions(pred)
    pred = {key: value[pred_keep] for key, value in pred.items()}
    pred_keep = _in_range(pred)
    pred = {key: value[pred_keep] for key, value in pred.items()}

    per_class = {}
    for class_name in classes:
        row = {}
        for threshold in DISTANCE_THRESHOLDS:
            row[f"AP@{threshold}"] = _average_precision(_class_curves(gt, pred, class_name, threshold))
        row["AP"] = float(np.mean([row[f"AP@{t}"] for t in DISTANCE_THRESHOLDS]))
        tp_curves = _class_curves(gt, pred, class_name, TP_DISTANCE)
        for metric in TP_METRICS:
            not_applicable = metric in NOT_APPLICABLE.get(class_name, ())
            row[metric] = math.nan if not_applicable else _tp_error(tp_curves, metric)
        per_class[class_name] = row
    summary = {"mAP": float(np.mean([row["AP"] for row in per_class.values()]))}
    for metric, short in zip(TP_METRICS, ("mATE", "mASE", "mAOE", "mAVE", "mAAE")):
        summary[short] = float(np.nanmean([row[metric] for row in per_class.values()]))
    tp_scores = [1.0 - min(1.0, summary[short]) for short in ("mATE", "mASE", "mAOE", "mAVE", "mAAE")]
    summary["NDS"] = (5 * summary["mAP"] + sum(tp_scores)) / (5 + len(tp_scores))
    summary["per_class"] = per_class
    return summary


def format_nuscenes(results: dict) -> str:
    """The devkit's summary: mAP, the mean TP errors, NDS, then one line per class."""
    lines = [f"{key}: {results[key]:.4f}" for key in ("mAP", "mATE", "mASE", "mAOE", "mAVE", "mAAE", "NDS")]
    lines.append("Object Class\tAP\tATE\tASE\tAOE\tAVE\tAAE")
    for name, row in results["per_class"].items():
        values = "\t".join(f"{row[m]:.3f}" for m in ("AP", *TP_METRICS))
        lines.append(f"{name}\t{values}")
    return "\n".join(lines)
