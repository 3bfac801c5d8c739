"""GT sampling (copy-paste, docs/references.md §GT sampling): paste objects of the GT database into a frame.

Per class, up to ``sample_groups[class]`` objects in total inside the point-cloud range (the
transform's or the dataset's; the whole frame when neither gives one): the frame's own boxes there
count, the rest are drawn at random from the database entries centred there with at least
``min_points`` points (and a difficulty in ``difficulties`` when given). A candidate is kept only if
its rotated bird's-eye-view IoU (``voxformer.ops.boxes_iou_bev``) with every box already in the
frame, and with every candidate kept before it, is zero. With ``align_to_ground`` each kept box is
first moved up or down, by at most ``max_ground_shift`` metres (more means the ring saw no ground), to
stand on this frame's ground (:func:`ground_heights`), as objects keep the position they had in their
own frame, where the ground may lie higher or lower. Scene points inside kept boxes are removed,
then the object's points (stored relative to the box centre) are pasted at the box. The database
holds no per-point classes, so a frame with per-point labels (segmentation) is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from voxformer.datasets.infos import load_pickle
from voxformer.datasets.io import read_points
from voxformer.datasets.transforms.base import POINT_KEYS, RandomTransform
from voxformer.errors import ConfigError
from voxformer.ops import boxes_iou_bev, points_in_boxes
from voxformer.registry import TRANSFORMS
from voxformer.structures import Boxes3D, in_bev_range


def ground_heights(
    points: torch.Tensor, boxes: torch.Tensor, ring: float = 2.0, quantile: float = 0.05, min_points: int = 10
) -> torch.Tensor:
    """(K,) ground height around each of ``boxes`` (K, 7+): the ``quantile`` of the z of ``points``
    (N, 3+) whose bird's-eye-view distance to the box centre lies between the box's half diagonal and
    that plus ``ring`` metres (a low quantile, so walls, poles and other objects there do not lift it);
    NaN where fewer than ``min_points`` points lie in that ring."""
    heights = torch.full((len(boxes),), float("nan"))
    if len(points) == 0:
        return heights
    distance = torch.cdist(boxes[:, :2].float(), points[:, :2].float())  # (K, N)
    inner = torch.linalg.vector_norm(boxes[:, 3:5].float(), dim=1, keepdim=True) / 2
    in_ring = (distance > inner) & (distance < inner + ring)
    for k in range(len(boxes)):
        z = points[in_ring[k], 2]
        if len(z) >= min_points:
            heights[k] = torch.quantile(z.float(), quantile)
    return heights


@TRANSFORMS.register_module()
class ObjectSample(RandomTransform):
    """Args: ``db_info_path`` (relative to the data root unless absolute), ``sample_groups``
    {class: total count}, ``classes`` (label order, default the keys of ``sample_groups``),
    ``min_points`` (int or {class: int}), ``difficulties`` (allowed levels or None), ``num_features``
    (per point in the database files), ``data_root`` (default the dataset's), ``align_to_ground``
    (stand pasted objects on this frame's ground; for scenes whose ground is not flat),
    ``max_ground_shift`` (metres), ``point_cloud_range`` (default the dataset's)."""

    def __init__(
        self,
        db_info_path: str,
        sample_groups: dict,
        classes=None,
        min_points=5,
        difficulties=None,
        num_features: int = 4,
        data_root: str | None = None,
        align_to_ground: bool = False,
        max_ground_shift: float = 0.5,
        point_cloud_range=None,
    ):
        self.db_info_path = db_info_path
        self.sample_groups = dict(sample_groups)
        self.classes = list(classes) if classes is not None else list(self.sample_groups)
        self.min_points = min_points
        self.difficulties = None if difficulties is None else set(difficulties)
        self.num_features = num_features
        self.data_root = data_root
        self.align_to_ground = align_to_ground
        self.max_ground_shift = max_ground_shift
        self.point_cloud_range = point_cloud_range
        self._range = None  # the range in use, set on the first frame
        self._pools: dict[str, list[dict]] | None = None
        self._root: Path | None = None

    def _load(self, results: dict) -> None:
        root = Path(self.data_root or results.get("data_root") or ".")
        path = Path(self.db_info_path)
        path = path if path.is_absolute() else root / path
        database = load_pickle(path)
        self._range = self.point_cloud_range if self.point_cloud_range is not None else results.get("point_cloud_range")
        self._pools = {}
        for name in self.sample_groups:
            threshold = self.min_points[name] if isinstance(self.min_points, dict) else self.min_points
            self._pools[name] = [
                entry
                for entry in database.get(name, [])
                if entry["num_points_in_gt"] >= threshold
                and (self.difficulties is None or entry["difficulty"] in self.difficulties)
                and self._in_range(np.asarray(entry["box3d_lidar"], np.float64)[None])[0]
            ]
        self._root = root

    def _in_range(self, boxes: np.ndarray) -> np.ndarray:
        """(K,) bool: the bird's-eye-view centre of each box lies in the range (all True without one)."""
        return np.ones(len(boxes), dtype=bool) if self._range is None else in_bev_range(boxes, self._range)

    def _draw(self, boxes: torch.Tensor, labels: np.ndarray) -> list[dict]:
        """Database entries to paste, chosen without overlap with ``boxes`` or each other."""
        candidates = []
        own_in_range = labels[self._in_range(boxes.numpy())]
        for name, total in self.sample_groups.items():
            pool = self._pools[name]
            label = self.classes.index(name)
            wanted = min(int(total) - int((own_in_range == label).sum()), len(pool))
            if wanted > 0:
                candidates += [pool[i] for i in np.random.choice(len(pool), wanted, replace=False)]
        if not candidates:
            return []
        candidate_boxes = torch.from_numpy(np.stack([c["box3d_lidar"][:7] for c in candidates]).astype(np.float32))
        existing = boxes[:, :7]
        against_scene = boxes_iou_bev(candidate_boxes, existing) if len(existing) else None
        among = boxes_iou_bev(candidate_boxes, candidate_boxes)
        kept: list[int] = []
        for i in range(len(candidates)):
            if against_scene is not None and bool((against_scene[i] > 0).any()):
                continue
            if kept and bool((among[i, kept] > 0).any()):
                continue
            kept.append(i)
        return [candidates[i] for i in kept]

    def transform(self, results: dict) -> dict:
        if any(key in results for key in POINT_KEYS):
            raise ConfigError("ObjectSample: pasted objects carry no per-point labels; leave it out of segmentation")
        if self._pools is None:
            self._load(results)
        gt_boxes: Boxes3D = results["gt_bboxes_3d"]
        labels = np.asarray(results["gt_labels_3d"], np.int64)
        chosen = self._draw(gt_boxes.tensor, labels)
        if not chosen:
            return results
        box_dim = gt_boxes.box_dim
        new_boxes = np.zeros((len(chosen), box_dim), np.float32)
        for row, entry in zip(new_boxes, chosen):
            values = np.asarray(entry["box3d_lidar"], np.float32)[:box_dim]
            row[: len(values)] = values
        new_boxes_t = torch.from_numpy(new_boxes)
        points = results["points"]
        if self.align_to_ground:
            shift = ground_heights(points, new_boxes_t) + new_boxes_t[:, 5] / 2 - new_boxes_t[:, 2]
            trusted = shift.abs() <= self.max_ground_shift  # False for NaN
            new_boxes_t[trusted, 2] += shift[trusted]  # also moves new_boxes, whose rows place the points
        inside = points_in_boxes(points[:, :3], new_boxes_t)
        pasted = []
        for row, entry in zip(new_boxes, chosen):
            object_points = read_points(self._root / entry["path"], self.num_features).copy()
            object_points[:, :3] += row[:3]
            pasted.append(torch.from_numpy(object_points[:, : points.shape[1]]))
        results["points"] = torch.cat([points[inside < 0], *pasted])
        results["gt_bboxes_3d"] = Boxes3D.cat([gt_boxes, Boxes3D(new_boxes_t)])
        results["gt_labels_3d"] = np.concatenate([labels, [self.classes.index(e["name"]) for e in chosen]])
        if "gt_names" in results:
            results["gt_names"] = np.concatenate([results["gt_names"], [e["name"] for e in chosen]])
        return results
