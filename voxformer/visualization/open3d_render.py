"""3D views with Open3D: an interactive window when a display exists, a PNG when none does.

Points are coloured by height or intensity; boxes (docs/design.md §Boxes) are drawn as wireframes in
:mod:`voxformer.visualization.palette` colours (ground truth and predictions differ) with a heading
mark (a line from the box centre to the middle of its front face). The off-screen path uses
Open3D's Filament renderer (Vulkan/EGL; Mesa's llvmpipe works on machines with no GPU).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError
from voxformer.visualization.palette import BACKGROUND_COLOR, GT_COLOR, POINT_COLORMAP, PRED_COLOR

# Wireframe edges over the corner order of Boxes3D: bottom face, top face, verticals.
_BOX_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _open3d():
    try:
        import open3d
    except ImportError as error:
        raise VoxformerError(
            f"Open3D is not usable ({error}); install it with `pip install open3d` "
            "and the system library with `apt-get install libusb-1.0-0`"
        ) from None
    return open3d


def point_colors(points: np.ndarray, color_by: str = "height") -> np.ndarray:
    """(N, 3) RGB colours for points by ``height`` (z, 2nd to 98th percentile) or ``intensity``."""
    import matplotlib

    if color_by == "height":
        values = points[:, 2]
    elif color_by == "intensity":
        values = points[:, 3] if points.shape[1] > 3 else np.zeros(len(points))
    else:
        raise ValueError(f"color_by must be 'height' or 'intensity', got {color_by!r}")
    if len(values) == 0:
        return np.zeros((0, 3))
    low, high = np.percentile(values, [2, 98])
    normalized = np.clip((values - low) / max(high - low, 1e-6), 0, 1)
    return matplotlib.colormaps[POINT_COLORMAP](normalized)[:, :3]


def box_line_set(boxes: np.ndarray, color: tuple[float, float, float]):
    """An Open3D LineSet of (N, 7+) boxes: 12 edges each plus a heading mark."""
    import torch

    from voxformer.structures import Boxes3D

    o3d = _open3d()
    boxes = Boxes3D(torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, max(7, np.shape(boxes)[-1]))))
    corners = boxes.corners.numpy()  # (N, 8, 3)
    centers = boxes.center.numpy()
    front = corners[:, [0, 3, 4, 7]].mean(axis=1)  # middle of the front face
    vertices = np.concatenate([corners.reshape(-1, 3), centers, front]).astype(np.float64)
    n = len(boxes)
    edges = [(8 * i + a, 8 * i + b) for i in range(n) for a, b in _BOX_EDGES]
    edges += [(8 * n + i, 9 * n + i) for i in range(n)]
    lines = o3d.geometry.LineSet(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector2iVector(np.array(edges)))
    lines.colors = o3d.utility.Vector3dVector(np.tile(np.asarray(color, dtype=np.float64), (len(edges), 1)))
    return lines


def _geometries(points, gt_boxes, pred_boxes, color_by, colors=None):
    o3d = _open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points[:, :3], dtype=np.float64)))
    colors = point_colors(points, color_by) if colors is None else np.asarray(colors, dtype=np.float64)
    cloud.colors = o3d.utility.Vector3dVector(colors)
    geometries = [("points", cloud)]
    for name, boxes, color in (("gt", gt_boxes, GT_COLOR), ("pred", pred_boxes, PRED_COLOR)):
        if boxes is not None and len(boxes):
            geometries.append((name, box_line_set(boxes, color)))
    return geometries


def render_png(
    path: str | Path,
    points: np.ndarray,
    gt_boxes: np.ndarray | None = None,
    pred_boxes: np.ndarray | None = None,
    color_by: str = "height",
    size: tuple[int, int] = (1280, 960),
    eye: tuple[float, float, float] = (-30.0, 0.0, 35.0),
    look_at: tuple[float, float, float] = (20.0, 0.0, 0.0),
    colors: np.ndarray | None = None,
) -> Path:
    """Render points and boxes off screen to ``path`` (PNG) from a chase-camera view behind the sensor.
    ``colors`` (N, 3) RGB in [0, 1] per point replaces ``color_by`` (class colours of a segmentation)."""
    o3d = _open3d()
    rendering = o3d.visualization.rendering
    try:
        renderer = rendering.OffscreenRenderer(*size)
    except Exception as error:  # no Vulkan/EGL driver
        raise VoxformerError(
            f"Open3D's off-screen renderer is not available ({error}); install `libvulkan1 mesa-vulkan-drivers`"
        ) from None
    renderer.scene.set_background([*BACKGROUND_COLOR, 1.0])
    renderer.scene.view.set_post_processing(False)  # no tone mapping: colours come out as given
    for name, geometry in _geometries(points, gt_boxes, pred_boxes, color_by, colors):
        material = rendering.MaterialRecord()
        material.shader = "unlitLine" if name != "points" else "defaultUnlit"
        material.line_width = 2.0
        material.point_size = 2.0
        renderer.scene.add_geometry(name, geometry, material)
    renderer.setup_camera(60.0, list(look_at), list(eye), [0.0, 0.0, 1.0])
    image = renderer.render_to_image()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not o3d.io.write_image(str(path), image):
        raise VoxformerError(f"could not write {path}")
    return path


def show_window(points, gt_boxes=None, pred_boxes=None, color_by: str = "height", title: str = "voxformer") -> None:
    """Open an interactive Open3D window (needs a display)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise VoxformerError("no display for an Open3D window; write a PNG instead (--out-dir)")
    o3d = _open3d()
    o3d.visualization.draw_geometries([g for _, g in _geometries(points, gt_boxes, pred_boxes, color_by)], title)
