"""VoxelDetector: voxel encoder -> 3D backbone -> to-BEV -> 2D backbone + neck -> CenterPoint head.

Which modules it uses is configuration (docs/design.md §Data flow). The grid (voxel size, point-cloud range and the
derived sparse shape) is stated once, in ``data_preprocessor``, and handed to the modules that need it.
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel

from voxformer.errors import ConfigError
from voxformer.registry import MODELS


def _build(cfg, **grid):
    return MODELS.build({**cfg, **grid}) if isinstance(cfg, dict) else cfg


@MODELS.register_module()
class VoxelDetector(BaseModel):
    """A single-stage LiDAR detector (mmengine ``BaseModel``).

    ``forward(inputs, data_samples, mode)``: ``'loss'`` -> dict of losses; ``'predict'`` -> the data
    samples with ``pred_instances_3d`` (``bboxes_3d`` Boxes3D, ``scores_3d`` (K,), ``labels_3d`` (K,));
    ``'tensor'`` -> the head's raw output maps (one dict per task).
    """

    def __init__(
        self,
        data_preprocessor: dict,
        voxel_encoder: dict,
        backbone3d: dict,
        to_bev: dict,
        head: dict,
        bev_backbone: dict | None = None,
        bev_neck: dict | None = None,
        init_cfg: dict | None = None,
    ):
        preprocessor = _build(data_preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        grid = dict(voxel_size=preprocessor.voxel_size, point_cloud_range=preprocessor.point_cloud_range)
        self.voxel_encoder = _build(voxel_encoder, **grid)
        self.backbone3d = _build(backbone3d, sparse_shape=preprocessor.sparse_shape)
        self.to_bev = _build(to_bev)
        self.bev_backbone = _build(bev_backbone) if bev_backbone is not None else None
        self.bev_neck = _build(bev_neck) if bev_neck is not None else None
        self.head = _build(head, **grid)

    def extract_feat(self, inputs: dict) -> torch.Tensor:
        """Voxelized batch -> dense BEV features (B, C, H, W) for the head."""
        voxels = self.voxel_encoder(inputs["points"], inputs["point_to_voxel"], inputs["coords"], inputs["batch_size"])
        voxels = self.backbone3d(voxels)
        bev = self.to_bev(voxels)
        if self.bev_backbone is not None:
            bev = self.bev_backbone(bev)
        if self.bev_neck is not None:
            bev = self.bev_neck(bev)
        if isinstance(bev, (list, tuple)):
            raise ConfigError("the BEV stage returned several maps; add a bev_neck that merges them")
        return bev

    def forward(self, inputs: dict, data_samples=None, mode: str = "tensor"):
        outputs = self.head(self.extract_feat(inputs))
        if mode == "tensor":
            return outputs
        if mode == "loss":
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_instances_3d")
            gt_boxes = [s.gt_instances_3d.bboxes_3d.tensor for s in data_samples]
            gt_labels = [s.gt_instances_3d.labels_3d for s in data_samples]
            return self.head.loss(outputs, gt_boxes, gt_labels)
        if mode == "predict":
            predictions = self.head.predict(outputs)
            if data_samples is None:
                return predictions
            for sample, prediction in zip(data_samples, predictions):
                sample.pred_instances_3d = prediction
            return data_samples
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
