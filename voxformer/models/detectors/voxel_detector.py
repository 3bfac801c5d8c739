"""VoxelDetector: voxel encoder -> 3D backbone -> to-BEV -> 2D backbone + neck -> CenterPoint head.

Which modules it uses is configuration (docs/design.md §Data flow). The grid (voxel size, point-cloud range and the
derived sparse shape) is stated once, in ``data_preprocessor``, and handed to the modules that need it.

Widths are stated once too: every module exposes ``out_channels`` after construction (a list for a multi-scale
BEV backbone) and the detector passes it on as the next module's ``in_channels`` when that module takes one and
its config leaves it out; a config that states another width is a :class:`ConfigError` naming the key. The 3D
backbone's ``out_sparse_shape`` (Z, Y, X) goes to a to-BEV module that takes ``sparse_shape``.
"""

from __future__ import annotations

import inspect

import torch
from mmengine.model import BaseModel

from voxformer.errors import ConfigError
from voxformer.registry import MODELS


def _build(cfg, **grid):
    return MODELS.build({**cfg, **grid}) if isinstance(cfg, dict) else cfg


def _takes(cfg: dict, option: str) -> bool:
    """Whether the registered type of ``cfg`` has a constructor option named ``option``."""
    obj_type = cfg.get("type")
    obj_cls = MODELS.get(obj_type) if isinstance(obj_type, str) else obj_type
    if obj_cls is None:
        return False  # an unknown type: the build names it
    try:
        return option in inspect.signature(obj_cls).parameters
    except (TypeError, ValueError):
        return False


def _same(stated, derived) -> bool:
    as_list = (lambda v: [int(x) for x in v]) if isinstance(derived, (list, tuple)) else int
    try:
        return as_list(stated) == as_list(derived)
    except (TypeError, ValueError):
        return False


def _inject(cfg, name: str, option: str, value, source: str):
    """``cfg`` with ``option`` set to ``value`` (``source``'s output) when the type takes it and the config
    omits it; a stated value that differs is a :class:`ConfigError` naming ``<name>.<option>``."""
    if not isinstance(cfg, dict) or value is None or not _takes(cfg, option):
        return cfg
    if option not in cfg or cfg[option] is None:
        return {**cfg, option: list(value) if isinstance(value, (list, tuple)) else value}
    if not _same(cfg[option], value):
        raise ConfigError(
            f"{name}.{option} is {cfg[option]!r} but {source} outputs {value!r}; "
            f"leave {name}.{option} out (it is taken from {source}) or make them agree"
        )
    return cfg


def _output(module, attribute: str):
    value = getattr(module, attribute, None)
    return tuple(value) if isinstance(value, (list, tuple)) else value


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
        previous, built = "voxel_encoder", self.voxel_encoder
        stages = {"backbone3d": backbone3d, "to_bev": to_bev, "bev_backbone": bev_backbone, "bev_neck": bev_neck}
        for name, cfg in stages.items():
            if cfg is None:
                setattr(self, name, None)
                continue
            cfg = _inject(cfg, name, "in_channels", _output(built, "out_channels"), previous)
            if name == "to_bev":
                cfg = _inject(cfg, name, "sparse_shape", _output(built, "out_sparse_shape"), previous)
            extra = dict(sparse_shape=preprocessor.sparse_shape) if name == "backbone3d" else {}
            setattr(self, name, _build(cfg, **extra))
            previous, built = name, getattr(self, name)
        head = _inject(head, "head", "in_channels", _output(built, "out_channels"), previous)
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
