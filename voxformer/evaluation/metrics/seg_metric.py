"""``SegMetric``: per-point semantic segmentation scored over the split (:mod:`voxformer.evaluation.seg_eval`).

Reads per data sample ``gt_pts_seg.pts_semantic_mask`` (N,), ``gt_pts_seg.point_distance`` (N,)
(optional: without it there are no distance bins for that frame's points) and
``pred_pts_seg.pts_semantic_mask`` (N,), for every input point in input order. Samples may be
:class:`~voxformer.structures.det3d_sample.Det3DSample` objects or their ``.to_dict()`` form.

Returns ``mIoU``, ``IoU/<class>`` and ``mIoU/<bin>`` (``mIoU/<=20m``, ``mIoU/20-50m``, ``mIoU/>50m``
for the default edges), in percent, and logs the per-class table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from voxformer.errors import ConfigError
from voxformer.evaluation.metrics.base import _get, to_numpy
from voxformer.evaluation.seg_eval import confusion, format_scores, scores
from voxformer.registry import METRICS


@METRICS.register_module()
class SegMetric(BaseMetric):
    """Args: ``class_names`` (default the dataset's ``seg_classes``), ``ignore_index``, ``distance_bins``
    (bin edges in metres), ``absent_classes`` (left out of the mIoU; default the dataset's
    ``absent_seg_classes``)."""

    default_prefix = "seg"

    def __init__(
        self,
        class_names: Sequence[str] | None = None,
        ignore_index: int = 255,
        distance_bins: Sequence[float] = (20.0, 50.0),
        absent_classes: Sequence[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._class_names = None if class_names is None else tuple(class_names)
        self.ignore_index = int(ignore_index)
        self.distance_bins = tuple(float(e) for e in distance_bins)
        if list(self.distance_bins) != sorted(set(self.distance_bins)):
            raise ConfigError(f"SegMetric: distance_bins must increase, got {list(distance_bins)}")
        self._absent = None if absent_classes is None else tuple(absent_classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        if self._class_names is not None:
            return self._class_names
        classes = (self.dataset_meta or {}).get("seg_classes")
        if not classes:
            raise ConfigError("SegMetric: give class_names or a dataset with metainfo 'seg_classes'")
        return tuple(classes)

    @property
    def absent_classes(self) -> tuple[str, ...]:
        if self._absent is not None:
            return self._absent
        return tuple((self.dataset_meta or {}).get("absent_seg_classes", ()))

    def process(self, data_batch, data_samples: Sequence) -> None:
        del data_batch  # everything needed is in the samples
        for sample in data_samples:
            metainfo = sample if isinstance(sample, dict) else getattr(sample, "metainfo", {})
            frame = _get(metainfo, "frame_id", len(self.results))
            gt, pred = _get(sample, "gt_pts_seg"), _get(sample, "pred_pts_seg")
            if gt is None or pred is None:
                raise ValueError(f"SegMetric: frame {frame} lacks {'gt_pts_seg' if gt is None else 'pred_pts_seg'}")
            target = to_numpy(_get(gt, "pts_semantic_mask"), np.int64)
            prediction = to_numpy(_get(pred, "pts_semantic_mask"), np.int64)
            if target.shape != prediction.shape:
                raise ValueError(f"SegMetric: frame {frame}: {prediction.shape} predictions for {target.shape} points")
            distance = _get(gt, "point_distance")
            counts = confusion(
                target,
                prediction,
                len(self.class_names),
                self.ignore_index,
                None if distance is None else to_numpy(distance, np.float64),
                self.distance_bins,
            )
            if len(counts) == 1 and self.distance_bins:  # no ranges: the frame adds to no bin
                counts = np.concatenate([counts, np.zeros((len(self.distance_bins) + 1, *counts.shape[1:]), np.int64)])
            self.results.append(counts)

    def compute_metrics(self, results: list) -> dict:
        result = scores(np.sum(results, axis=0), self.class_names, self.absent_classes, self.distance_bins)
        MMLogger.get_current_instance().info("\n" + format_scores(result))
        metrics = {"mIoU": result["mIoU"]}
        metrics.update({f"IoU/{name}": value for name, value in result["IoU"].items()})
        metrics.update({f"mIoU/{name}": values["mIoU"] for name, values in result["bins"].items()})
        return metrics
