"""Recall and unmatched detections per frame on a handful of labelled frames (real scans).

The question a user asks of a detector on their own scans: are the objects found, and how many
boxes does it draw where there is nothing? One :class:`Frame` per scan holds LiDAR-frame boxes
(x, y, z gravity centre, dx, dy, dz, yaw; docs/design.md §Boxes) and two region masks the caller
computes (:func:`in_bev_range`, and for KITTI the camera's field of view):

- detections scoring below ``score_thr`` are dropped first;
- per class, detections in descending score order each take the unmatched ground truth of their
  class with the largest BEV IoU at or above the class's threshold (``iou_thr``; default
  :data:`BEV_IOU`: 0.5 Car, 0.25 Pedestrian and Cyclist), every ground truth counts for matching,
  wherever it lies;
- **recall** of a class: ground truths in ``gt_in_region`` found, over ground truths in ``gt_in_region``;
- a detection that matches none is **unmatched** (charged) when it lies in ``pred_in_region``, unless
  it overlaps an *ignored* object (``gt_class`` -1: a labelled object of a class not evaluated, e.g.
  KITTI Van, Truck, Tram, Person_sitting, Misc) by the threshold of its own class, or the caller
  marked it ``pred_excused`` (e.g. covered by a KITTI DontCare region). A duplicate of a found object
  and a detection of the wrong class are charged. Ignored objects never count as misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

BEV_IOU = {"Car": 0.5, "Pedestrian": 0.25, "Cyclist": 0.25}
DEFAULT_BEV_IOU = 0.5  # a class missing from BEV_IOU
IGNORED = -1  # gt_class of an ignored object; pred_class of a detection of a class not evaluated


@dataclass
class Frame:
    """One frame: ``gt_boxes`` (G, 7) and ``pred_boxes`` (P, 7) float64, LiDAR frame; ``gt_class`` (G,)
    and ``pred_class`` (P,) int64 indices into the evaluated classes (:data:`IGNORED` for ignored
    objects / detections of other classes, which are dropped); ``pred_scores`` (P,); ``gt_in_region``
    (G,) counted for recall; ``pred_in_region`` (P,) charged when unmatched; ``pred_excused`` (P,)
    never charged. Masks default to all True (regions) and all False (excused)."""

    name: str
    gt_boxes: np.ndarray
    gt_class: np.ndarray
    pred_boxes: np.ndarray
    pred_class: np.ndarray
    pred_scores: np.ndarray
    gt_in_region: np.ndarray | None = None
    pred_in_region: np.ndarray | None = None
    pred_excused: np.ndarray | None = None

    def __post_init__(self):
        self.gt_boxes = np.asarray(self.gt_boxes, np.float64).reshape(-1, 7)
        self.pred_boxes = np.asarray(self.pred_boxes, np.float64).reshape(-1, 7)
        self.gt_class = np.asarray(self.gt_class, np.int64).reshape(-1)
        self.pred_class = np.asarray(self.pred_class, np.int64).reshape(-1)
        self.pred_scores = np.asarray(self.pred_scores, np.float64).reshape(-1)
        num_gt, num_pred = len(self.gt_boxes), len(self.pred_boxes)
        if len(self.gt_class) != num_gt or not len(self.pred_class) == len(self.pred_scores) == num_pred:
            raise ValueError(f"frame {self.name}: boxes, classes and scores differ in length")
        self.gt_in_region = _mask(self.gt_in_region, num_gt, True)
        self.pred_in_region = _mask(self.pred_in_region, num_pred, True)
        self.pred_excused = _mask(self.pred_excused, num_pred, False)


def _mask(mask, size: int, default: bool) -> np.ndarray:
    return np.full(size, default) if mask is None else np.asarray(mask, bool).reshape(size)


def in_bev_range(boxes: np.ndarray, bev_range) -> np.ndarray:
    """(N,) whether each box centre lies in ``bev_range`` (xmin, ymin, xmax, ymax), half-open as a voxel
    grid: xmin <= x < xmax; ``None`` means everywhere."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    if bev_range is None:
        return np.ones(len(boxes), bool)
    xmin, ymin, xmax, ymax = bev_range
    x, y = boxes[:, 0], boxes[:, 1]
    return (x >= xmin) & (x < xmax) & (y >= ymin) & (y < ymax)


def match_frame(frame: Frame, num_classes: int, iou_thr: tuple[float, ...], score_thr: float):
    """(found (G,) bool, charged (P,) bool) of one frame under the rules of the module docstring;
    detections below ``score_thr`` and of classes not evaluated are neither found nor charged."""
    from voxformer.ops import boxes_iou_bev

    if max(int(frame.gt_class.max(initial=-1)), int(frame.pred_class.max(initial=-1))) >= num_classes:
        raise ValueError(f"frame {frame.name}: a class index is not below {num_classes}")
    found = np.zeros(len(frame.gt_boxes), bool)
    charged = np.zeros(len(frame.pred_boxes), bool)
    kept = np.flatnonzero((frame.pred_scores >= score_thr) & (frame.pred_class >= 0))
    if len(kept) == 0:
        return found, charged
    iou = np.zeros((len(frame.pred_boxes), len(frame.gt_boxes)))
    if len(frame.gt_boxes):
        iou[kept] = boxes_iou_bev(torch.from_numpy(frame.pred_boxes[kept]), torch.from_numpy(frame.gt_boxes)).numpy()
    ignored = frame.gt_class == IGNORED
    for index in kept[np.argsort(-frame.pred_scores[kept], kind="stable")]:
        cls = frame.pred_class[index]
        threshold = iou_thr[cls]
        candidates = (frame.gt_class == cls) & ~found & (iou[index] >= threshold)
        if candidates.any():
            found[np.flatnonzero(candidates)[np.argmax(iou[index, candidates])]] = True
            continue
        excused = frame.pred_excused[index] or bool((iou[index, ignored] >= threshold).any())
        charged[index] = frame.pred_in_region[index] and not excused
    return found, charged


def evaluate_frames(
    frames: list[Frame], classes: tuple[str, ...], score_thr: float = 0.3, iou_thr: dict | None = None
) -> dict:
    """Per class ``gt`` (in region), ``found`` and ``recall`` (NaN without ground truth), and the
    unmatched detections: ``fp_per_frame`` (mean), ``fp`` per frame name, ``fp_by_class``."""
    thresholds = tuple((iou_thr or {}).get(name, BEV_IOU.get(name, DEFAULT_BEV_IOU)) for name in classes)
    gt = np.zeros(len(classes), np.int64)
    hits = np.zeros(len(classes), np.int64)
    fp_by_class = np.zeros(len(classes), np.int64)
    fp, dropped = {}, 0
    for frame in frames:
        found, charged = match_frame(frame, len(classes), thresholds, score_thr)
        counted = frame.gt_in_region & (frame.gt_class >= 0)
        gt += np.bincount(frame.gt_class[counted], minlength=len(classes))
        hits += np.bincount(frame.gt_class[counted & found], minlength=len(classes))
        fp_by_class += np.bincount(frame.pred_class[charged], minlength=len(classes))
        fp[frame.name] = int(charged.sum())
        dropped += int(((frame.pred_class == IGNORED) & (frame.pred_scores >= score_thr)).sum())
    return {
        "classes": {
            name: {
                "iou_thr": thresholds[i],
                "gt": int(gt[i]),
                "found": int(hits[i]),
                "recall": float(hits[i] / gt[i]) if gt[i] else float("nan"),
                "fp": int(fp_by_class[i]),
            }
            for i, name in enumerate(classes)
        },
        "score_thr": score_thr,
        "frames": len(frames),
        "fp_per_frame": float(np.mean(list(fp.values()))) if fp else float("nan"),
        "fp": fp,
        "dropped_detections": dropped,
    }


def format_frames(result: dict, region: str) -> str:
    """The table of :func:`evaluate_frames`: one row per class, then the unmatched detections per frame;
    ``region`` says where detections are charged (printed with the mean)."""
    lines = [f"{'class':<12}{'BEV IoU':>8}{'GT in range':>13}{'found':>7}{'recall':>8}{'unmatched':>11}"]
    for name, row in result["classes"].items():
        recall = "-" if row["gt"] == 0 else f"{row['recall']:.3f}"
        lines.append(f"{name:<12}{row['iou_thr']:>8.2f}{row['gt']:>13}{row['found']:>7}{recall:>8}{row['fp']:>11}")
    lines.append(
        f"unmatched detections per frame (score >= {result['score_thr']:g}, {region}): "
        f"{result['fp_per_frame']:.2f} over {result['frames']} frames"
    )
    lines.append("  " + "  ".join(f"{name}: {count}" for name, count in result["fp"].items()))
    if result["dropped_detections"]:
        lines.append(f"{result['dropped_detections']} detections of classes not evaluated were left out")
    return "\n".join(lines)
