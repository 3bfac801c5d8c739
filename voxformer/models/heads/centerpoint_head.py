"""CenterPoint head: class heatmaps + per-cell box regression, focal/L1 losses, top-K decoding, NMS.

Channel layout of the regression outputs follows :mod:`voxformer.models.heads.targets`:
``reg`` (2: cell offset x, y), ``height`` (1: centre z), ``dim`` (3: log dx, dy, dz), ``rot`` (2: sin, cos),
optional ``vel`` (2: vx, vy), ``axis`` (2: sin 2 yaw, cos 2 yaw) and ``iou`` (1: predicted IoU mapped to
[-1, 1]).

Why the heading axis: a car seen from the side looks nearly the same both ways round, and an L1 fit of
(sin, cos) to two opposite headings shrinks the vector towards zero, where its angle is noise. The axis
code (sin 2 yaw, cos 2 yaw) is the same for both, so it stays sharp; the decoded yaw is the axis angle,
turned by pi when (sin, cos) points the other way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.structures import InstanceData
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import batched_circle_nms, batched_nms_rotated, boxes_iou_aligned
from voxformer.registry import MODELS
from voxformer.structures import Boxes3D, derive_sparse_shape, wrap_angle

from ..losses import gaussian_focal_loss, weighted_l1_loss
from .targets import assign_targets

HEATMAP_BIAS = -2.19  # sigmoid(-2.19) ~ 0.1: the CenterNet prior for rare positives

DEFAULT_TEST_CFG = dict(
    top_k=500,
    score_threshold=0.1,
    post_center_range=None,
    nms=dict(type="rotate", iou_threshold=0.7, pre_max_size=4096, post_max_size=500),
    iou_rectifier=None,
    iou_power=None,
    max_per_sample=500,
)


def decode_codes(
    code: torch.Tensor,
    column: torch.Tensor,
    row: torch.Tensor,
    point_cloud_range: Sequence[float],
    voxel_size: Sequence[float],
    feature_stride: int,
    with_heading_axis: bool = False,
) -> torch.Tensor:
    """Boxes (..., 7, or 9 with velocities) from regression codes (..., 8 [+2 velocity] [+2 axis])
    predicted at cells (column, row)."""
    x = (column.to(code.dtype) + code[..., 0]) * voxel_size[0] * feature_stride + point_cloud_range[0]
    y = (row.to(code.dtype) + code[..., 1]) * voxel_size[1] * feature_stride + point_cloud_range[1]
    dims = code[..., 3:6].clamp(max=10.0).exp()
    sin, cos = code[..., 6], code[..., 7]
    yaw = torch.atan2(sin, cos)
    if with_heading_axis:
        axis = 0.5 * torch.atan2(code[..., -2], code[..., -1])
        backwards = axis.cos() * cos + axis.sin() * sin < 0
        yaw = axis + math.pi * backwards.to(axis.dtype)
    parts = [x[..., None], y[..., None], code[..., 2:3], dims, wrap_angle(yaw)[..., None]]
    if code.shape[-1] - 2 * with_heading_axis >= 10:
        parts.append(code[..., 8:10])
    return torch.cat(parts, dim=-1)


def _conv_branch(in_channels: int, mid_channels: int, out_channels: int, num_convs: int, kernel: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(num_convs - 1):
        layers += [
            nn.Conv2d(channels, mid_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
        ]
        channels = mid_channels
    layers.append(nn.Conv2d(channels, out_channels, kernel, padding=kernel // 2))
    return nn.Sequential(*layers)


@MODELS.register_module()
class CenterHead(nn.Module):
    """CenterPoint head over a dense BEV map (B, C, H, W) with one or more task groups.

    Args:
        in_channels: channels of the BEV map.
        class_names: all classes, in label order.
        tasks: class names per task group (each group gets its own heatmap); default one group of all.
        feature_stride: BEV stride of the input map in voxels (1 = one cell per voxel column).
        point_cloud_range, voxel_size: the detector's grid (injected by :class:`VoxelDetector`).
        with_velocity, with_iou: add the (vx, vy) and IoU branches.
        with_heading_axis: add the (sin 2 yaw, cos 2 yaw) branch; yaw is decoded from it (module docstring).
        code_weights: weight of each regression code (8, plus 2 with velocities, plus 2 with the axis).
        loss_weights: ``heatmap``, ``bbox`` and ``iou`` multipliers.
        min_overlap, min_radius: heatmap Gaussian radius (CornerNet overlap, smallest radius in cells).
        regression_radius: r > 0 also trains the box and IoU branches at the (2r+1)^2 cells around each
            centre (more regression samples per object; 0 = the centre cell only, as CenterPoint).
        test_cfg: decoding and NMS settings (see ``DEFAULT_TEST_CFG``); ``nms.iou_threshold`` (rotate) or
            ``nms.distance_threshold`` (circle, metres) may be one number or one per class;
            ``pre_max_size``/``post_max_size`` likewise; ``iou_rectifier`` (one alpha per class) rescales
            scores to score^(1-a) * iou^a (DSVT), ``iou_power`` p to score * iou^p (FlatFormer).
    """

    def __init__(
        self,
        in_channels: int,
        class_names: Sequence[str],
        point_cloud_range: Sequence[float],
        voxel_size: Sequence[float],
        tasks: Sequence[Sequence[str]] | None = None,
        feature_stride: int = 1,
        shared_channels: int = 64,
        head_channels: int = 64,
        num_head_convs: int = 2,
        final_kernel: int = 3,
        with_velocity: bool = False,
        with_iou: bool = False,
        with_heading_axis: bool = False,
        code_weights: Sequence[float] | None = None,
        loss_weights: dict | None = None,
        min_overlap: float = 0.1,
        min_radius: int = 2,
        regression_radius: int = 0,
        test_cfg: dict | None = None,
    ):
        super().__init__()
        self.class_names = list(class_names)
        self.tasks = [list(t) for t in (tasks or [class_names])]
        unknown = [name for task in self.tasks for name in task if name not in self.class_names]
        if unknown:
            raise ConfigError(f"head.tasks names classes {unknown} that are not in class_names {self.class_names}")
        self.point_cloud_range = list(point_cloud_range)
        self.voxel_size = list(voxel_size)
        self.feature_stride = int(feature_stride)
        self.with_velocity = with_velocity
        self.with_iou = with_iou
        self.with_heading_axis = with_heading_axis
        self.code_size = 8 + 2 * with_velocity + 2 * with_heading_axis
        weights = code_weights if code_weights is not None else [1.0] * self.code_size
        if len(weights) != self.code_size:
            raise ConfigError(f"head.code_weights needs {self.code_size} numbers, got {len(weights)}")
        self.register_buffer("code_weights", torch.tensor(weights, dtype=torch.float32), persistent=False)
        self.loss_weights = {"heatmap": 1.0, "bbox": 2.0, "iou": 1.0, **(loss_weights or {})}
        self.min_overlap = min_overlap
        self.min_radius = min_radius
        self.regression_radius = int(regression_radius)
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        self._check_test_cfg()
        slot = torch.full((len(self.class_names),), -1, dtype=torch.long)
        slot[self._nms_classes()] = torch.arange(len(self._nms_classes()))
        self.register_buffer("nms_slot", slot, persistent=False)  # label -> its place in _nms_classes()
        _, grid_y, grid_x = derive_sparse_shape(point_cloud_range, voxel_size)
        self.map_size = (-(-grid_y // self.feature_stride), -(-grid_x // self.feature_stride))

        self.shared_conv = nn.Sequential(
            nn.Conv2d(in_channels, shared_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(shared_channels),
            nn.ReLU(inplace=True),
        )
        outputs = dict(reg=2, height=1, dim=3, rot=2)
        if with_velocity:
            outputs["vel"] = 2
        if with_heading_axis:
            outputs["axis"] = 2
        if with_iou:
            outputs["iou"] = 1
        self.task_heads = nn.ModuleList()
        for task in self.tasks:
            branches = {"heatmap": len(task), **outputs}
            head = nn.ModuleDict(
                {
                    name: _conv_branch(shared_channels, head_channels, size, num_head_convs, final_kernel)
                    for name, size in branches.items()
                }
            )
            nn.init.constant_(head["heatmap"][-1].bias, HEATMAP_BIAS)
            self.task_heads.append(head)

    def _check_test_cfg(self) -> None:
        """Fail at build time on an unknown NMS type or a per-class list of the wrong length."""
        nms = self.test_cfg["nms"]
        if nms is not None and nms.get("type") not in ("rotate", "circle"):
            raise ConfigError(f"head.test_cfg.nms.type must be 'rotate' or 'circle', got {nms.get('type')!r}")
        per_class = {"iou_rectifier": self.test_cfg["iou_rectifier"]}
        per_class.update({f"nms.{key}": value for key, value in (nms or {}).items() if key != "type"})
        for key, value in per_class.items():
            if isinstance(value, (list, tuple)) and len(value) != len(self.class_names):
                raise ConfigError(
                    f"head.test_cfg.{key} has {len(value)} values but there are {len(self.class_names)} classes"
                )

    # -- forward -----------------------------------------------------------------------------
    def forward(self, bev: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """(B, C, H, W) -> per task a dict of (B, channels, H, W) maps."""
        if tuple(bev.shape[2:]) != self.map_size:
            raise ConfigError(
                f"head: the BEV map is {tuple(bev.shape[2:])} but the grid and head.feature_stride "
                f"({self.feature_stride}) imply {self.map_size}; set feature_stride to the BEV stage's stride"
            )
        shared = self.shared_conv(bev)
        return [{name: branch(shared) for name, branch in head.items()} for head in self.task_heads]

    def _code(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        names = ["reg", "height", "dim", "rot"] + ["vel"] * self.with_velocity + ["axis"] * self.with_heading_axis
        return torch.cat([output[name] for name in names], dim=1)

    def _decode(self, code: torch.Tensor, column: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        grid = (self.point_cloud_range, self.voxel_size, self.feature_stride)
        return decode_codes(code, column, row, *grid, with_heading_axis=self.with_heading_axis)

    def _task_labels(self, task: list[str], labels: torch.Tensor) -> torch.Tensor:
        """Global labels -> index within ``task`` (-1 for classes of other tasks)."""
        lookup = torch.full((len(self.class_names),), -1, dtype=torch.long, device=labels.device)
        for i, name in enumerate(task):
            lookup[self.class_names.index(name)] = i
        return lookup[labels.long()] if labels.numel() else labels.long()

    # -- training ----------------------------------------------------------------------------
    def loss(
        self,
        outputs: list[dict[str, torch.Tensor]],
        gt_boxes: Sequence[torch.Tensor],
        gt_labels: Sequence[torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Focal heatmap loss, weighted L1 box loss and (optionally) IoU loss per task."""
        losses = {}
        for t, (task, output) in enumerate(zip(self.tasks, outputs)):
            heatmap = output["heatmap"]
            _, _, rows, cols = heatmap.shape
            targets = assign_targets(
                gt_boxes,
                [self._task_labels(task, labels) for labels in gt_labels],
                len(task),
                (rows, cols),
                self.point_cloud_range,
                self.voxel_size,
                self.feature_stride,
                with_velocity=self.with_velocity,
                min_overlap=self.min_overlap,
                min_radius=self.min_radius,
                regression_radius=self.regression_radius,
                with_heading_axis=self.with_heading_axis,
            )
            losses[f"loss_heatmap_task{t}"] = self.loss_weights["heatmap"] * gaussian_focal_loss(
                heatmap, targets.heatmap
            )
            code = self._code(output).flatten(2)[targets.batch, :, targets.cell]
            losses[f"loss_bbox_task{t}"] = self.loss_weights["bbox"] * weighted_l1_loss(
                code, targets.code, self.code_weights
            )
            if self.with_iou:
                iou_pred = output["iou"].flatten(2)[targets.batch, 0, targets.cell]
                with torch.no_grad():
                    column, row = targets.cell % cols, targets.cell // cols
                    boxes = self._decode(code.detach().float(), column, row)  # box ops take fp32 (autocast)
                    iou = boxes_iou_aligned(boxes[:, :7], targets.boxes[:, :7], mode="3d")
                iou_target = 2 * iou.clamp(0, 1) - 1
                losses[f"loss_iou_task{t}"] = self.loss_weights["iou"] * weighted_l1_loss(
                    iou_pred[:, None], iou_target[:, None]
                )
        return losses

    # -- inference ---------------------------------------------------------------------------
    def predict(self, outputs: list[dict[str, torch.Tensor]]) -> list[InstanceData]:
        """Decode every sample: top-K cells, boxes, score filtering and rectification per task, then the
        class-wise NMS of every class of every sample in one call."""
        decoded = [self._decode_task(task, output) for task, output in zip(self.tasks, outputs)]
        boxes, scores, labels, valid = (torch.cat(parts, dim=1).flatten(0, 1) for parts in zip(*decoded))
        batch = decoded[0][1].shape[0]
        kept = self._nms(boxes, scores, labels, valid, batch)
        sample_of = kept // (scores.shape[0] // batch)  # non-decreasing: the kept boxes come sample by sample
        bounds = torch.searchsorted(sample_of, torch.arange(batch + 1, device=kept.device)).tolist()
        results = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            sample = kept[start:end]
            order = sample[scores[sample].argsort(descending=True)[: self.test_cfg["max_per_sample"]]]
            result = InstanceData()
            result.bboxes_3d = Boxes3D(boxes[order])
            result.scores_3d = scores[order]
            result.labels_3d = labels[order]
            results.append(result)
        return results

    @staticmethod
    def _per_class(value, label: int) -> float:
        """A test_cfg number given once or per class."""
        return float(value[label]) if isinstance(value, (list, tuple)) else float(value)

    @classmethod
    def _per_class_size(cls, value, label: int) -> int | None:
        return None if value is None else int(cls._per_class(value, label))

    def _decode_task(self, task: list[str], output: dict[str, torch.Tensor]):
        """Top-K cells of one task -> boxes (B, K, 7 or 9), scores, global labels and validity (B, K)."""
        cfg = self.test_cfg
        heat = output["heatmap"].sigmoid()
        batch, num_classes, rows, cols = heat.shape
        k = min(int(cfg["top_k"]), num_classes * rows * cols)
        scores, index = heat.flatten(1).topk(k, dim=1)
        label = index // (rows * cols)
        cell = index % (rows * cols)
        code = self._code(output).flatten(2).gather(2, cell[:, None, :].expand(-1, self.code_size, -1))
        boxes = self._decode(code.transpose(1, 2), cell % cols, cell // cols)
        global_label = torch.tensor([self.class_names.index(n) for n in task], device=heat.device)[label]

        valid = scores >= cfg["score_threshold"]
        if cfg["post_center_range"] is not None:
            limit = torch.tensor(cfg["post_center_range"], device=heat.device, dtype=boxes.dtype)
            centre = boxes[..., :3]
            valid &= ((centre >= limit[:3]) & (centre <= limit[3:])).all(dim=-1)
        if self.with_iou and (cfg["iou_rectifier"] is not None or cfg["iou_power"] is not None):
            iou = ((output["iou"].flatten(2)[:, 0].gather(1, cell) + 1) / 2).clamp(0, 1)
            if cfg["iou_rectifier"] is not None:
                alpha = torch.tensor(cfg["iou_rectifier"], device=heat.device, dtype=scores.dtype)[global_label]
                scores = scores.pow(1 - alpha) * iou.pow(alpha)
            else:
                scores = scores * iou.pow(cfg["iou_power"])
        return boxes, scores, global_label, valid

    def _nms_classes(self) -> list[int]:
        """Labels in the order the kept boxes of a sample come out: task by task, by label within a task."""
        return [label for task in self.tasks for label in sorted(self.class_names.index(n) for n in task)]

    def _nms(self, boxes, scores, labels, valid, batch: int) -> torch.Tensor:
        """Class-wise NMS of the flattened (B * K) candidates, every (sample, class) a group, in one call.

        Returns the kept indices by sample, then class (``_nms_classes`` order), then descending score;
        ``nms=None`` keeps every valid candidate.
        """
        nms = self.test_cfg["nms"]
        if nms is None:
            return valid.nonzero().squeeze(1)
        classes = self._nms_classes()
        sample = torch.arange(batch, device=labels.device).repeat_interleave(labels.shape[0] // batch)
        groups = torch.where(valid, sample * len(classes) + self.nms_slot[labels], -1)

        def per_group(key: str, size: bool = False) -> list:
            value = nms.get(key)
            pick = self._per_class_size if size else self._per_class
            return [pick(value, label) for _ in range(batch) for label in classes]

        if nms["type"] == "rotate":
            return batched_nms_rotated(
                boxes[:, :7], scores, groups, per_group("iou_threshold"),
                pre_max_sizes=per_group("pre_max_size", size=True),
                post_max_sizes=per_group("post_max_size", size=True),
            )  # fmt: skip
        return batched_circle_nms(
            boxes[:, :2], scores, groups, per_group("distance_threshold"),
            post_max_sizes=per_group("post_max_size", size=True),
        )  # fmt: skip
