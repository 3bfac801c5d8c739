"""``LidarDetDataset``: an mmengine ``BaseDataset`` over ``<name>_infos_<split>.pkl`` (any dataset).

``LidarInfosDataset`` holds what detection and segmentation share: the pipeline, the info file and
the frame fields of each record.

Each item's results dict, before the pipeline: ``frame_id``, ``sample_idx``, ``lidar_path``
(absolute), ``num_features``, ``timestamp``, ``pose``, ``data_root``, ``point_cloud_range`` (the
dataset's; range transforms without their own use it), ``gt_bboxes_3d`` (M, 7+) float32,
``gt_labels_3d`` (M,) int64 (index in ``metainfo['classes']``, -1 for other names), ``gt_names``,
``num_lidar_pts``, ``difficulty`` and ``eval_ann_info`` (the record's full annotations, for metrics).

Pipeline entries may be dicts (built from voxformer's TRANSFORMS, whatever the default scope) or
callables. With ``filter_empty_gt`` (training), frames without a box of the classes are skipped.
"""

from __future__ import annotations

import os

import numpy as np
from mmengine.dataset import BaseDataset

from voxformer.datasets.infos import load_infos
from voxformer.registry import DATASETS, TRANSFORMS


class LidarInfosDataset(BaseDataset):
    """Shared by detection and segmentation: the info file, the pipeline and each record's frame fields."""

    def __init__(
        self,
        data_root: str,
        ann_file: str,
        pipeline=(),
        metainfo: dict | None = None,
        point_cloud_range=None,
        test_mode: bool = False,
        **kwargs,
    ):
        self.point_cloud_range = None if point_cloud_range is None else [float(v) for v in point_cloud_range]
        built = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(
            ann_file=ann_file, metainfo=metainfo, data_root=data_root, pipeline=built, test_mode=test_mode, **kwargs
        )

    def load_data_list(self) -> list[dict]:
        content = load_infos(self.ann_file)
        return [self.parse_data_info(record, index) for index, record in enumerate(content["data_list"])]

    def frame_info(self, record: dict, index: int) -> dict:
        """``frame_id``, ``sample_idx``, absolute ``lidar_path``, ``num_features``, ``timestamp``, ``pose``,
        ``data_root`` and ``point_cloud_range`` of one record."""
        return {
            "frame_id": record["frame_id"],
            "sample_idx": index,
            "lidar_path": os.path.join(self.data_root, record["lidar_path"]),
            "num_features": record["num_features"],
            "timestamp": record["timestamp"],
            "pose": record["pose"],
            "data_root": self.data_root,
            "point_cloud_range": self.point_cloud_range,
        }


@DATASETS.register_module()
class LidarDetDataset(LidarInfosDataset):
    METAINFO = {"classes": ()}

    def __init__(self, *args, filter_empty_gt: bool = True, **kwargs):
        self.filter_empty_gt = filter_empty_gt
        super().__init__(*args, **kwargs)

    def parse_data_info(self, record: dict, index: int = 0) -> dict:
        classes = list(self.metainfo["classes"])
        annos = record["annos"]
        names = np.asarray(annos["names"])
        return {
            **self.frame_info(record, index),
            "gt_bboxes_3d": np.asarray(annos["boxes"], np.float32),
            "gt_labels_3d": np.array([classes.index(n) if n in classes else -1 for n in names], np.int64),
            "gt_names": names,
            "num_lidar_pts": np.asarray(annos["num_points"]),
            "difficulty": np.asarray(annos["difficulty"]),
            "eval_ann_info": annos,
        }

    def filter_data(self) -> list[dict]:
        if self.test_mode or not self.filter_empty_gt:
            return self.data_list
        return [info for info in self.data_list if (info["gt_labels_3d"] >= 0).any()]

    def get_cat_ids(self, idx: int) -> list[int]:
        """Sorted class ids (labels >= 0) present in frame ``idx``: what :class:`.wrappers.CBGSDataset` balances."""
        labels = self.get_data_info(idx)["gt_labels_3d"]
        return sorted(set(labels[labels >= 0].tolist()))


@DATASETS.register_module()
class SyntheticDataset(LidarDetDataset):
    """The generated street scenes (``voxformer create-data synthetic``)."""

    METAINFO = {"classes": ("Car", "Pedestrian", "Cyclist")}


@DATASETS.register_module()
class KittiDataset(LidarDetDataset):
    """KITTI 3D object (``voxformer create-data kitti``)."""

    METAINFO = {"classes": ("Car", "Pedestrian", "Cyclist")}
