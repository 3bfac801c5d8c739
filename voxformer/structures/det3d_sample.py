"""Det3DSample: one frame's ground truth and predictions, as an mmengine data element.

Fields (each an ``InstanceData`` when present):

- ``gt_instances_3d``: ``bboxes_3d`` (:class:`Boxes3D`), ``labels_3d`` (N,) int64, and optional
  per-box fields (``difficulty``, ``num_points``, ``names``).
- ``pred_instances_3d``: ``bboxes_3d`` (:class:`Boxes3D`), ``scores_3d`` (N,), ``labels_3d`` (N,).

Metainfo holds ``frame_id``, ``point_cloud_range`` and anything else a metric needs.
"""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData


class Det3DSample(BaseDataElement):
    @property
    def gt_instances_3d(self) -> InstanceData:
        return self._gt_instances_3d

    @gt_instances_3d.setter
    def gt_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instances_3d", dtype=InstanceData)

    @gt_instances_3d.deleter
    def gt_instances_3d(self) -> None:
        del self._gt_instances_3d

    @property
    def pred_instances_3d(self) -> InstanceData:
        return self._pred_instances_3d

    @pred_instances_3d.setter
    def pred_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_pred_instances_3d", dtype=InstanceData)

    @pred_instances_3d.deleter
    def pred_instances_3d(self) -> None:
        del self._pred_instances_3d
