"""Labels of a ray-cast scene: boxes with points, occlusion, KITTI difficulty and Waymo level.

- ``num_points``: points of the final cloud inside the box (``voxformer.ops.count_points_in_boxes``
  on the float32 boxes and points as written), so it equals a recount from the files.
- An object is labelled when at least one of its own ray hits (Open3D geometry id) was emitted
  and its box holds at least one point; boxes with 0 points are not labelled.
- ``occlusion`` in [0, 1]: of the rays whose line enters the box, the fraction stopped by
  something nearer (before the box), over those stopped nearer or hitting the object itself.
- ``bbox``: the box in a virtual 360° cylindrical image with KITTI's focal length (u grows with
  azimuth, v downward), so a 2D height in pixels shrinks with distance as on KITTI's image_2.
- ``occluded``: 0 (occlusion < 0.3), 1 (< 0.7), 2 otherwise; ``truncated`` is 0 (360° sensor).
- ``difficulty``: 0 easy, 1 moderate, 2 hard, -1 none, from pixel height, ``occluded`` and points
  (:data:`DIFFICULTY_RULES`); ``level``: Waymo LEVEL_2 when at most 5 points, else LEVEL_1.
- ``alpha``: KITTI's observation angle for a camera looking along the ray to the object.
"""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.box_points import points_near_boxes
from voxformer.datasets.synthetic.lidar import RayCast
from voxformer.datasets.synthetic.scene import Scene
from voxformer.datasets.synthetic.sensors import Sensor
from voxformer.ops import count_points_in_boxes

FOCAL_PX = 721.5377  # KITTI image_2 focal length
IMAGE_CENTRE_V = 187.0
# (min 2D height in px, max occluded level, min points) for easy, moderate, hard
DIFFICULTY_RULES = ((40.0, 0, 50), (25.0, 1, 15), (25.0, 2, 5))
LEVEL_2_MAX_POINTS = 5


def _wrap(angle):
    return np.remainder(angle + np.pi, 2 * np.pi) - np.pi


def occlusion_fraction(box: np.ndarray, index: int, raycast: RayCast, sensor: Sensor) -> float:
    """Fraction of the rays toward ``box`` stopped by something nearer (see module docstring)."""
    corners = _box_corners(box[None])[0]
    centre_azimuth = np.arctan2(box[1], box[0])
    relative = _wrap(np.arctan2(corners[:, 1], corners[:, 0]) - centre_azimuth)
    step = 2 * np.pi / sensor.azimuth_steps
    first = int(np.floor((centre_azimuth + relative.min() + np.pi) / step))
    last = int(np.ceil((centre_azimuth + relative.max() + np.pi) / step))
    columns = np.arange(first, last + 1) % sensor.azimuth_steps
    directions = sensor.directions[:, columns].reshape(-1, 3).astype(np.float64)
    grid = (np.arange(sensor.num_beams)[:, None] * sensor.azimuth_steps + columns[None]).ravel()

    c, s = np.cos(box[6]), np.sin(box[6])
    rotation_t = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    origin = rotation_t @ -box[:3].astype(np.float64)
    local = directions @ rotation_t.T
    half = box[3:6].astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - origin) / local
        t2 = (half - origin) / local
    t_near = np.nanmax(np.minimum(t1, t2), axis=1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=1)
    enters = (t_near <= t_far) & (t_far > 0)
    hit_object = raycast.object_index[grid] == index
    visible = int((enters & hit_object).sum())
    blocked = int((enters & ~hit_object & (raycast.distance[grid] < t_near - 0.05)).sum())
    return blocked / (blocked + visible) if blocked + visible else 1.0


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """(N, 7) boxes -> (N, 8, 3) corners."""
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))], float)
    local = signs[None] * boxes[:, None, 3:6] / 2
    c, s = np.cos(boxes[:, 6])[:, None], np.sin(boxes[:, 6])[:, None]
    x = local[..., 0] * c - local[..., 1] * s + boxes[:, None, 0]
    y = local[..., 0] * s + local[..., 1] * c + boxes[:, None, 1]
    return np.stack([x, y, local[..., 2] + boxes[:, None, 2]], axis=-1)


def cylindrical_bbox(boxes: np.ndarray) -> np.ndarray:
    """(N, 7) boxes -> (N, 4) (left, top, right, bottom) pixels in the virtual 360° image."""
    corners = _box_corners(boxes.astype(np.float64))
    centre_azimuth = np.arctan2(boxes[:, 1], boxes[:, 0])
    azimuth = centre_azimuth[:, None] + _wrap(np.arctan2(corners[..., 1], corners[..., 0]) - centre_azimuth[:, None])
    u = FOCAL_PX * (azimuth + np.pi)
    v = IMAGE_CENTRE_V - FOCAL_PX * corners[..., 2] / np.hypot(corners[..., 0], corners[..., 1])
    return np.stack([u.min(1), v.min(1), u.max(1), v.max(1)], axis=1)


def difficulty_of(height_px: np.ndarray, occluded: np.ndarray, num_points: np.ndarray) -> np.ndarray:
    """(N,) int32 KITTI-style difficulty from :data:`DIFFICULTY_RULES`; -1 when no level applies."""
    difficulty = np.full(len(height_px), -1, np.int32)
    for level in reversed(range(len(DIFFICULTY_RULES))):
        min_height, max_occluded, min_points = DIFFICULTY_RULES[level]
        meets = (height_px >= min_height) & (occluded <= max_occluded) & (num_points >= min_points)
        difficulty[meets] = level
    return difficulty


def label_scene(scene: Scene, raycast: RayCast, sensor: Sensor) -> dict[str, np.ndarray]:
    """Annotations (see :mod:`voxformer.datasets.infos`) of the labelled objects of a ray-cast scene."""
    if not scene.objects:
        boxes = np.zeros((0, 7), np.float32)
    else:
        boxes = np.stack([obj.box for obj in scene.objects]).astype(np.float32)
    own_hits = np.bincount(raycast.object_index[raycast.emitted & (raycast.object_index >= 0)], minlength=len(boxes))
    in_box = count_points_in_boxes(
        torch.from_numpy(raycast.points[points_near_boxes(raycast.points, boxes), :3]),
        torch.from_numpy(boxes),
        backend="reference",
    ).numpy()  # the plain-PyTorch path: a few thousand candidate points, no thread pool in workers
    keep = np.flatnonzero((own_hits[: len(boxes)] > 0) & (in_box > 0))
    boxes, num_points = boxes[keep], in_box[keep].astype(np.int32)
    occlusion = np.array(
        [occlusion_fraction(boxes[i], int(k), raycast, sensor) for i, k in enumerate(keep)], np.float32
    )
    occluded = np.digitize(occlusion, [0.3, 0.7]).astype(np.int32)
    bbox = cylindrical_bbox(boxes).astype(np.float32)
    azimuth = np.arctan2(boxes[:, 1], boxes[:, 0])
    return {
        "boxes": boxes,
        "names": np.array([scene.objects[k].name for k in keep], dtype="<U16"),
        "num_points": num_points,
        "difficulty": difficulty_of(bbox[:, 3] - bbox[:, 1], occluded, num_points),
        "level": np.where(num_points <= LEVEL_2_MAX_POINTS, 2, 1).astype(np.int32),
        "occlusion": occlusion,
        "occluded": occluded,
        "truncated": np.zeros(len(boxes), np.float32),
        "alpha": _wrap(azimuth - boxes[:, 6] - np.pi / 2).astype(np.float32),
        "bbox": bbox,
    }
