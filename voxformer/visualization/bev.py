"""Bird's-eye-view images with matplotlib, headless (Agg canvas, no display needed).

Points are drawn from above (x forward = up in the image, y left = left), coloured by height or
intensity; boxes as rotated rectangles with a heading mark from the centre to the front edge;
ground truth and predictions (with optional scores) in the colours of :mod:`.palette`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxformer.visualization.palette import GT_COLOR, POINT_COLORMAP, PRED_COLOR


def _as_numpy(array) -> np.ndarray:
    if array is None:
        return None
    if hasattr(array, "tensor"):  # Boxes3D
        array = array.tensor
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _draw_boxes(ax, boxes: np.ndarray, color: tuple[float, float, float], scores=None, labels=None, width=1.0) -> None:
    for i, box in enumerate(boxes):
        x, y, _, length, width, _, yaw = box[:7]
        c, s = np.cos(yaw), np.sin(yaw)
        local = np.array([[length, width], [-length, width], [-length, -width], [length, -width], [length, width]]) / 2
        corners = local @ np.array([[c, s], [-s, c]]) + (x, y)
        # image axes: horizontal = -y (left is +y), vertical = x
        ax.plot(-corners[:, 1], corners[:, 0], color=color, linewidth=width)
        front = (x + c * length / 2, y + s * length / 2)
        ax.plot([-y, -front[1]], [x, front[0]], color=color, linewidth=width)
        text = []
        if labels is not None:
            text.append(str(labels[i]))
        if scores is not None:
            text.append(f"{float(scores[i]):.2f}")
        if text:
            ax.text(-y, x, " ".join(text), color=color, fontsize=6, clip_on=True)


def draw_bev(
    points,
    gt_boxes=None,
    pred_boxes=None,
    pred_scores=None,
    out_path=None,
    color_by: str = "height",
    point_cloud_range=None,
    gt_labels=None,
    pred_labels=None,
    title: str | None = None,
    size_inches=8.0,
):
    """Draw points (N, 3+) and boxes (M, 7+) (arrays, tensors or Boxes3D) from above.

    ``color_by`` is ``height`` (z) or ``intensity`` (column 3); ``point_cloud_range`` (6,) crops the
    view. Writes a PNG to ``out_path`` when given; returns the matplotlib ``Figure``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if color_by not in ("height", "intensity"):
        raise ValueError(f"color_by must be 'height' or 'intensity', got {color_by!r}")
    points = _as_numpy(points)
    if point_cloud_range is not None:  # only the points in view, so that the colour scale fits them
        x0, y0, _, x1, y1, _ = point_cloud_range
        points = points[(points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)]
    figure = Figure(figsize=(size_inches, size_inches), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    ax.set_facecolor("black")
    if len(points):
        values = points[:, 2] if color_by == "height" or points.shape[1] < 4 else points[:, 3]
        ax.scatter(-points[:, 1], points[:, 0], c=values, s=0.8, cmap=POINT_COLORMAP, linewidths=0)
    if pred_boxes is not None:
        _draw_boxes(ax, _as_numpy(pred_boxes), PRED_COLOR, scores=_as_numpy(pred_scores), labels=pred_labels)
    if gt_boxes is not None:  # on top: a prediction over its ground truth leaves both visible
        _draw_boxes(ax, _as_numpy(gt_boxes), GT_COLOR, labels=gt_labels, width=2.0)
    if point_cloud_range is not None:
        ax.set_xlim(-y1, -y0)
        ax.set_ylim(x0, x1)
    ax.set_aspect("equal")
    ax.set_xlabel("-y (m)")
    ax.set_ylabel("x (m)")
    if title:
        ax.set_title(title)
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out_path, facecolor="white")
    return figure
