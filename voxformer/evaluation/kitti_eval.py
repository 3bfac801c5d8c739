"""KITTI 3D object detection AP (the official devkit's definition), vectorized and numba-compiled.

Input: one dict per frame for ground truth and for detections (OpenPCDet's "annos" layout):

- ``name`` (N,) class names; ``boxes_lidar`` (N, 7) upright boxes (gravity centre, dx, dy, dz, yaw
  about z) used for BEV and 3D IoU. The overlaps equal the devkit's camera-frame ones only when the
  boxes are the camera boxes re-axed rigidly (x = cam z, y = -cam x, z = -cam y), as ``voxformer
  evaluate kitti`` does without ``--calib-dir``; boxes converted to the LiDAR frame with a calib file
  are not upright there (the camera's up axis is tilted about 0.85 deg from LiDAR z), and treating
  them as upright moves per-pair IoU by up to about 0.01;
- detections: ``score`` (N,);
- image mode (KITTI labels): ``bbox`` (N, 4) left, top, right, bottom px and ``alpha`` (N,);
  ground truth also ``truncated`` and ``occluded``; ``DontCare`` rows mark regions;
- LiDAR mode (any frame without ``bbox``: synthetic, Waymo, custom data): ground truth
  ``difficulty`` (N,) 0 easy / 1 moderate / 2 hard / -1 ignored, levels cumulative.

Rules (devkit ``evaluate_object.cpp``): difficulty from 2D height (> 40 / 25 / 25 px), occlusion
(<= 0 / 1 / 2) and truncation (<= 0.15 / 0.30 / 0.50); a GT outside the level, or of the
neighbouring class (Van for Car, Person_sitting for Pedestrian), is ignored (a detection matched
to it is neither TP nor FP); detections lower than the level's minimum height are ignored;
greedy matching per GT (first pass: the highest score with overlap > threshold, to pick the 41
score thresholds; then per threshold the largest overlap); precision made non-increasing;
AP_R11 = mean of precision at points 0, 4, ..., 40, AP_R40 = mean over points 1..40; AOS weights
each TP by (1 + cos(delta alpha)) / 2. In LiDAR mode there is no 2D ("bbox") row and AOS uses yaw
differences over the BEV matching.

DontCare: in the 2D-box row, an unmatched detection covering a DontCare box by more than the
threshold (intersection over detection area) is not a FP. DontCare rows have no 3D box, so in the
BEV and 3D rows they excuse nothing and such a detection is a FP (OpenPCDet tests DontCare only
for ``metric == 0``; the devkit overlaps the DontCare row's placeholder 3D box, which never meets
a detection).

Overlaps are computed in float64 (as the C++ devkit does). OpenPCDet's Python path casts boxes to
float32 before the rotated IoU, so a pair within about 1e-6 of a threshold (e.g. IoU 0.4999984
against 0.5) can be a hit there and a miss here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .box_overlap import paired_box_iou, paired_image_box_iou, same_frame_pairs

CLASSES = ("Car", "Pedestrian", "Cyclist")
NEIGHBOUR_CLASS = {"Car": "Van", "Pedestrian": "Person_sitting"}
DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40.0, 25.0, 25.0)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.30, 0.50)
NUM_SAMPLE_POINTS = 41
# IoU thresholds per class for the (bbox, bev, 3d) rows: the official set and the loose set.
OVERLAPS = {
    "strict": {"Car": (0.7, 0.7, 0.7), "Pedestrian": (0.5, 0.5, 0.5), "Cyclist": (0.5, 0.5, 0.5)},
    "loose": {"Car": (0.7, 0.5, 0.5), "Pedestrian": (0.5, 0.25, 0.25), "Cyclist": (0.5, 0.25, 0.25)},
}
METRIC_ROWS = ("bbox", "bev", "3d")
RESULT_NAMES = {"bbox": "image", "bev": "bev", "3d": "3d", "aos": "aos"}


def score_thresholds(tp_scores: np.ndarray, num_gt: int) -> np.ndarray:
    """Up to 41 scores of true positives that sample recall evenly (devkit ``getThresholds``)."""
    scores = np.sort(np.asarray(tp_scores, dtype=np.float64))[::-1]
    chosen, current_recall = [], 0.0
    for i, score in enumerate(scores):
        left_recall = (i + 1) / num_gt
        right_recall = (i + 2) / num_gt if i < len(scores) - 1 else left_recall
        if right_recall - current_recall < current_recall - left_recall and i < len(scores) - 1:
            continue
        chosen.append(score)
        current_recall += 1.0 / (NUM_SAMPLE_POINTS - 1)
    return np.asarray(chosen, dtype=np.float64)


def average_precisions(precision: np.ndarray) -> tuple[float, float]:
    """(AP_R11, AP_R40) in percent from the 41-point non-increasing precision array."""
    return float(precision[::4].sum() / 11 * 100), float(precision[1:].sum() / 40 * 100)


@dataclass
class _Dataset:
    """All frames concatenated, rows sorted by frame; DontCare rows split off the ground truth."""

    num_frames: int
    image_mode: bool
    gt: dict
    det: dict
    dc_bbox: np.ndarray
    gt_start: np.ndarray
    det_start: np.ndarray
    dc_start: np.ndarray


_WIDTHS = {"boxes_lidar": 7, "bbox": 4}


def _concatenate(annos: list[dict], keys: tuple[str, ...], what: str) -> dict:
    """Concatenate per-frame fields; ``frame`` numbers the rows' frames."""
    counts = [len(anno["name"]) for anno in annos]
    out = {"frame": np.repeat(np.arange(len(annos), dtype=np.int64), counts)}
    for key in keys:
        width = _WIDTHS.get(key, 1)
        parts = []
        for f, anno in enumerate(annos):
            if key not in anno:
                raise ValueError(f"{what} of frame {f} has no {key!r} field")
            value = np.asarray(anno[key])
            if value.size != counts[f] * width:
                raise ValueError(
                    f"{what} of frame {f}: {key!r} has {value.size} values, expected {counts[f]} x {width}"
                )
            parts.append(value.reshape(counts[f], width))
        column = np.concatenate(parts) if parts else np.zeros((0, width))
        out[key] = column if width > 1 else column[:, 0]
    out["name"] = out["name"].astype(str)
    return out


def _starts(frames: np.ndarray, num_frames: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(frames, minlength=num_frames))]).astype(np.int64)


def _prepare(gt_annos: list[dict], det_annos: list[dict]) -> _Dataset:
    if len(gt_annos) != len(det_annos):
        raise ValueError(f"{len(gt_annos)} ground-truth frames but {len(det_annos)} detection frames")
    image_mode = all("bbox" in a for a in gt_annos)
    gt_keys = ("name", "boxes_lidar") + (("bbox", "alpha", "truncated", "occluded") if image_mode else ("difficulty",))
    det_keys = ("name", "boxes_lidar", "score") + (("bbox", "alpha") if image_mode else ())
    gt = _concatenate(gt_annos, gt_keys, "ground truth")
    det = _concatenate(det_annos, det_keys, "detections")
    dont_care = gt["name"] == "DontCare"
    dc_bbox = gt["bbox"][dont_care] if image_mode else np.zeros((0, 4))
    dc_frame = gt["frame"][dont_care]
    gt = {key: value[~dont_care] for key, value in gt.items()}
    det = {key: value[det["name"] != "DontCare"] for key, value in det.items()}
    num_frames = len(gt_annos)
    return _Dataset(
        num_frames, image_mode, gt, det, dc_bbox,
        _starts(gt["frame"], num_frames), _starts(det["frame"], num_frames), _starts(dc_frame, num_frames),
    )  # fmt: skip


def _overlaps(data: _Dataset) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per metric row: flat (det, gt) overlap blocks per frame; block starts; DontCare overlaps."""
    det_index, gt_index = same_frame_pairs(data.det["frame"], data.gt["frame"])
    overlaps = {
        "bev": paired_box_iou(data.det["boxes_lidar"][det_index], data.gt["boxes_lidar"][gt_index], "bev"),
        "3d": paired_box_iou(data.det["boxes_lidar"][det_index], data.gt["boxes_lidar"][gt_index], "3d"),
    }
    if data.image_mode:
        overlaps["bbox"] = paired_image_box_iou(data.det["bbox"][det_index], data.gt["bbox"][gt_index])
    num_gt = np.diff(data.gt_start)
    num_det = np.diff(data.det_start)
    block_start = np.concatenate([[0], np.cumsum(num_gt * num_det)]).astype(np.int64)
    dc_frames = np.repeat(np.arange(data.num_frames), np.diff(data.dc_start))
    det_dc, dc_index = same_frame_pairs(data.det["frame"], dc_frames)
    if data.image_mode:
        dc_overlaps = paired_image_box_iou(data.dc_bbox[dc_index], data.det["bbox"][det_dc], over_b_area=True)
    else:
        dc_overlaps = np.zeros(0)
    dc_block_start = np.concatenate([[0], np.cumsum(np.diff(data.dc_start) * num_det)]).astype(np.int64)
    return overlaps, block_start, dc_overlaps, dc_block_start


def _ignored(data: _Dataset, class_name: str, level: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(ignored_gt, ignored_det, number of valid GT): 0 counts, 1 ignored when matched, -1 skipped."""
    gt, det = data.gt, data.det
    valid_class = np.where(gt["name"] == class_name, 1, np.where(gt["name"] == NEIGHBOUR_CLASS.get(class_name), 0, -1))
    if data.image_mode:
        height = gt["bbox"][:, 3] - gt["bbox"][:, 1]
        ignore = (
            (gt["occluded"].astype(np.int64) > MAX_OCCLUSION[level])
            | (gt["truncated"].astype(np.float64) > MAX_TRUNCATION[level])
            | (height <= MIN_HEIGHT[level])
        )
        det_height = np.trunc(np.abs(det["bbox"][:, 3] - det["bbox"][:, 1]))  # the devkit casts to int
        det_small = det_height < MIN_HEIGHT[level]
    else:
        difficulty = gt["difficulty"].astype(np.int64)
        ignore = (difficulty < 0) | (difficulty > level)
        det_small = np.zeros(len(det["name"]), dtype=bool)
    ignored_gt = np.where((valid_class == 1) & ~ignore, 0, np.where((valid_class == 0) | (valid_class == 1), 1, -1))
    ignored_det = np.where(det_small, 1, np.where(det["name"] == class_name, 0, -1))
    return ignored_gt.astype(np.int64), ignored_det.astype(np.int64), int(np.count_nonzero(ignored_gt == 0))


def evaluate_kitti(
    gt_annos: list[dict], det_annos: list[dict], classes: tuple[str, ...] = CLASSES
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """KITTI AP for every class, difficulty, metric row and overlap set.

    Returns ``{overlap_set: {class: {row: (3, 2) array}}}``: ``overlap_set`` "strict" or "loose",
    ``row`` "bbox" (image mode), "bev", "3d", "aos"; the array holds (AP_R11, AP_R40) in percent for
    easy, moderate, hard. Classes without thresholds (not Car / Pedestrian / Cyclist) use 0.5.
    """
    from .kitti_kernels import collect_tp_scores, sweep_thresholds

    data = _prepare(gt_annos, det_annos)
    overlaps, block_start, dc_overlaps, dc_block_start = _overlaps(data)
    rows = METRIC_ROWS if data.image_mode else METRIC_ROWS[1:]
    aos_row = "bbox" if data.image_mode else "bev"
    angle_key = "alpha" if data.image_mode else None
    gt_angle = data.gt[angle_key] if angle_key else data.gt["boxes_lidar"][:, 6]
    det_angle = data.det[angle_key] if angle_key else data.det["boxes_lidar"][:, 6]
    results = {}
    for overlap_set, thresholds_by_class in OVERLAPS.items():
        results[overlap_set] = {}
        for class_name in classes:
            min_overlaps = dict(zip(METRIC_ROWS, thresholds_by_class.get(class_name, (0.5, 0.5, 0.5))))
            table = {row: np.zeros((len(DIFFICULTIES), 2)) for row in (*rows, "aos")}
            for level in range(len(DIFFICULTIES)):
                ignored_gt, ignored_det, num_valid = _ignored(data, class_name, level)
                if num_valid == 0:
                    continue
                for row in rows:
                    kernel_data = (
                        data.gt_start, data.det_start, data.dc_start, block_start, dc_block_start,
                        overlaps[row], dc_overlaps, ignored_gt, ignored_det,
                        data.det["score"].astype(np.float64), gt_angle.astype(np.float64),
                        det_angle.astype(np.float64),
                    )  # fmt: skip
                    scores = collect_tp_scores(data.num_frames, min_overlaps[row], kernel_data)
                    thresholds = score_thresholds(scores, num_valid)
                    dont_care = row == "bbox"  # DontCare regions are 2D boxes only
                    stats = sweep_thresholds(data.num_frames, thresholds, min_overlaps[row], dont_care, kernel_data)
                    tp, fp, fn, similarity = stats.T
                    precision = np.zeros(NUM_SAMPLE_POINTS)
                    precision[: len(thresholds)] = tp / np.maximum(tp + fp, 1)
                    precision = np.maximum.accumulate(precision[::-1])[::-1]
                    table[row][level] = average_precisions(precision)
                    if row == aos_row:
                        orientation = np.zeros(NUM_SAMPLE_POINTS)
                        orientation[: len(thresholds)] = similarity / np.maximum(tp + fp, 1)
                        orientation = np.maximum.accumulate(orientation[::-1])[::-1]
                        table["aos"][level] = average_precisions(orientation)
            results[overlap_set][class_name] = table
    return results


def flatten_kitti(results: dict) -> dict[str, float]:
    """OpenPCDet-style keys: ``Car_3d/moderate_R40``, ``Car_bev/easy`` (R11), ``Car_aos/hard_R40``; the
    loose overlap set adds ``_loose`` after the row (``Car_3d_loose/moderate_R40``)."""
    flat = {}
    for overlap_set, by_class in results.items():
        suffix = "" if overlap_set == "strict" else f"_{overlap_set}"
        for class_name, table in by_class.items():
            for row, values in table.items():
                for level, difficulty in enumerate(DIFFICULTIES):
                    key = f"{class_name}_{RESULT_NAMES[row]}{suffix}/{difficulty}"
                    flat[key] = float(values[level, 0])
                    flat[f"{key}_R40"] = float(values[level, 1])
    return flat


def format_kitti(results: dict) -> str:
    """The familiar printout: ``Car AP@0.70, 0.70, 0.70:`` then bbox/bev/3d/aos rows, and the same
    for ``AP_R40``, for the official and the loose overlap sets."""
    lines = []
    for class_name in next(iter(results.values())):
        for overlap_set, by_class in results.items():
            table = by_class[class_name]
            rows = [row for row in METRIC_ROWS if row in table]
            thresholds = dict(zip(METRIC_ROWS, OVERLAPS[overlap_set].get(class_name, (0.5, 0.5, 0.5))))
            header = ", ".join(f"{thresholds[row]:.2f}" for row in rows)
            for column, tag in ((0, "AP"), (1, "AP_R40")):
                lines.append(f"{class_name} {tag}@{header}:")
                for row in rows:
                    lines.append(f"{row:4s} AP:" + ", ".join(f"{v:.4f}" for v in table[row][:, column]))
                lines.append("aos  AP:" + ", ".join(f"{v:.2f}" for v in table["aos"][:, column]))
    return "\n".join(lines)
