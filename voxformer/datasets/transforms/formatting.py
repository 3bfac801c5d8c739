"""Packing a results dict into what a detector consumes."""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.transforms.base import Transform
from voxformer.registry import TRANSFORMS

META_KEYS = ("frame_id", "sample_idx", "lidar_path", "point_cloud_range", "timestamp", "pose", "eval_ann_info")


@TRANSFORMS.register_module()
class Pack3DDetInputs(Transform):
    """-> ``{"inputs": {"points": (N, C) tensor}, "data_samples": Det3DSample}`` with
    ``gt_instances_3d.bboxes_3d`` (:class:`Boxes3D`) and ``labels_3d`` (int64) when boxes are present,
    and ``meta_keys`` of the results in the sample's metainfo. Batch with ``pseudo_collate``.

    With ``results['pts_semantic_mask']`` (segmentation) the sample also gets ``gt_pts_seg``: that
    mask (int64) and ``point_distance``, each point's range ``||(x, y, z)||`` in metres as packed
    (the sensor frame at test time), for the metric's distance bins."""

    def __init__(self, meta_keys=META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        from mmengine.structures import InstanceData

        from voxformer.structures.det3d_sample import Det3DSample

        sample = Det3DSample(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if "gt_bboxes_3d" in results:
            sample.gt_instances_3d = InstanceData(
                bboxes_3d=results["gt_bboxes_3d"],
                labels_3d=torch.as_tensor(np.asarray(results["gt_labels_3d"], np.int64)),
            )
        if "pts_semantic_mask" in results:
            from voxformer.structures.det3d_sample import PointData

            points = results["points"]
            sample.gt_pts_seg = PointData(
                pts_semantic_mask=torch.as_tensor(results["pts_semantic_mask"], dtype=torch.int64),
                point_distance=torch.linalg.vector_norm(points[:, :3].float(), dim=1),
            )
        return {"inputs": {"points": results["points"]}, "data_samples": sample}
