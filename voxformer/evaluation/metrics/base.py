"""What every detection metric shares: reading model outputs into per-frame arrays, and saving results.

``process`` accepts data samples as :class:`~voxformer.structures.det3d_sample.Det3DSample` objects or
their ``.to_dict()`` form (metainfo keys at the top level). Predictions: ``pred_instances_3d`` with
``bboxes_3d`` (Boxes3D, tensor or array, (N, 7+)), ``scores_3d``, ``labels_3d`` (index into the class
names). Ground truth: the dataset's ``eval_ann_info`` in the metainfo when present (names, boxes,
difficulty, num_points and dataset fields), else ``gt_instances_3d`` (``bboxes_3d``, ``labels_3d`` and
optional per-box ``difficulty``, ``num_points``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from voxformer.errors import ConfigError
from voxformer.structures import in_bev_range

OTHER_CLASS = "Other"


def _get(container, key: str, default=None):
    if container is None:
        return default
    if isinstance(container, dict):
        return container.get(key, default)
    if key in getattr(container, "keys", lambda: ())() or key in getattr(container, "metainfo_keys", lambda: ())():
        return getattr(container, key)
    return default


def to_numpy(value, dtype=None) -> np.ndarray:
    """Boxes3D / tensor / array / list -> NumPy array."""
    value = getattr(value, "tensor", value)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def label_names(labels: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """Class names of integer labels; labels outside ``class_names`` become ``"Other"``."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    table = np.asarray([*class_names, OTHER_CLASS])
    return table[np.where((labels >= 0) & (labels < len(class_names)), labels, len(class_names))]


class DetectionMetric(BaseMetric):
    """Collects one record per frame: ``{"frame_id", "pred": {...}, "gt": {...}}`` of NumPy arrays.

    Args:
        class_names: class names of the labels (default: ``dataset_meta['classes']``).
        output_dir: where ``compute_metrics`` writes ``<prefix>_results.json`` (default: the folder of
            the current mmengine log file, i.e. the run's work directory; nothing is written without one).
        point_cloud_range: (x0, y0, z0, x1, y1, z1); when given, ground truth and predictions whose
            centre lies outside [x0, x1) x [y0, y1) are left out, so a model is scored on the region it sees.
    """

    default_prefix = "det"

    def __init__(
        self,
        class_names: Sequence[str] | None = None,
        output_dir: str | None = None,
        point_cloud_range: Sequence[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._class_names = None if class_names is None else tuple(class_names)
        self.output_dir = output_dir
        self.point_cloud_range = None if point_cloud_range is None else tuple(point_cloud_range)

    @property
    def class_names(self) -> tuple[str, ...]:
        if self._class_names is not None:
            return self._class_names
        classes = (self.dataset_meta or {}).get("classes")
        if not classes:
            raise ConfigError(f"{type(self).__name__}: give class_names or a dataset with metainfo 'classes'")
        return tuple(classes)

    def process(self, data_batch, data_samples: Sequence) -> None:
        del data_batch  # everything needed is in the samples
        for sample in data_samples:
            metainfo = sample if isinstance(sample, dict) else getattr(sample, "metainfo", {})
            self.results.append(
                {
                    "frame_id": _get(metainfo, "frame_id", len(self.results)),
                    "pred": self._in_range(self._predictions(_get(sample, "pred_instances_3d"))),
                    "gt": self._in_range(
                        self._ground_truth(_get(metainfo, "eval_ann_info"), _get(sample, "gt_instances_3d"))
                    ),
                    "meta": {key: _get(metainfo, key) for key in ("lidar2ego",) if _get(metainfo, key) is not None},
                }
            )

    def _in_range(self, boxes_and_fields: dict) -> dict:
        """Keep the boxes (and their per-box fields) whose BEV centre lies in ``point_cloud_range``."""
        if self.point_cloud_range is None:
            return boxes_and_fields
        keep = in_bev_range(boxes_and_fields["boxes"], self.point_cloud_range)
        count = len(keep)
        return {
            key: value[keep] if isinstance(value, np.ndarray) and value.ndim and len(value) == count else value
            for key, value in boxes_and_fields.items()
        }

    def _predictions(self, instances) -> dict:
        if instances is None:
            raise ValueError(f"{type(self).__name__}: a data sample has no pred_instances_3d")
        boxes = to_numpy(_get(instances, "bboxes_3d"), np.float64)
        boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.size else 7)
        return {
            "boxes": boxes,
            "scores": to_numpy(_get(instances, "scores_3d"), np.float64).reshape(-1),
            "names": label_names(to_numpy(_get(instances, "labels_3d")), self.class_names),
        }

    def _ground_truth(self, annos, instances) -> dict:
        if annos is not None:
            gt = {key: np.asarray(value) for key, value in annos.items()}
            gt["boxes"] = gt["boxes"].astype(np.float64).reshape(len(gt["names"]), -1)
            gt["names"] = gt["names"].astype(str)
            return gt
        if instances is None:
            raise ValueError(f"{type(self).__name__}: a data sample has neither eval_ann_info nor gt_instances_3d")
        boxes = to_numpy(_get(instances, "bboxes_3d"), np.float64)
        boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.size else 7)
        gt = {"boxes": boxes, "names": label_names(to_numpy(_get(instances, "labels_3d")), self.class_names)}
        for key in ("difficulty", "num_points", "level"):
            value = _get(instances, key)
            if value is not None:
                gt[key] = to_numpy(value).reshape(-1)
        return gt

    def save(self, metrics: dict, details: dict | None = None) -> None:
        """Write ``{"metrics": ..., "details": ...}`` as ``<prefix>_results.json`` in the output folder."""
        folder = self.output_dir
        if folder is None:
            log_file = MMLogger.get_current_instance().log_file
            folder = os.path.dirname(log_file) if log_file else None
        if folder is None:
            return
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{self.prefix or self.default_prefix}_results.json")
        with open(path, "w") as f:
            json.dump({"metrics": metrics, "details": details or {}}, f, indent=2, default=float)
