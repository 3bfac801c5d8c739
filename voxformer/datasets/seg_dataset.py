"""``LidarSegDataset``: semantic segmentation over ``<name>_infos_<split>.pkl`` (same records as detection).

A record adds ``pts_semantic_mask_path`` (label file relative to the data root). Metainfo:
``seg_classes`` (class names of the learning space 0..C-1), ``ignore_index`` (255), ``seg_palette``
(RGB per class), ``label_format`` (:data:`voxformer.datasets.seg_labels.LABEL_FORMATS`) and
``absent_seg_classes`` (classes the data never holds, left out of its mIoU).

Each item's results dict, before the pipeline: ``frame_id``, ``sample_idx``, ``lidar_path`` and
``pts_semantic_mask_path`` (absolute), ``num_features``, ``timestamp``, ``pose``, ``data_root``,
``point_cloud_range``, ``label_format``, ``seg_classes``. With ``labelled`` (the default), a record
without a label file raises an error naming the info file and the frame; test splits set it False.
"""

from __future__ import annotations

import os

from voxformer.datasets.base import LidarInfosDataset
from voxformer.datasets.formats import nuscenes_lidarseg, semantickitti
from voxformer.datasets.synthetic.semantics import ABSENT_CLASSES
from voxformer.errors import VoxformerError
from voxformer.registry import DATASETS


@DATASETS.register_module()
class LidarSegDataset(LidarInfosDataset):
    METAINFO = {"seg_classes": (), "ignore_index": 255, "seg_palette": (), "label_format": "semantickitti"}

    def __init__(self, *args, labelled: bool = True, **kwargs):
        self.labelled = labelled
        super().__init__(*args, **kwargs)

    def parse_data_info(self, record: dict, index: int = 0) -> dict:
        label = record.get("pts_semantic_mask_path")
        if self.labelled and label is None:
            raise VoxformerError(
                f"{self.ann_file}: frame {record['frame_id']!r} (scan {record['lidar_path']}) has no label file "
                "(pts_semantic_mask_path) in a labelled split"
            )
        return {
            **self.frame_info(record, index),
            "pts_semantic_mask_path": None if label is None else os.path.join(self.data_root, label),
            "label_format": self.metainfo["label_format"],
            "seg_classes": tuple(self.metainfo["seg_classes"]),
        }


_SEMANTICKITTI_META = {
    "seg_classes": semantickitti.CLASSES,
    "ignore_index": semantickitti.IGNORE_INDEX,
    "seg_palette": semantickitti.PALETTE,
    "label_format": "semantickitti",
}


@DATASETS.register_module()
class SemanticKittiDataset(LidarSegDataset):
    """SemanticKITTI (``voxformer create-data semantickitti``): 19 classes."""

    METAINFO = {**_SEMANTICKITTI_META, "absent_seg_classes": ()}


@DATASETS.register_module()
class SyntheticSegDataset(LidarSegDataset):
    """The synthetic street scenes with per-point labels in SemanticKITTI's 19 classes, five of them absent."""

    METAINFO = {**_SEMANTICKITTI_META, "absent_seg_classes": ABSENT_CLASSES}


@DATASETS.register_module()
class NuScenesSegDataset(LidarSegDataset):
    """nuScenes-lidarseg (``voxformer create-data nuscenes --lidarseg``): 16 classes."""

    METAINFO = {**nuscenes_lidarseg.seg_metainfo(), "absent_seg_classes": ()}
