"""Det3DSample: one frame's ground truth and predictions, as an mmengine data element.

Fields (each an ``InstanceData`` when present):

- ``gt_instances_3d``: ``bboxes_3d`` (:class:`Boxes3D`), ``labels_3d`` (N,) int64, and optional
  per-box fields (``difficulty``, ``num_points``, ``names``).
- ``pred_instances_3d``: ``bboxes_3d`` (:class:`Boxes3D`), ``scores_3d`` (N,), ``labels_3d`` (N,).
- ``gt_pts_seg`` (a ``PointData``): ``pts_semantic_mask`` (N,) int64 class per input point in the
  learning space (ignore index 255), ``point_distance`` (N,) float32 range ``||(x, y, z)||`` of the
  point from the sensor, metres (the metric's distance bins, as SphereFormer's).
- ``pred_pts_seg`` (a ``PointData``): ``pts_semantic_mask`` (N,) int64 for every input point in input
  order, optionally ``pts_logits`` (N, C).

Metainfo holds ``frame_id``, ``point_cloud_range`` and anything else a metric needs.
"""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData


class PointData(BaseDataElement):
    """Per-point data fields: every data field has the same first dimension (the point count)."""

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_") or not hasattr(value, "__len__"):
            super().__setattr__(name, value)
            return
        lengths = {len(getattr(self, key)) for key in self._data_fields if key != name}
        if lengths and len(value) not in lengths:
            raise AssertionError(
                f"PointData field {name!r} has {len(value)} rows, the other fields {sorted(lengths)}"
            )
        super().__setattr__(name, value)

    def __len__(self) -> int:
        for key in self._data_fields:
            return len(getattr(self, key))
        return 0

    def __getitem__(self, index) -> PointData:
        """The points selected by ``index`` (a slice, a bool mask or indices), every field alike."""
        return PointData(metainfo=self.metainfo, **{key: value[index] for key, value in self.items()})


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

    @property
    def gt_pts_seg(self) -> PointData:
        return self._gt_pts_seg

    @gt_pts_seg.setter
    def gt_pts_seg(self, value: PointData) -> None:
        self.set_field(value, "_gt_pts_seg", dtype=PointData)

    @gt_pts_seg.deleter
    def gt_pts_seg(self) -> None:
        del self._gt_pts_seg

    @property
    def pred_pts_seg(self) -> PointData:
        return self._pred_pts_seg

    @pred_pts_seg.setter
    def pred_pts_seg(self, value: PointData) -> None:
        self.set_field(value, "_pred_pts_seg", dtype=PointData)

    @pred_pts_seg.deleter
    def pred_pts_seg(self) -> None:
        del self._pred_pts_seg
