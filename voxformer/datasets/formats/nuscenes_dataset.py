"""nuScenes in the training pipeline: ``NuScenesDataset`` and the ``LoadNuScenesPoints`` transform.

``NuScenesDataset`` reads ``nuscenes_infos_<split>.pkl`` (``voxformer create-data nuscenes``) like
any :class:`LidarDetDataset` and adds ``sweeps`` (absolute paths) to each item; boxes (x, y, z, dx,
dy, dz, yaw, vx, vy) with fewer than ``min_points`` LiDAR points get label -1 (not trained), as the
toolboxes do. ``LoadNuScenesPoints`` loads the key frame and its sweeps with
:func:`.nuscenes.load_points_with_sweeps`: x, y, z, intensity / 255, time lag.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from voxformer.datasets.base import LidarDetDataset
from voxformer.datasets.transforms.base import Transform
from voxformer.registry import DATASETS, TRANSFORMS

from .nuscenes import DETECTION_CLASSES, load_points_with_sweeps, scan_points, with_time_lag


@DATASETS.register_module()
class NuScenesDataset(LidarDetDataset):
    METAINFO = {"classes": DETECTION_CLASSES}

    def __init__(self, *args, min_points: int = 1, **kwargs):
        self.min_points = min_points
        super().__init__(*args, **kwargs)

    def parse_data_info(self, record: dict, index: int = 0) -> dict:
        info = super().parse_data_info(record, index)
        info["sweeps"] = [{**sweep, "path": os.path.join(self.data_root, sweep["path"])} for sweep in record["sweeps"]]
        info["gt_labels_3d"][info["num_lidar_pts"] < self.min_points] = -1
        return info


@TRANSFORMS.register_module()
class LoadNuScenesPoints(Transform):
    """``results['lidar_path']`` and ``results['sweeps']`` -> ``results['points']`` float32 (N, 5) tensor.

    ``max_sweeps``: earlier sweeps used (default all listed in the infos; 0 = key frame only,
    still with the time-lag column, then all zeros).
    """

    def __init__(self, max_sweeps: int | None = None):
        self.max_sweeps = max_sweeps

    def transform(self, results: dict) -> dict:
        record = {"lidar_path": results["lidar_path"], "sweeps": results.get("sweeps", [])}
        results["points"] = torch.from_numpy(load_points_with_sweeps(record, "", self.max_sweeps))
        return results

    def points_from_rows(self, rows: np.ndarray) -> torch.Tensor:
        """``results['points']`` of a key frame without sweeps whose ``.pcd.bin`` file holds ``rows`` (N, 5)."""
        return torch.from_numpy(with_time_lag(scan_points(rows), 0.0))
