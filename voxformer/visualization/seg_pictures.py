"""Pictures of per-point class labels: points coloured by class with a fixed palette and a legend, ground truth
and prediction side by side, from above (BEV, matplotlib) and in 3D (Open3D off screen, the chase view).

``palette`` is RGB uint8 per class (the dataset's ``seg_palette``; SemanticKITTI's colours for its 19 classes);
points whose label is the ignore index (or any value outside the palette) are grey. The legend lists the
classes that occur in any panel, in class order.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

IGNORED_COLOR = (0.6, 0.6, 0.6)
BEV_BACKGROUND = (0.12, 0.12, 0.12)  # dark grey: both the dark (sidewalk) and the light (pole) class colours show


def label_colors(labels, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(N, 3) RGB in [0, 1] of (N,) class labels; labels outside the palette (the ignore index) are grey."""
    labels = np.asarray(labels, dtype=np.int64)
    table = np.concatenate([np.asarray(palette, dtype=np.float64) / 255.0, [IGNORED_COLOR]])
    return table[np.where((labels >= 0) & (labels < len(palette)), labels, len(palette))]


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """Fixed RGB uint8 colours for a label space that brings no palette (matplotlib's tab20, cycled)."""
    import matplotlib

    colours = matplotlib.colormaps["tab20"].colors
    return [tuple(int(255 * v) for v in colours[i % len(colours)]) for i in range(num_classes)]


def _panels(gt_labels, pred_labels) -> list[tuple[str, np.ndarray]]:
    panels = [("ground truth", gt_labels), ("prediction", pred_labels)]
    panels = [(title, np.asarray(labels)) for title, labels in panels if labels is not None]
    if not panels:
        raise ValueError("give gt_labels, pred_labels or both")
    return panels


def _legend(figure, panels, class_names, palette) -> None:
    from matplotlib.patches import Patch

    present = np.unique(np.concatenate([labels for _, labels in panels]))
    handles = [
        Patch(color=np.asarray(palette[c]) / 255.0, label=class_names[c])
        for c in present.tolist() if 0 <= c < len(class_names)
    ]
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=8, frameon=False)


def _figure(num_panels: int, size_inches: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size_inches * num_panels, size_inches + 0.9), dpi=100)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.05, right=0.98, top=0.93, bottom=0.16, wspace=0.15)
    return figure


def _view(points: np.ndarray) -> tuple[float, ...]:
    half = float(np.percentile(np.abs(points[:, :2]), 98)) + 1.0 if len(points) else 10.0
    return (-half, -half, 0.0, half, half, 0.0)


def draw_seg_bev(
    points,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    gt_labels=None,
    pred_labels=None,
    out_path=None,
    point_cloud_range=None,
    title: str | None = None,
    size_inches: float = 7.0,
):
    """Points (N, 3+) from above (x up, y left), one panel per label set given (ground truth, prediction), each
    point in its class's colour, with a legend. The view is ``point_cloud_range`` (6,), else the square
    holding 98 % of the points. Writes a PNG to ``out_path`` when given; returns the Figure."""
    points = np.asarray(points)
    panels = _panels(gt_labels, pred_labels)
    for name, labels in panels:
        if len(labels) != len(points):
            raise ValueError(f"{name}: {len(labels)} labels for {len(points)} points")
    figure = _figure(len(panels), size_inches)
    for i, (name, labels) in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), i + 1)
        ax.set_facecolor(BEV_BACKGROUND)
        ax.scatter(-points[:, 1], points[:, 0], c=label_colors(labels, palette), s=0.6, linewidths=0)
        x0, y0, _, x1, y1, _ = point_cloud_range if point_cloud_range is not None else _view(points)
        ax.set_xlim(-y1, -y0)
        ax.set_ylim(x0, x1)
        ax.set_aspect("equal")
        ax.set_xlabel("-y (m)")
        ax.set_ylabel("x (m)")
        ax.set_title(name)
    _legend(figure, panels, class_names, palette)
    if title:
        figure.suptitle(title)
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out_path, facecolor="white")
    return figure


def render_seg_3d(
    out_path,
    points,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    gt_labels=None,
    pred_labels=None,
    title: str | None = None,
) -> Path:
    """The 3D (Open3D, off screen) view of each label set side by side, with a legend, as one PNG."""
    import matplotlib.image

    from voxformer.visualization.open3d_render import render_png

    points = np.asarray(points)
    panels = _panels(gt_labels, pred_labels)
    figure = _figure(len(panels), 7.0)
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, labels) in enumerate(panels):
            view = render_png(Path(folder) / f"{i}.png", points, colors=label_colors(labels, palette))
            ax = figure.add_subplot(1, len(panels), i + 1)
            ax.imshow(matplotlib.image.imread(view))
            ax.set_axis_off()
            ax.set_title(name)
    _legend(figure, panels, class_names, palette)
    if title:
        figure.suptitle(title)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, facecolor="white")
    return out_path


def render_seg_scene(out_prefix, points, class_names, palette, gt_labels=None, pred_labels=None) -> list[Path]:
    """Write ``<out_prefix>_bev.png`` and ``<out_prefix>_3d.png`` (skipped with a warning when Open3D cannot
    render off screen); return the paths written."""
    out_prefix = Path(out_prefix)
    bev_path = out_prefix.with_name(out_prefix.name + "_bev.png")
    draw_seg_bev(points, class_names, palette, gt_labels, pred_labels, out_path=bev_path, title=out_prefix.name)
    written = [bev_path]
    try:
        written.append(render_seg_3d(out_prefix.with_name(out_prefix.name + "_3d.png"), points, class_names, palette,
                                     gt_labels, pred_labels, title=out_prefix.name))
    except VoxformerError as error:
        warnings.warn(f"3D picture skipped: {error}", stacklevel=2)
    return written
