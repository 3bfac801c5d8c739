"""VoxelSegmentor: voxelize -> voxel encoder -> sparse backbone -> per-voxel head -> a class for every point.

The voxelization is the detectors' (:class:`~voxformer.models.detectors.VoxelDataPreprocessor`, dynamic: every
point of the grid belongs to one voxel). Each point takes the logits of its voxel (the point -> voxel map), so
points sharing a voxel share a prediction. A point outside ``point_cloud_range`` has no voxel; it takes the logits
of the nearest occupied voxel centre of its own sample (Euclidean, in x, y, z), so that every input point is
labelled and scored; a sample with no voxel at all gives zero logits (class 0) for its points.

Training scores the logits against ``gt_pts_seg.pts_semantic_mask`` with the configured losses (the ignore
index takes no part): per point inside the grid (``loss_level='point'``), or per voxel against the most frequent
non-ignored label of its points (``loss_level='voxel'``, ignored when all its points are; ties go to the lower
class; fewer rows, so cheaper, and close to SphereFormer's one random point per voxel).

Test-time augmentation (optional ``tta_views``):
each view rotates the points about z, then flips them, voxelizes them again, and the per-point class
probabilities of the views are averaged before the argmax.
"""

from __future__ import annotations

import math

import torch
from mmengine.model import BaseModel

from voxformer.errors import ConfigError
from voxformer.ops import voxelize
from voxformer.registry import MODELS
from voxformer.structures.det3d_sample import PointData

_VIEW_KEYS = {"rotation", "flip_x", "flip_y"}


def _build(cfg, **grid):
    return MODELS.build({**cfg, **grid}) if isinstance(cfg, dict) else cfg


def nearest_voxel_index(
    point_to_voxel: torch.Tensor,
    xyz: torch.Tensor,
    point_batch: torch.Tensor,
    coords: torch.Tensor,
    voxel_size,
    range_min,
    chunk: int = 1024,
) -> torch.Tensor:
    """(N,) voxel row of every point: its own voxel, or for a point outside the grid (``point_to_voxel`` -1) the
    occupied voxel of the same sample whose centre is nearest; -1 only when that sample has no voxel.

    ``xyz`` (N, 3), ``point_batch`` (N,) sample of each point, ``coords`` (M, 4) (batch, z, y, x).
    """
    index = point_to_voxel.long().clone()
    outside = torch.nonzero(index < 0).flatten()
    if outside.numel() == 0:
        return index
    size = torch.as_tensor(voxel_size, dtype=xyz.dtype, device=xyz.device)
    low = torch.as_tensor(range_min, dtype=xyz.dtype, device=xyz.device)
    centres = (coords[:, [3, 2, 1]].to(xyz.dtype) + 0.5) * size + low
    voxel_batch = coords[:, 0].long()
    for sample in torch.unique(point_batch[outside]).tolist():
        rows = outside[point_batch[outside] == sample]
        candidates = torch.nonzero(voxel_batch == sample).flatten()
        if candidates.numel() == 0:
            continue
        for start in range(0, rows.numel(), chunk):
            part = rows[start:start + chunk]
            nearest = torch.cdist(xyz[part], centres[candidates]).argmin(dim=1)
            index[part] = candidates[nearest]
    return index


def voxel_majority_labels(labels: torch.Tensor, point_to_voxel: torch.Tensor, num_voxels: int, num_classes: int,
                          ignore_index: int = 255) -> torch.Tensor:
    """(M,) most frequent label of each voxel's points (ignored labels and points outside the grid not counted);
    ``ignore_index`` for a voxel with no counted point. ``labels`` (N,) in 0..K-1 or ``ignore_index``."""
    counted = (point_to_voxel >= 0) & (labels != ignore_index)
    counts = labels.new_zeros((num_voxels, num_classes))
    counts.index_put_((point_to_voxel[counted].long(), labels[counted]), torch.ones_like(labels[counted]),
                      accumulate=True)
    best = counts.max(dim=1)
    return torch.where(best.values > 0, best.indices, ignore_index)


def _view_points(points: torch.Tensor, view: dict) -> torch.Tensor:
    """The points of one test-time view: rotated by ``rotation`` (rad, about z), then mirrored in y
    (``flip_x``: y -> -y) and / or in x (``flip_y``: x -> -x); other columns unchanged."""
    angle = float(view.get("rotation", 0.0))
    c, s = math.cos(angle), math.sin(angle)
    x, y = points[:, 0], points[:, 1]
    x, y = c * x - s * y, s * x + c * y
    if view.get("flip_x", False):
        y = -y
    if view.get("flip_y", False):
        x = -x
    return torch.cat([x[:, None], y[:, None], points[:, 2:]], dim=1)


@MODELS.register_module()
class VoxelSegmentor(BaseModel):
    """A LiDAR semantic segmentor (mmengine ``BaseModel``).

    ``forward(inputs, data_samples, mode)``: ``'loss'`` -> dict of losses (``loss_<name>`` per entry of
    ``losses``); ``'predict'`` -> the data samples with ``pred_pts_seg.pts_semantic_mask`` (N_i,) int64 for every
    input point in input order; ``'tensor'`` -> per-voxel logits (M, num_classes).

    Args:
        data_preprocessor: a :class:`VoxelDataPreprocessor` config (the grid).
        voxel_encoder, backbone3d, head: module configs; the grid and sparse shape are injected.
        losses: name -> loss config, each called as ``loss(logits (P, K), target (P,))``.
        ignore_index: the target value that is not scored.
        tta_views: test-time views, each ``dict(rotation=rad, flip_x=bool, flip_y=bool)``; None: one plain pass.
        loss_level: ``'point'`` or ``'voxel'`` (module docstring).
    """

    def __init__(
        self,
        data_preprocessor: dict,
        voxel_encoder: dict,
        backbone3d: dict,
        head: dict,
        losses: dict | None = None,
        ignore_index: int = 255,
        tta_views: list[dict] | None = None,
        loss_level: str = "point",
        init_cfg: dict | None = None,
    ):
        preprocessor = _build(data_preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        grid = dict(voxel_size=preprocessor.voxel_size, point_cloud_range=preprocessor.point_cloud_range)
        self.voxel_encoder = _build(voxel_encoder, **grid)
        self.backbone3d = _build(backbone3d, sparse_shape=preprocessor.sparse_shape)
        self.head = _build(head)
        losses = dict(ce=dict(type="CrossEntropySegLoss", ignore_index=ignore_index)) if losses is None else losses
        self.losses = torch.nn.ModuleDict({name: _build(cfg) for name, cfg in losses.items()})
        self.ignore_index = int(ignore_index)
        for view in tta_views or []:
            if not isinstance(view, dict) or not set(view) <= _VIEW_KEYS:
                raise ConfigError(f"model.tta_views: each view is a dict of {sorted(_VIEW_KEYS)}, got {view!r}")
        self.tta_views = list(tta_views) if tta_views else None
        if loss_level not in ("point", "voxel"):
            raise ConfigError(f"model.loss_level must be 'point' or 'voxel', got {loss_level!r}")
        self.loss_level = loss_level

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def voxel_logits(self, inputs: dict) -> torch.Tensor:
        """Voxelized batch -> (M, num_classes) logits, one row per row of ``inputs['coords']`` (M may be 0)."""
        if inputs["coords"].shape[0] == 0:  # nothing in the grid: no row, but still a graph for the losses
            weight = self.head.classifier.weight
            return weight.new_zeros((0, self.num_classes)) + 0.0 * weight.sum()
        voxels = self.voxel_encoder(inputs["points"], inputs["point_to_voxel"], inputs["coords"], inputs["batch_size"])
        voxels = self.backbone3d(voxels)
        if voxels.features.shape[0] != inputs["coords"].shape[0]:
            raise ConfigError("model.backbone3d must return the input voxels (a segmentation backbone keeps them)")
        return self.head(voxels)

    def point_logits(self, inputs: dict) -> torch.Tensor:
        """(N, num_classes) logits of every point of the batch (see the module docstring for points outside)."""
        logits = self.voxel_logits(inputs)
        points = inputs["points"]
        batch = torch.repeat_interleave(
            torch.arange(len(inputs["num_points"]), device=points.device),
            torch.as_tensor(inputs["num_points"], device=points.device),
        )
        grid = self.data_preprocessor
        index = nearest_voxel_index(
            inputs["point_to_voxel"], points[:, :3], batch, inputs["coords"], grid.voxel_size,
            grid.point_cloud_range[:3],
        )
        padded = torch.cat([logits, logits.new_zeros((1, logits.shape[1]))])  # row M: zero logits, for index -1
        return padded[torch.where(index >= 0, index, logits.shape[0])]

    def _tta_probabilities(self, inputs: dict) -> torch.Tensor:
        grid = self.data_preprocessor
        total = None
        for view in self.tta_views:
            points = _view_points(inputs["points"], view)
            voxels = voxelize(list(points.split(inputs["num_points"])), grid.voxel_size, grid.point_cloud_range)
            view_inputs = dict(inputs, points=points, point_to_voxel=voxels.point_to_voxel, coords=voxels.coords)
            probabilities = self.point_logits(view_inputs).softmax(dim=1)
            total = probabilities if total is None else total + probabilities
        return total / len(self.tta_views)

    def loss(self, inputs: dict, data_samples) -> dict:
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples with gt_pts_seg")
        target = torch.cat([s.gt_pts_seg.pts_semantic_mask for s in data_samples]).to(inputs["points"].device)
        if target.shape[0] != inputs["points"].shape[0]:
            raise ValueError(f"gt_pts_seg holds {target.shape[0]} labels for {inputs['points'].shape[0]} points")
        point_to_voxel = inputs["point_to_voxel"]
        logits = self.voxel_logits(inputs)
        if self.loss_level == "voxel":
            target = voxel_majority_labels(target.long(), point_to_voxel, logits.shape[0], self.num_classes,
                                           self.ignore_index)
        else:
            inside = point_to_voxel >= 0
            logits, target = logits[point_to_voxel[inside].long()], target[inside].long()
        return {f"loss_{name}": loss(logits, target) for name, loss in self.losses.items()}

    def predict(self, inputs: dict, data_samples=None):
        scores = self._tta_probabilities(inputs) if self.tta_views else self.point_logits(inputs)
        labels = scores.argmax(dim=1).split(inputs["num_points"])
        if data_samples is None:
            return [PointData(pts_semantic_mask=mask) for mask in labels]
        for sample, mask in zip(data_samples, labels):
            sample.pred_pts_seg = PointData(pts_semantic_mask=mask)
        return data_samples

    def forward(self, inputs: dict, data_samples=None, mode: str = "tensor"):
        if mode == "tensor":
            return self.voxel_logits(inputs)
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
