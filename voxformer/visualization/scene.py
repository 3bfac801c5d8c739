"""One call that writes the pictures of a frame: a BEV PNG (always) and a 3D PNG (Open3D, off screen)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError


def _boxes_array(boxes) -> np.ndarray | None:
    if boxes is None:
        return None
    if hasattr(boxes, "boxes"):  # Detections
        boxes = boxes.boxes
    if hasattr(boxes, "tensor"):  # Boxes3D
        boxes = boxes.tensor
    if hasattr(boxes, "detach"):
        boxes = boxes.detach().cpu().numpy()
    boxes = np.asarray(boxes, dtype=np.float32)
    return boxes.reshape(0, 7) if boxes.size == 0 else boxes


def render_scene(
    out_prefix: str | Path, points: np.ndarray, gt=None, pred=None, color_by="height", bev_range=None
) -> list[Path]:
    """Write ``<out_prefix>_bev.png`` and ``<out_prefix>_3d.png``; return the paths written.

    ``gt`` and ``pred`` are boxes ((N, 7+) arrays, tensors, Boxes3D) or ``Detections`` (whose
    classes and scores are printed in the BEV picture); ``bev_range`` (xmin, ymin, xmax, ymax) crops the
    BEV picture. When Open3D cannot render off screen, the 3D picture is skipped with a warning that
    says what to install; the BEV picture never needs it.
    """
    from voxformer.visualization.bev import draw_bev

    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    scores = pred.scores.numpy() if hasattr(pred, "scores") else None
    gt_boxes, pred_boxes = _boxes_array(gt), _boxes_array(pred)
    bev_path = out_prefix.with_name(out_prefix.name + "_bev.png")
    labels = pred.names if hasattr(pred, "names") else None
    crop = None if bev_range is None else (bev_range[0], bev_range[1], 0.0, bev_range[2], bev_range[3], 0.0)
    draw_bev(
        points, gt_boxes=gt_boxes, pred_boxes=pred_boxes, pred_scores=scores, out_path=bev_path, color_by=color_by,
        point_cloud_range=crop, pred_labels=labels,
    )
    written = [bev_path]
    try:
        from voxformer.visualization.open3d_render import render_png

        written.append(
            render_png(out_prefix.with_name(out_prefix.name + "_3d.png"), points, gt_boxes, pred_boxes, color_by)
        )
    except VoxformerError as error:
        warnings.warn(f"3D picture skipped: {error}", stacklevel=2)
    return written
