"""Loading: points from the info's file, annotations into :class:`Boxes3D`."""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.io import read_points
from voxformer.datasets.transforms.base import Transform
from voxformer.errors import ConfigError
from voxformer.registry import TRANSFORMS
from voxformer.structures import Boxes3D

INTENSITY_MODES = ("raw", "div255", "tanh")


@TRANSFORMS.register_module()
class LoadPointsFromFile(Transform):
    """``results['lidar_path']`` -> ``results['points']`` (N, len(use_dims)) float32 tensor.

    ``num_features``: values per point in the file (default: the info's ``num_features``);
    ``use_dims``: columns kept (default all); ``intensity``: how column 3 is normalized to [0, 1]
    (``raw`` as stored, ``div255`` for 0-255 data, ``tanh`` for Waymo's unbounded intensity).
    """

    def __init__(self, num_features: int | None = None, use_dims=None, intensity: str = "raw"):
        if intensity not in INTENSITY_MODES:
            raise ConfigError(f"LoadPointsFromFile: intensity must be one of {INTENSITY_MODES}, got {intensity!r}")
        self.num_features = num_features
        self.use_dims = None if use_dims is None else list(use_dims)
        self.intensity = intensity

    def transform(self, results: dict) -> dict:
        results["points"] = self.points_from_rows(
            read_points(results["lidar_path"], self.num_features or results["num_features"])
        )
        return results

    def points_from_rows(self, rows: np.ndarray) -> torch.Tensor:
        """``results['points']`` of a file holding ``rows`` (N, num_features) float32."""
        if self.use_dims is not None:
            rows = rows[:, self.use_dims]
        points = torch.from_numpy(np.array(rows, dtype=np.float32))
        if points.shape[1] > 3 and self.intensity == "div255":
            points[:, 3] /= 255.0
        elif points.shape[1] > 3 and self.intensity == "tanh":
            points[:, 3] = torch.tanh(points[:, 3])
        return points


@TRANSFORMS.register_module()
class LoadAnnotations3D(Transform):
    """Turn the info's ``gt_bboxes_3d`` array into :class:`Boxes3D` (labels and names stay arrays)."""

    def transform(self, results: dict) -> dict:
        results["gt_bboxes_3d"] = Boxes3D(torch.from_numpy(np.asarray(results["gt_bboxes_3d"], np.float32)))
        results["gt_labels_3d"] = np.asarray(results["gt_labels_3d"], np.int64)
        return results


@TRANSFORMS.register_module()
class LoadPointSegLabels(Transform):
    """``results['pts_semantic_mask_path']`` -> ``results['pts_semantic_mask']`` (N,) int64 tensor in the
    learning space (ignore 255), row-aligned with ``results['points']`` (so it follows the points loader,
    before any filter). ``label_format`` (:data:`voxformer.datasets.seg_labels.LABEL_FORMATS`) defaults
    to the dataset's. A missing path, a file whose length is not the scan's or an unknown id raises an
    error naming the file."""

    def __init__(self, label_format: str | None = None):
        self.label_format = label_format

    def transform(self, results: dict) -> dict:
        from voxformer.datasets.seg_labels import read_seg_labels
        from voxformer.errors import VoxformerError

        path = results.get("pts_semantic_mask_path")
        if path is None:
            raise VoxformerError(f"{results.get('lidar_path')}: the scan has no label file (pts_semantic_mask_path)")
        label_format = self.label_format or results.get("label_format")
        if label_format is None:
            raise ConfigError("LoadPointSegLabels: give label_format here or in the dataset's metainfo")
        labels = read_seg_labels(path, label_format, len(results["points"]), len(results.get("seg_classes", ())))
        results["pts_semantic_mask"] = torch.from_numpy(labels)
        return results
