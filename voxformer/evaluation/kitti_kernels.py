"""Numba loops of the KITTI evaluation: per-frame greedy matching (devkit ``computeStatistics``).

``data`` is the tuple built by :func:`voxformer.evaluation.kitti_eval.evaluate_kitti`: CSR starts of
ground truth, detections and DontCare boxes per frame, starts of the flat (det, gt) and (det, DontCare)
overlap blocks, the overlaps, ignore flags (0 counts, 1 ignored when matched, -1 skipped), detection
scores and the gt / detection angles for AOS. ``dont_care`` says whether unmatched detections covering
a DontCare box are excused: only in the 2D-box row (devkit and OpenPCDet: ``metric == 0``), because
DontCare rows have no 3D box.
"""

import math

import numba
import numpy as np


@numba.njit(cache=True)
def frame_statistics(f, threshold, compute_fp, min_overlap, dont_care, data):
    """TP / FP / FN / similarity of frame ``f`` at score ``threshold`` and the TP scores."""
    (gt_start, det_start, dc_start, overlap_start, dc_overlap_start, overlaps, dc_overlaps,
     ignored_gt, ignored_det, scores, gt_angle, det_angle) = data  # fmt: skip
    g0, g1 = gt_start[f], gt_start[f + 1]
    d0, d1 = det_start[f], det_start[f + 1]
    num_det = d1 - d0
    assigned = np.zeros(num_det, dtype=np.bool_)
    below = np.zeros(num_det, dtype=np.bool_)
    if compute_fp:
        for j in range(num_det):
            below[j] = scores[d0 + j] < threshold
    tp = 0
    fp = 0
    fn = 0
    tp_scores = np.empty(g1 - g0)
    similarity = 0.0
    for i in range(g1 - g0):
        if ignored_gt[g0 + i] == -1:
            continue
        best = -1
        best_score = -1e30
        max_overlap = 0.0
        assigned_ignored = False
        for j in range(num_det):
            if ignored_det[d0 + j] == -1 or assigned[j] or below[j]:
                continue
            overlap = overlaps[overlap_start[f] + j * (g1 - g0) + i]
            if overlap <= min_overlap:
                continue
            if not compute_fp:
                if scores[d0 + j] > best_score:
                    best, best_score = j, scores[d0 + j]
            elif (overlap > max_overlap or assigned_ignored) and ignored_det[d0 + j] == 0:
                max_overlap, best, best_score, assigned_ignored = overlap, j, 1.0, False
            elif best == -1 and ignored_det[d0 + j] == 1:
                best, best_score, assigned_ignored = j, 1.0, True
        if best == -1:
            if ignored_gt[g0 + i] == 0:
                fn += 1
        elif ignored_gt[g0 + i] == 1 or ignored_det[d0 + best] == 1:
            assigned[best] = True
        else:
            tp_scores[tp] = scores[d0 + best]
            tp += 1
            similarity += (1.0 + math.cos(gt_angle[g0 + i] - det_angle[d0 + best])) / 2.0
            assigned[best] = True
    if compute_fp:
        for j in range(num_det):
            if not (assigned[j] or ignored_det[d0 + j] != 0 or below[j]):
                fp += 1
    if compute_fp and dont_care:
        num_dc = dc_start[f + 1] - dc_start[f]
        for k in range(num_dc):
            for j in range(num_det):
                if assigned[j] or ignored_det[d0 + j] != 0 or below[j]:
                    continue
                if dc_overlaps[dc_overlap_start[f] + j * num_dc + k] > min_overlap:
                    assigned[j] = True
                    fp -= 1
    return tp, fp, fn, similarity, tp_scores[:tp]


@numba.njit(cache=True)
def collect_tp_scores(num_frames, min_overlap, data):
    """Scores of the true positives of the first pass (highest-scoring match, no threshold)."""
    collected = np.empty(len(data[7]))
    count = 0
    for f in range(num_frames):
        scores = frame_statistics(f, 0.0, False, min_overlap, False, data)[4]
        collected[count : count + len(scores)] = scores
        count += len(scores)
    return collected[:count]


@numba.njit(cache=True)
def sweep_thresholds(num_frames, thresholds, min_overlap, dont_care, data):
    """(T, 4) summed TP, FP, FN and orientation similarity at each score threshold."""
    stats = np.zeros((len(thresholds), 4))
    for f in range(num_frames):
        for t in range(len(thresholds)):
            tp, fp, fn, similarity, _ = frame_statistics(f, thresholds[t], True, min_overlap, dont_care, data)
            stats[t, 0] += tp
            stats[t, 1] += fp
            stats[t, 2] += fn
            stats[t, 3] += similarity
    return stats
