"""Files and regions for :mod:`voxformer.evaluation.frame_recall`: the JSON of ``voxformer infer``, a
LiDAR-frame boxes JSON (the nuScenes keyframe's), class names to indices, and the camera's view.

Class names match the evaluated classes case-insensitively, or through ``aliases`` (another dataset's
name -> evaluated class, e.g. :data:`NUSCENES_ALIASES`). Every error names the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from voxformer.errors import VoxformerError

from .box_overlap import paired_image_box_iou
from .frame_recall import IGNORED

KITTI_IMAGE_SIZE = (1242, 375)  # width, height (px) of most KITTI object images; the label files do not say
NUSCENES_ALIASES = {"car": "Car", "pedestrian": "Pedestrian", "bicycle": "Cyclist"}
# nuScenes vehicle and person classes not evaluated (and boxes of classes left out of the detection
# task, named "ignore"): a detection on one is not charged. Barriers and cones are charged.
NUSCENES_IGNORED = ("truck", "bus", "trailer", "construction_vehicle", "motorcycle", "ignore")
DONTCARE_COVER = 0.5  # share of a detection's image box inside a DontCare box that excuses it


def class_indices(names, classes: tuple[str, ...], aliases: dict | None = None) -> np.ndarray:
    """(N,) index of each name among ``classes`` (case-insensitive, or through ``aliases``), else IGNORED."""
    lookup = {name.lower(): i for i, name in enumerate(classes)}
    for alias, target in (aliases or {}).items():
        if target.lower() in lookup:
            lookup.setdefault(alias.lower(), lookup[target.lower()])
    return np.array([lookup.get(str(name).lower(), IGNORED) for name in names], np.int64)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VoxformerError(f"{path}: cannot read JSON ({error})") from None
    if not isinstance(data, dict):
        raise VoxformerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _boxes(rows, path: Path, what: str) -> np.ndarray:
    try:
        boxes = np.asarray(rows, np.float64)
    except (TypeError, ValueError):
        raise VoxformerError(f"{path}: {what} are not rows of numbers") from None
    if boxes.size == 0:
        return boxes.reshape(0, 7)
    if boxes.ndim != 2 or boxes.shape[1] < 7:
        raise VoxformerError(f"{path}: {what} must be rows of 7+ numbers (x y z dx dy dz yaw), got {boxes.shape}")
    if not np.isfinite(boxes[:, :7]).all():
        raise VoxformerError(f"{path}: {what} hold a non-finite number")
    return boxes[:, :7]


def read_infer_json(path: str | Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(boxes (N, 7), names, scores (N,)) of a ``voxformer infer`` prediction file (LiDAR frame)."""
    path = Path(path)
    data = _load_json(path)
    missing = [key for key in ("boxes_3d", "scores_3d", "names") if key not in data]
    if missing:
        raise VoxformerError(f"{path}: not a `voxformer infer` prediction file (no {', '.join(missing)})")
    boxes = _boxes(data["boxes_3d"], path, "boxes_3d")
    try:
        scores = np.asarray(data["scores_3d"], np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise VoxformerError(f"{path}: scores_3d is not a list of numbers") from None
    if not isinstance(data["names"], list):
        raise VoxformerError(f"{path}: names is not a list")
    names = [str(name) for name in data["names"]]
    if not len(scores) == len(names) == len(boxes):
        raise VoxformerError(
            f"{path}: {len(boxes)} boxes_3d, {len(scores)} scores_3d and {len(names)} names: they must match"
        )
    return boxes, names, scores


def read_boxes_json(path: str | Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(boxes (N, 7), names, usable (N,) bool) of a LiDAR-frame ground-truth file ``{"boxes": [{"name",
    "box", "valid"?, "num_lidar_pts"?}, ...]}``; a box marked not valid or with 0 LiDAR points is not
    usable (it becomes an ignored object)."""
    path = Path(path)
    entries = _load_json(path).get("boxes")
    if not isinstance(entries, list):
        raise VoxformerError(f'{path}: expected a "boxes" list of {{"name", "box"}} objects')
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry or "box" not in entry:
            raise VoxformerError(f'{path}: boxes[{number}] has no "name" and "box"')
    boxes = _boxes([entry["box"] for entry in entries], path, "boxes")
    usable = np.array([bool(e.get("valid", True)) and e.get("num_lidar_pts", 1) > 0 for e in entries], bool)
    return boxes, [str(entry["name"]) for entry in entries], usable


def in_camera_view(boxes: np.ndarray, calib, image_size=KITTI_IMAGE_SIZE) -> np.ndarray:
    """(N,) whether each box centre lies in front of the camera and projects inside the image of P2
    (0 <= u < width, 0 <= v < height); ``calib`` a :class:`voxformer.structures.KittiCalib`."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    with np.errstate(divide="ignore", invalid="ignore"):  # a centre in the camera's plane: no pixel
        pixels, depth = calib.rect_to_image(calib.lidar_to_rect(boxes[:, :3]))
        u, v = pixels[:, 0], pixels[:, 1]
        width, height = image_size
        return (depth > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)


def image_boxes(boxes: np.ndarray, calib, image_size=KITTI_IMAGE_SIZE) -> np.ndarray:
    """(N, 4) image boxes (left, top, right, bottom px, clipped to the image) of LiDAR boxes: the extent
    of their corners in front of the camera; all zero for a box wholly behind it."""
    from voxformer.structures import Boxes3D

    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    if len(boxes) == 0:
        return np.zeros((0, 4))
    corners = Boxes3D(torch.from_numpy(boxes)).corners.numpy().reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):  # corners behind the camera are left out below
        pixels, depth = calib.rect_to_image(calib.lidar_to_rect(corners))
    pixels, front = pixels.reshape(-1, 8, 2), (depth > 0).reshape(-1, 8)
    low = np.where(front[..., None], pixels, np.inf).min(axis=1)
    high = np.where(front[..., None], pixels, -np.inf).max(axis=1)
    limit = np.array(image_size, np.float64)
    result = np.concatenate([np.clip(low, 0, limit), np.clip(high, 0, limit)], axis=1)
    result[~front.any(axis=1)] = 0
    return result


def covered_by(image_boxes_: np.ndarray, regions: np.ndarray, share: float = DONTCARE_COVER) -> np.ndarray:
    """(N,) whether more than ``share`` of each image box lies inside one of ``regions`` (M, 4)."""
    image_boxes_ = np.asarray(image_boxes_, np.float64).reshape(-1, 4)
    regions = np.asarray(regions, np.float64).reshape(-1, 4)
    if len(regions) == 0 or len(image_boxes_) == 0:
        return np.zeros(len(image_boxes_), bool)
    box_index = np.repeat(np.arange(len(image_boxes_)), len(regions))
    region_index = np.tile(np.arange(len(regions)), len(image_boxes_))
    cover = paired_image_box_iou(regions[region_index], image_boxes_[box_index], over_b_area=True)
    return (cover.reshape(len(image_boxes_), len(regions)) > share).any(axis=1)
