"""Semantic-segmentation scores: per-class IoU and mIoU over a whole split, overall and by range.

For each class c, over every point of the split whose target is not ``ignore_index``:
I_c = #(target c and prediction c), U_c = #(target c or prediction c), IoU_c = I_c / U_c.
Points whose target is ignored count nowhere; a prediction outside 0..C-1 (e.g. 255) on a labelled
point counts against that point's class. mIoU is the mean of IoU_c over the scored classes: every
class except ``absent_classes`` (classes the data set never holds) and, with a note in the table,
any class with U_c = 0 (IoU undefined, reported as NaN). All values are percentages.

Distance bins (SphereFormer's evaluation): with edges (20, 50) the bins are r <= 20, 20 < r <= 50
and r > 50 metres, r the point's range ||(x, y, z)|| from the sensor, named ``<=20m``, ``20-50m``,
``>50m``; each bin has its own IoU_c over its points.

The counts are a confusion matrix (C, C + 1): row = target class, column = predicted class, the
last column any prediction outside the classes. :func:`confusion` builds one per frame and bin;
summing them and calling :func:`scores` gives the split's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IGNORE_INDEX = 255


def bin_names(edges: Sequence[float]) -> list[str]:
    """Names of the distance bins of ``edges`` (increasing metres): ``<=a m``, ``a-b m``, ..., ``>z m``."""
    edges = [float(e) for e in edges]
    if not edges:
        return []
    names = [f"<={edges[0]:g}m"] + [f"{a:g}-{b:g}m" for a, b in zip(edges, edges[1:])]
    return names + [f">{edges[-1]:g}m"]


def confusion(
    target: np.ndarray,
    prediction: np.ndarray,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
    distance: np.ndarray | None = None,
    edges: Sequence[float] = (),
) -> np.ndarray:
    """(1 + B, C, C + 1) int64 counts: the whole frame, then each of the B = len(edges) + 1 distance bins
    (only the first when ``distance`` is None or ``edges`` empty)."""
    target = np.asarray(target, np.int64).reshape(-1)
    prediction = np.asarray(prediction, np.int64).reshape(-1)
    if target.shape != prediction.shape:
        raise ValueError(f"{len(prediction)} predictions for {len(target)} target points")
    bins = len(edges) + 1 if (distance is not None and len(edges)) else 0
    counts = np.zeros((1 + bins, num_classes, num_classes + 1), np.int64)
    valid = target != ignore_index
    if ((target[valid] < 0) | (target[valid] >= num_classes)).any():
        bad = sorted(set(target[valid & ((target < 0) | (target >= num_classes))].tolist()))
        raise ValueError(f"target classes {bad[:5]} outside 0..{num_classes - 1} and not the ignore index")
    pred = np.where((prediction >= 0) & (prediction < num_classes), prediction, num_classes)
    cell = target[valid] * (num_classes + 1) + pred[valid]
    size = num_classes * (num_classes + 1)
    counts[0] = np.bincount(cell, minlength=size).reshape(num_classes, num_classes + 1)
    if bins:
        r = np.asarray(distance, np.float64).reshape(-1)
        if r.shape != target.shape:
            raise ValueError(f"{len(r)} distances for {len(target)} target points")
        which = np.searchsorted(np.asarray(edges, np.float64), r[valid], side="left")  # r == edge -> lower bin
        flat = np.bincount(which * size + cell, minlength=bins * size)
        counts[1:] = flat.reshape(bins, num_classes, num_classes + 1)
    return counts


def iou(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (intersection, union, IoU %) of a (C, C + 1) confusion matrix; IoU NaN where union is 0."""
    num_classes = counts.shape[0]
    intersection = np.diagonal(counts[:, :num_classes]).astype(np.float64)
    union = counts.sum(1) + counts[:, :num_classes].sum(0) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(union > 0, 100.0 * intersection / union, np.nan)
    return intersection, union, values


def scores(
    counts: np.ndarray,
    class_names: Sequence[str],
    absent_classes: Sequence[str] = (),
    edges: Sequence[float] = (),
) -> dict:
    """The split's numbers from summed :func:`confusion` counts (1 + B, C, C + 1).

    Returns ``{"mIoU", "IoU": {class: %}, "bins": {bin: {"mIoU", "IoU"}}, "scored": [classes],
    "points": {class: target points}}``.
    """
    class_names = list(class_names)
    unknown = [name for name in absent_classes if name not in class_names]
    if unknown:
        raise ValueError(f"absent classes {unknown} are not among the classes {class_names}")
    present = np.array([name not in absent_classes for name in class_names])

    def summary(matrix: np.ndarray) -> dict:
        _, _, values = iou(matrix)
        kept = values[present]
        mean = float(np.nanmean(kept)) if np.isfinite(kept).any() else float("nan")
        return {"mIoU": mean, "IoU": {name: float(v) for name, v, p in zip(class_names, values, present) if p}}

    result = summary(counts[0])
    result["scored"] = [name for name, p in zip(class_names, present) if p]
    result["points"] = {name: int(n) for name, n in zip(class_names, counts[0].sum(1))}
    result["bins"] = {name: summary(counts[1 + i]) for i, name in enumerate(bin_names(edges)) if 1 + i < len(counts)}
    return result


def seg_eval(
    targets: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    class_names: Sequence[str],
    ignore_index: int = IGNORE_INDEX,
    distances: Sequence[np.ndarray] | None = None,
    edges: Sequence[float] = (20.0, 50.0),
    absent_classes: Sequence[str] = (),
) -> dict:
    """Scores (:func:`scores`) of per-frame target and prediction arrays (and per-point ranges for the bins)."""
    num_classes = len(class_names)
    bins = len(edges) + 1 if (distances is not None and len(edges)) else 0
    total = np.zeros((1 + bins, num_classes, num_classes + 1), np.int64)
    for index, (target, prediction) in enumerate(zip(targets, predictions, strict=True)):
        distance = None if distances is None else distances[index]
        total += confusion(target, prediction, num_classes, ignore_index, distance, edges if bins else ())
    return scores(total, class_names, absent_classes, edges if bins else ())


def format_scores(result: dict) -> str:
    """A per-class table: IoU overall and per distance bin, target points, then the mIoU row."""
    bins = list(result["bins"])
    header = f"{'class':<20}{'IoU':>8}" + "".join(f"{name:>10}" for name in bins) + f"{'points':>12}"
    lines = [header, "-" * len(header)]

    def cell(value: float, width: int) -> str:
        return f"{'nan' if np.isnan(value) else f'{value:.2f}':>{width}}"

    for name in result["scored"]:
        row = f"{name:<20}" + cell(result["IoU"][name], 8)
        row += "".join(cell(result["bins"][b]["IoU"][name], 10) for b in bins)
        lines.append(row + f"{result['points'][name]:>12}")
    lines.append("-" * len(header))
    lines.append(f"{'mIoU':<20}" + cell(result["mIoU"], 8) + "".join(cell(result["bins"][b]["mIoU"], 10) for b in bins))
    undefined = [name for name in result["scored"] if np.isnan(result["IoU"][name])]
    if undefined:
        lines.append(f"no target or prediction of {undefined}: IoU undefined, left out of the mIoU")
    return "\n".join(lines)
