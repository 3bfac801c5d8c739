"""Waymo Open Dataset detection metrics (mAP / mAPH by OBJECT_TYPE and RANGE, LEVEL_1 / LEVEL_2).

The official tool's default configuration, re-implemented:

- ground truth with ``num_lidar_points_in_box <= 0`` is dropped; an UNKNOWN difficulty becomes
  LEVEL_2 with at most 5 points, else LEVEL_1;
- each breakdown shard (object type; object type x range [0, 30), [30, 50), [50, inf) m) is matched
  per frame and per score cut-off 0.00, 0.01, ..., 1.00 (predictions with score >= cut-off) by a
  maximum-IoU Hungarian assignment on upright 3D IoU; a pair counts when IoU >= the class threshold
  (vehicle 0.7; pedestrian, sign, cyclist 0.5);
- the range of a box is the 3D distance of its centre from the frame origin, sqrt(x^2 + y^2 + z^2)
  (not the distance in the ground plane), and a range shard holds the ground truth *and* the
  predictions of its own range: a prediction is never matched across a shard boundary, so a
  ground truth at 29 m detected by a prediction at 31 m is a FN of [0, 30) and the prediction a
  FP of [30, 50), although the pair is a TP of the OBJECT_TYPE line;
- at level L a matched prediction is a TP, an unmatched ground truth of level <= L a FN, an
  unmatched prediction not flagged ``overlap_with_nlz`` a FP; the heading accuracy of a TP is
  max(0, 1 - |dtheta| / pi) with dtheta wrapped to [-pi, pi);
- AP is the area under the precision / recall points of the cut-offs (precision made non-increasing
  in recall, recall gaps wider than 0.05 filled at the running precision, a point at recall 0); APH
  does the same with precision = sum(heading accuracy) / (TP + FP). Precision, recall and the area
  are computed in float32 like the official tool, whose printout (6 significant digits) this
  reproduces digit for digit on its reference inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .assignment import maximum_weight_matching
from .box_overlap import paired_box_iou, same_frame_pairs
from .waymo_proto import TYPE_NAMES, WaymoObjects

IOU_THRESHOLDS = {1: 0.7, 2: 0.5, 3: 0.5, 4: 0.5}
SCORE_CUTOFFS = np.array([i * 0.01 for i in range(100)] + [1.0], dtype=np.float32)
RANGE_BINS = ((0.0, 30.0, "[0, 30)"), (30.0, 50.0, "[30, 50)"), (50.0, math.inf, "[50, +inf)"))
MAX_RECALL_DELTA = 0.05
RECALL_GAP_TOLERANCE = 1e-6  # a gap counts as wider than MAX_RECALL_DELTA beyond this
LEVELS = (1, 2)
LEADERBOARD_TYPES = (1, 2, 4)  # vehicle, pedestrian, cyclist


def assign_difficulty(difficulty: np.ndarray, num_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, level) of ground truth: boxes without points are dropped; UNKNOWN (0) becomes
    LEVEL_2 (2) with at most 5 points, else LEVEL_1 (1); labelled levels are kept."""
    difficulty = np.asarray(difficulty, dtype=np.int64)
    num_points = np.asarray(num_points, dtype=np.int64)
    level = np.where(difficulty == 0, np.where(num_points <= 5, 2, 1), difficulty)
    return num_points > 0, level


def range_bin(boxes: np.ndarray) -> np.ndarray:
    """Index into ``RANGE_BINS`` of (N, >=3) boxes: by the 3D distance of the centre from the origin."""
    distance = np.linalg.norm(np.asarray(boxes, dtype=np.float64)[:, :3], axis=1)
    return np.searchsorted([high for _, high, _ in RANGE_BINS[:-1]], distance, side="right")


def heading_accuracy(gt_heading: np.ndarray, pred_heading: np.ndarray) -> np.ndarray:
    """max(0, 1 - |wrapped heading difference| / pi)."""
    delta = np.remainder(np.asarray(pred_heading) - np.asarray(gt_heading) + math.pi, 2 * math.pi) - math.pi
    return np.clip(1.0 - np.abs(delta) / math.pi, 0.0, 1.0)


def average_precision(precision: np.ndarray, recall: np.ndarray, max_recall_delta: float = MAX_RECALL_DELTA) -> float:
    """Area under (recall, precision) points, the official tool's way, in its float32 arithmetic.

    The best precision per recall and a point (recall 0, precision 1); walking from the highest
    recall down, precision is the running maximum and a gap wider than ``max_recall_delta`` gets a
    point every ``max_recall_delta`` at the running precision; the recall-0 point then takes the
    precision of its neighbour; the area is the sum of the trapezoids."""
    f32 = np.float32
    best = {f32(0.0): f32(1.0)}
    for p, r in zip(np.asarray(precision, f32), np.asarray(recall, f32)):
        best[r] = max(best.get(r, f32(0.0)), p)
    step = f32(max_recall_delta)
    widest_gap = f32(step + f32(RECALL_GAP_TOLERANCE))
    curve = []  # (recall, precision), recall descending
    running = f32(0.0)
    for r in sorted(best, reverse=True):
        while curve and curve[-1][0] - r > widest_gap:
            curve.append((curve[-1][0] - step, running))
        running = max(running, best[r])
        curve.append((r, running))
    if len(curve) >= 2:
        curve[-1] = (curve[-1][0], curve[-2][1])
    area = f32(0.0)
    for (high_r, high_p), (low_r, low_p) in zip(curve, curve[1:]):
        area = f32(float(area) + 0.5 * float(high_r - low_r) * float(high_p + low_p))
    return float(area)


@dataclass
class _Counts:
    """TP / FP / FN / heading-accuracy sums per (level, score cut-off)."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    ha: np.ndarray

    @classmethod
    def zeros(cls) -> _Counts:
        shape = (len(LEVELS), len(SCORE_CUTOFFS))
        return cls(*(np.zeros(shape) for _ in range(4)))

    def metrics(self, level_row: int) -> dict[str, float]:
        """mAP and mAPH of one level, per cut-off in float32: recall = TP / (TP + FN) (0 when that is 0),
        precision = TP / (TP + FP) (0 when that is 0), and precision 1 wherever recall is 0."""
        tp, fp, fn, ha = (np.asarray(c[level_row], np.float32) for c in (self.tp, self.fp, self.fn, self.ha))
        kept, relevant = tp + fp, tp + fn
        recall = np.where(relevant > 0, tp / np.maximum(relevant, 1), np.float32(0))
        no_recall = recall == 0
        precision = np.where(no_recall, np.float32(1), np.where(kept > 0, tp / np.maximum(kept, 1), np.float32(0)))
        precision_ha = np.where(no_recall, np.float32(1), np.where(kept > 0, ha / np.maximum(kept, 1), np.float32(0)))
        return {"mAP": average_precision(precision, recall), "mAPH": average_precision(precision_ha, recall)}


def _accumulate_block(counts: _Counts, iou, scores, gt_level, nlz, gt_heading, pred_heading, threshold) -> None:
    """Add one frame/shard: ``iou`` (P, G) with predictions sorted by descending score."""
    kept_per_cutoff = (scores[None, :] >= SCORE_CUTOFFS[:, None]).sum(axis=1)
    weights = np.where(iou >= threshold, iou, 0.0)
    results = {}
    for cutoff_index, kept in enumerate(kept_per_cutoff):
        if kept not in results:
            pred_rows, gt_cols = maximum_weight_matching(weights[:kept])
            ha = heading_accuracy(gt_heading[gt_cols], pred_heading[pred_rows]).sum()
            matched_gt = np.zeros(len(gt_level), dtype=bool)
            matched_gt[gt_cols] = True
            unmatched_pred = np.ones(kept, dtype=bool)
            unmatched_pred[pred_rows] = False
            fp = np.count_nonzero(unmatched_pred & ~nlz[:kept])
            fn = [np.count_nonzero(~matched_gt & (gt_level <= level)) for level in LEVELS]
            results[kept] = (len(pred_rows), fp, fn, ha)
        tp, fp, fn, ha = results[kept]
        counts.tp[:, cutoff_index] += tp
        counts.fp[:, cutoff_index] += fp
        counts.fn[:, cutoff_index] += fn
        counts.ha[:, cutoff_index] += ha


def evaluate_waymo(gt: WaymoObjects, pred: WaymoObjects) -> dict[str, dict[str, float]]:
    """Official-style breakdowns: ``{"OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1": {"mAP": .., "mAPH": ..}, ...,
    "RANGE_TYPE_VEHICLE_[0, 30)_LEVEL_1": ..., "OVERALL_LEVEL_2": ...}`` (OVERALL: the mean over
    vehicle, pedestrian and cyclist). ``gt`` and ``pred`` must share frame numbering (see
    :func:`~voxformer.evaluation.waymo_proto.read_objects`)."""
    keep, gt_level = assign_difficulty(gt.difficulty, gt.num_points)
    gt_ids = np.flatnonzero(keep)
    pred_ids = np.argsort(-pred.scores, kind="stable")
    num_types = len(TYPE_NAMES)
    gt_group = gt.frames[gt_ids] * num_types + gt.types[gt_ids]
    pred_group = pred.frames[pred_ids] * num_types + pred.types[pred_ids]
    pair_gt, pair_pred = same_frame_pairs(gt_group, pred_group)
    pair_iou = paired_box_iou(gt.boxes[gt_ids[pair_gt]], pred.boxes[pred_ids[pair_pred]], mode="3d")
    # group by (frame, type), then by ground truth, then by prediction: each group is a dense block
    pair_iou = pair_iou[np.argsort(gt_group[pair_gt], kind="stable")]

    gt_range_bin = range_bin(gt.boxes[gt_ids])
    pred_range_bin = range_bin(pred.boxes[pred_ids])
    type_counts = {t: _Counts.zeros() for t in range(1, num_types)}
    range_counts = {(t, r): _Counts.zeros() for t in range(1, num_types) for r in range(len(RANGE_BINS))}
    gt_order = np.argsort(gt_group, kind="stable")
    pred_order = np.argsort(pred_group, kind="stable")  # keeps descending score inside a group
    groups = np.union1d(gt_group, pred_group)
    gt_bounds = np.searchsorted(gt_group[gt_order], np.append(groups, np.iinfo(np.int64).max))
    pred_bounds = np.searchsorted(pred_group[pred_order], np.append(groups, np.iinfo(np.int64).max))
    block_start = 0
    for k, group in enumerate(groups):
        gts = gt_order[gt_bounds[k] : gt_bounds[k + 1]]
        preds = pred_order[pred_bounds[k] : pred_bounds[k + 1]]
        block_size = len(gts) * len(preds)
        iou = pair_iou[block_start : block_start + block_size].reshape(len(gts), len(preds)).T
        block_start += block_size
        object_type = int(group % num_types)
        if object_type not in IOU_THRESHOLDS:
            continue
        shards = [(type_counts[object_type], np.ones(len(preds), bool), np.ones(len(gts), bool))]
        for r in range(len(RANGE_BINS)):
            shards.append((range_counts[(object_type, r)], pred_range_bin[preds] == r, gt_range_bin[gts] == r))
        for counts, pred_mask, gt_mask in shards:
            if not pred_mask.any() and not gt_mask.any():
                continue
            _accumulate_block(
                counts,
                iou[np.ix_(pred_mask, gt_mask)],
                pred.scores[pred_ids[preds[pred_mask]]].astype(np.float32),
                gt_level[gt_ids[gts[gt_mask]]],
                pred.overlap_with_nlz[pred_ids[preds[pred_mask]]],
                gt.boxes[gt_ids[gts[gt_mask]], 6],
                pred.boxes[pred_ids[preds[pred_mask]], 6],
                IOU_THRESHOLDS[object_type],
            )

    results = {}
    for object_type, counts in type_counts.items():
        for row, level in enumerate(LEVELS):
            results[f"OBJECT_TYPE_{TYPE_NAMES[object_type]}_LEVEL_{level}"] = counts.metrics(row)
    for (object_type, r), counts in range_counts.items():
        for row, level in enumerate(LEVELS):
            name = f"RANGE_{TYPE_NAMES[object_type]}_{RANGE_BINS[r][2]}_LEVEL_{level}"
            results[name] = counts.metrics(row)
    for level in LEVELS:
        lines = [results[f"OBJECT_TYPE_{TYPE_NAMES[t]}_LEVEL_{level}"] for t in LEADERBOARD_TYPES]
        results[f"OVERALL_LEVEL_{level}"] = {
            key: float(np.mean([line[key] for line in lines])) for key in ("mAP", "mAPH")
        }
    return results


def format_waymo(results: dict[str, dict[str, float]]) -> str:
    """One line per breakdown in the official tool's form ``NAME: [mAP 0.209682] [mAPH 0.16354]``."""
    return "\n".join(
        f"{name}: [mAP {values['mAP']:.6g}] [mAPH {values['mAPH']:.6g}]" for name, values in results.items()
    )
