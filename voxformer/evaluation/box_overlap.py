"""Overlaps between ground-truth and detected boxes of the same frame, for every metric at once.

All candidate pairs of a whole data set are built in one vectorized step (no loop over frames),
pairs whose boxes cannot touch are dropped by a centre-distance test, and the exact rotated IoU of
:mod:`voxformer.ops` scores the rest in a single call. Boxes are (N, 7) LiDAR-frame rows
(x, y, z gravity centre, dx, dy, dz, yaw).
"""

from __future__ import annotations

import numpy as np
import torch


def same_frame_pairs(frames_a: np.ndarray, frames_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``frames_a[i] == frames_b[j]``, as two int64 index arrays grouped by i."""
    frames_a = np.asarray(frames_a, dtype=np.int64)
    frames_b = np.asarray(frames_b, dtype=np.int64)
    if len(frames_a) == 0 or len(frames_b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    num_frames = int(max(frames_a.max(), frames_b.max())) + 1
    order_b = np.argsort(frames_b, kind="stable")
    count_b = np.bincount(frames_b, minlength=num_frames)
    start_b = np.concatenate([[0], np.cumsum(count_b)[:-1]])
    per_a = count_b[frames_a]
    index_a = np.repeat(np.arange(len(frames_a)), per_a)
    first_pair = np.cumsum(per_a) - per_a
    within = np.arange(len(index_a)) - np.repeat(first_pair, per_a)
    index_b = order_b[np.repeat(start_b[frames_a], per_a) + within]
    return index_a, index_b


def paired_box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray, mode: str) -> np.ndarray:
    """IoU of row i of ``boxes_a`` with row i of ``boxes_b`` (``mode`` "bev" or "3d", upright 3D).

    Rows whose BEV circumcircles do not meet get 0 without being handed to the polygon clipper."""
    from voxformer.ops import boxes_iou_aligned

    boxes_a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 7)
    boxes_b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 7)
    iou = np.zeros(len(boxes_a))
    radius_a = 0.5 * np.hypot(boxes_a[:, 3], boxes_a[:, 4])
    radius_b = 0.5 * np.hypot(boxes_b[:, 3], boxes_b[:, 4])
    distance = np.hypot(boxes_a[:, 0] - boxes_b[:, 0], boxes_a[:, 1] - boxes_b[:, 1])
    near = np.flatnonzero(distance < radius_a + radius_b)
    if len(near):
        a = torch.from_numpy(boxes_a[near])
        b = torch.from_numpy(boxes_b[near])
        iou[near] = boxes_iou_aligned(a, b, mode=mode).double().numpy()
    return iou


def paired_image_box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray, over_b_area: bool = False) -> np.ndarray:
    """2D IoU of row-paired image boxes (left, top, right, bottom); with ``over_b_area`` the
    intersection is divided by the area of the ``boxes_b`` row instead (KITTI's DontCare test)."""
    boxes_a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    width = np.minimum(boxes_a[:, 2], boxes_b[:, 2]) - np.maximum(boxes_a[:, 0], boxes_b[:, 0])
    height = np.minimum(boxes_a[:, 3], boxes_b[:, 3]) - np.maximum(boxes_a[:, 1], boxes_b[:, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]) * (boxes_a[:, 3] - boxes_a[:, 1])
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
    denominator = area_b if over_b_area else area_a + area_b - inter
    return np.where(denominator > 0, inter / np.where(denominator > 0, denominator, 1), 0.0)
