"""Evaluation suite: the whole KITTI evaluation (3 classes x 3 difficulties x bbox/BEV/3D/AOS, strict and
loose thresholds) on a KITTI-val-sized generated set: 3,769 frames, ~25k ground-truth boxes, ~50k
detections. The baseline is the 3D IoU alone computed frame by frame (``boxes_iou3d`` per frame),
the first step of a non-vectorized evaluator.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from voxformer.benchmark.timing import Row, compare

SUITE = "evaluation"
KITTI_VAL_FRAMES = 3769


def kitti_like_set(num_frames: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Image-mode annotations: ~6.7 GT and ~13 detections per frame (jittered matches + false positives)."""
    rng = np.random.default_rng(seed)
    classes = np.array(["Car", "Car", "Car", "Pedestrian", "Cyclist", "Van", "DontCare"])
    sizes = {"Car": (3.9, 1.6, 1.5), "Van": (5.0, 1.9, 2.2), "Pedestrian": (0.8, 0.6, 1.7),
             "Cyclist": (1.8, 0.6, 1.7), "DontCare": (2.0, 2.0, 2.0)}  # fmt: skip
    gt_annos, det_annos = [], []
    for _ in range(num_frames):
        n = int(rng.integers(1, 13))
        names = rng.choice(classes, n)
        dims = np.array([sizes[name] for name in names]) * rng.uniform(0.9, 1.1, (n, 3))
        centre = np.c_[rng.uniform(3, 70, n), rng.uniform(-30, 30, n), rng.uniform(-1.5, -0.5, n)]
        boxes = np.c_[centre, dims, rng.uniform(-math.pi, math.pi, n)]
        top = rng.uniform(150, 200, n)
        height = 1000.0 / centre[:, 0] * dims[:, 2] / 1.5
        left = rng.uniform(0, 1100, n)
        bbox = np.c_[left, top, left + height * 1.5, top + height]
        gt_annos.append({"name": names, "truncated": rng.choice([0.0, 0.2, 0.4], n), "occluded": rng.integers(0, 3, n),
                         "alpha": boxes[:, 6], "bbox": bbox, "boxes_lidar": boxes})  # fmt: skip
        keep = names != "DontCare"
        jitter = np.c_[rng.normal(0, 0.2, (keep.sum(), 3)), np.zeros((keep.sum(), 3)), rng.normal(0, 0.1, keep.sum())]
        m = int(rng.integers(0, 16))
        fp_centre = np.c_[rng.uniform(3, 70, m), rng.uniform(-30, 30, m), np.full(m, -1.0)]
        fp_boxes = np.c_[fp_centre, np.tile([3.9, 1.6, 1.5], (m, 1)), rng.uniform(-3, 3, m)]
        fp_left = rng.uniform(0, 1100, m)
        det_annos.append(
            {
                "name": np.concatenate(
                    [np.where(names[keep] == "Van", "Car", names[keep]), rng.choice(classes[:5], m)]
                ),
                "boxes_lidar": np.concatenate([boxes[keep] + jitter, fp_boxes]),
                "bbox": np.concatenate(
                    [
                        bbox[keep] + rng.normal(0, 3, (keep.sum(), 4)),
                        np.c_[fp_left, np.full(m, 170), fp_left + 60, np.full(m, 210)],
                    ]
                ),  # fmt: skip
                "alpha": np.concatenate([boxes[keep, 6] + jitter[:, 6], rng.uniform(-3, 3, m)]),
                "score": rng.uniform(0.05, 1, keep.sum() + m),
            }
        )
    return gt_annos, det_annos


def run(device: torch.device, quick: bool = False) -> list[Row]:
    from voxformer.evaluation.kitti_eval import evaluate_kitti
    from voxformer.ops import boxes_iou3d

    num_frames = 300 if quick else KITTI_VAL_FRAMES
    gt_annos, det_annos = kitti_like_set(num_frames)
    num_gt = sum(len(a["name"]) for a in gt_annos)
    num_det = sum(len(a["name"]) for a in det_annos)
    evaluate_kitti(gt_annos[:20], det_annos[:20])  # compile the numba loops outside the timing

    def per_frame_iou():
        for gt, det in zip(gt_annos, det_annos):
            boxes_iou3d(torch.from_numpy(det["boxes_lidar"]), torch.from_numpy(gt["boxes_lidar"]))

    shape = f"{num_frames} frames, {num_gt} GT, {num_det} det"
    row = compare(
        "kitti_eval (all classes, rows)", shape, "cpu", lambda: evaluate_kitti(gt_annos, det_annos),
        "3D IoU per frame only", per_frame_iou, warmup=0, repeat=1,
    )  # fmt: skip
    return [row]
