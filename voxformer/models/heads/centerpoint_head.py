"""CenterPoint head: class heatmaps + per-cell box regression, losses from the registry, top-K decoding, NMS.

The regression branches and their channel order are those of
:class:`~voxformer.models.heads.box_coder.CenterPointBoxCoder` (``reg``, ``height``, ``dim``, ``rot``, optional
``vel`` and ``axis``), plus the optional ``iou`` branch: the predicted IoU of the cell's box with its ground
truth, in [-1, 1] (``iou_target="signed"``, OpenPCDet: the target is 2 IoU - 1) or in [0, 1] (``"unit"``,
mmdet3d).

Each branch is ``num_head_convs - 1`` times (3 x 3 conv, BatchNorm, ReLU) and a final conv; its ``nn.Sequential``
indices are 0, 1, 2 for the first (conv, norm, ReLU) triple, 3, 4, 5 for the next, and ``3 (num_head_convs - 1)``
for the final conv.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.structures import InstanceData
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import batched_circle_nms, batched_nms_rotated, boxes_iou_aligned
from voxformer.registry import MODELS
from voxformer.structures import Boxes3D, derive_sparse_shape

from .box_coder import CenterPointBoxCoder
from .targets import assign_targets

HEATMAP_BIAS = -2.19  # sigmoid(-2.19) ~ 0.1: the CenterNet prior for rare positives

DEFAULT_TEST_CFG = dict(
    top_k=500,
    score_threshold=0.1,
    post_center_range=None,
    nms=dict(type="rotate", iou_threshold=0.7, pre_max_size=4096, post_max_size=500),
    iou_rectifier=None,
    iou_power=None,
    rectify_before_topk=False,
    max_per_sample=500,
)
DEFAULT_LOSSES = dict(
    heatmap=dict(type="GaussianFocalLoss"),
    bbox=dict(type="WeightedL1Loss"),
    iou=dict(type="WeightedL1Loss"),
    iou_reg=None,
)
IOU_TARGETS = ("signed", "unit")


def _conv_branch(
    in_channels: int, mid_channels: int, out_channels: int, num_convs: int, kernel: int, bias: bool, norm: dict
) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(num_convs - 1):
        layers += [
            nn.Conv2d(channels, mid_channels, 3, padding=1, bias=bias),
            nn.BatchNorm2d(mid_channels, **norm),
            nn.ReLU(inplace=True),
        ]
        channels = mid_channels
    layers.append(nn.Conv2d(channels, out_channels, kernel, padding=kernel // 2))
    return nn.Sequential(*layers)


@MODELS.register_module()
class CenterHead(nn.Module):
    """CenterPoint head over a dense BEV map (B, C, H, W) with one or more task groups.

    Args:
        in_channels: channels of the BEV map (injected by :class:`VoxelDetector` from the module before).
        class_names: all classes, in label order.
        tasks: class names per task group (each group gets its own heatmap); default one group of all.
        feature_stride: BEV stride of the input map in voxels (1 = one cell per voxel column).
        point_cloud_range, voxel_size: the detector's grid (injected by :class:`VoxelDetector`).
        with_velocity, with_iou: add the (vx, vy) and IoU branches.
        with_heading_axis: add the (sin 2 yaw, cos 2 yaw) branch; yaw is decoded from it (see the box coder).
        box_coder: further :class:`CenterPointBoxCoder` options (``rot_order``, ``zero_missing_velocity``).
        norm_cfg: BatchNorm options (``eps``, ``momentum``) of the shared conv and, unless
            ``branch_norm_cfg`` is given, of the branches; default PyTorch's.
        conv_bias: biases on the convs followed by a BatchNorm (OpenPCDet's ``USE_BIAS_BEFORE_NORM``).
        heatmap_last: build the heatmap branch after the regression branches (the official module order;
            it changes the state-dict order and the random initialisation, not the function).
        code_weights: weight of each regression code (8, plus 2 with velocities, plus 2 with the axis).
        losses: loss configs (built from ``voxformer.registry.MODELS``) per term: ``heatmap``, ``bbox``,
            ``iou`` and ``iou_reg`` (a loss on the decoded boxes, e.g. ``DIoULoss``; ``None`` = no such term).
        loss_weights: ``heatmap``, ``bbox``, ``iou`` and ``iou_reg`` multipliers.
        iou_target: ``"signed"`` (IoU branch trained towards 2 IoU - 1) or ``"unit"`` (towards IoU).
        min_overlap, min_radius: heatmap Gaussian radius (CornerNet overlap, smallest radius in cells).
        regression_radius: r > 0 also trains the box and IoU branches at the (2r+1)^2 cells around each
            centre (more regression samples per object; 0 = the centre cell only, as CenterPoint).
        test_cfg: decoding and NMS settings (see ``DEFAULT_TEST_CFG``); ``nms.iou_threshold`` (rotate) or
            ``nms.distance_threshold`` (circle, metres) may be one number or one per class;
            ``pre_max_size``/``post_max_size`` likewise; ``nms.class_agnostic`` suppresses across the classes
            of a task (one number per setting then); ``iou_rectifier`` (one alpha per class) rescales
            scores to score^(1-a) * iou^a (DSVT), ``iou_power`` p to score * iou^p (FlatFormer);
            ``rectify_before_topk`` rescales the whole heatmap before the top-K cells are taken (FlatFormer)
            instead of the top-K scores.
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
        box_coder: dict | None = None,
        norm_cfg: dict | None = None,
        branch_norm_cfg: dict | None = None,
        conv_bias: bool = False,
        heatmap_last: bool = False,
        code_weights: Sequence[float] | None = None,
        losses: dict | None = None,
        loss_weights: dict | None = None,
        iou_target: str = "signed",
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
        self.coder = CenterPointBoxCoder(
            point_cloud_range, voxel_size, self.feature_stride, with_velocity, with_heading_axis, **(box_coder or {})
        )
        self.code_size = self.coder.code_size
        weights = code_weights if code_weights is not None else [1.0] * self.code_size
        if len(weights) != self.code_size:
            raise ConfigError(f"head.code_weights needs {self.code_size} numbers, got {len(weights)}")
        self.register_buffer("code_weights", torch.tensor(weights, dtype=torch.float32), persistent=False)
        if iou_target not in IOU_TARGETS:
            raise ConfigError(f"head.iou_target must be one of {IOU_TARGETS}, got {iou_target!r}")
        self.iou_target = iou_target
        self.loss_terms = self._build_losses({**DEFAULT_LOSSES, **(losses or {})})
        self.loss_weights = {"heatmap": 1.0, "bbox": 2.0, "iou": 1.0, "iou_reg": 2.0, **(loss_weights or {})}
        self.min_overlap = min_overlap
        self.min_radius = min_radius
        self.regression_radius = int(regression_radius)
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        self._check_test_cfg()
        slot = torch.tensor(self._nms_slots()[0], dtype=torch.long)
        self.register_buffer("nms_slot", slot, persistent=False)  # label -> its NMS group within a sample
        _, grid_y, grid_x = derive_sparse_shape(point_cloud_range, voxel_size)
        self.map_size = (-(-grid_y // self.feature_stride), -(-grid_x // self.feature_stride))

        norm = dict(norm_cfg or {})
        branch_norm = dict(branch_norm_cfg) if branch_norm_cfg is not None else norm
        self.shared_conv = nn.Sequential(
            nn.Conv2d(in_channels, shared_channels, 3, padding=1, bias=conv_bias),
            nn.BatchNorm2d(shared_channels, **norm),
            nn.ReLU(inplace=True),
        )
        outputs = dict(self.coder.layout)
        if with_iou:
            outputs["iou"] = 1
        self.task_heads = nn.ModuleList()
        for task in self.tasks:
            branches = {**outputs, "heatmap": len(task)} if heatmap_last else {"heatmap": len(task), **outputs}
            head = nn.ModuleDict(
                {
                    name: _conv_branch(
                        shared_channels, head_channels, size, num_head_convs, final_kernel, conv_bias, branch_norm
                    )
                    for name, size in branches.items()
                }
            )
            nn.init.constant_(head["heatmap"][-1].bias, HEATMAP_BIAS)
            self.task_heads.append(head)

    @staticmethod
    def _build_losses(configs: dict) -> nn.ModuleDict:
        unknown = sorted(set(configs) - set(DEFAULT_LOSSES))
        if unknown:
            raise ConfigError(f"head.losses has unknown terms {unknown}; the terms are {sorted(DEFAULT_LOSSES)}")
        return nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in configs.items() if cfg is not None})

    def _check_test_cfg(self) -> None:
        """Fail at build time on an unknown NMS type or a per-class list of the wrong length."""
        nms = self.test_cfg["nms"]
        if nms is not None and nms.get("type") not in ("rotate", "circle"):
            raise ConfigError(f"head.test_cfg.nms.type must be 'rotate' or 'circle', got {nms.get('type')!r}")
        flags = ("type", "class_agnostic")
        nms_settings = {f"nms.{key}": value for key, value in (nms or {}).items() if key not in flags}
        for key, value in {"iou_rectifier": self.test_cfg["iou_rectifier"], **nms_settings}.items():
            if not isinstance(value, (list, tuple)):
                continue
            if key in nms_settings and self._class_agnostic():
                raise ConfigError(f"head.test_cfg.{key}: class-agnostic NMS takes one number, got {list(value)}")
            if len(value) != len(self.class_names):
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

    def _task_labels(self, task: list[str], labels: torch.Tensor) -> torch.Tensor:
        """Global labels -> index within ``task`` (-1 for classes of other tasks)."""
        lookup = torch.full((len(self.class_names),), -1, dtype=torch.long, device=labels.device)
        for i, name in enumerate(task):
            lookup[self.class_names.index(name)] = i
        return lookup[labels.long()] if labels.numel() else labels.long()

    def _iou_of_prediction(self, prediction: torch.Tensor) -> torch.Tensor:
        """The IoU branch's raw output -> predicted IoU in [0, 1]."""
        iou = (prediction + 1) / 2 if self.iou_target == "signed" else prediction
        return iou.clamp(0, 1)

    # -- training ----------------------------------------------------------------------------
    def loss(
        self,
        outputs: list[dict[str, torch.Tensor]],
        gt_boxes: Sequence[torch.Tensor],
        gt_labels: Sequence[torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Heatmap loss, weighted box-code loss and, when configured, IoU-prediction and decoded-box losses per task."""
        losses = {}
        for t, (task, output) in enumerate(zip(self.tasks, outputs)):
            heatmap = output["heatmap"]
            _, _, rows, cols = heatmap.shape
            targets = assign_targets(
                gt_boxes,
                [self._task_labels(task, labels) for labels in gt_labels],
                len(task),
                (rows, cols),
                self.coder,
                min_overlap=self.min_overlap,
                min_radius=self.min_radius,
                regression_radius=self.regression_radius,
            )
            terms, weights = self.loss_terms, self.loss_weights
            losses[f"loss_heatmap_task{t}"] = weights["heatmap"] * terms["heatmap"](heatmap, targets.heatmap)
            code = self.coder.code_from_outputs(output).flatten(2)[targets.batch, :, targets.cell]
            losses[f"loss_bbox_task{t}"] = weights["bbox"] * terms["bbox"](code, targets.code, self.code_weights)
            column, row = targets.cell % cols, targets.cell // cols
            if self.with_iou and "iou" in terms:
                iou_pred = output["iou"].flatten(2)[targets.batch, 0, targets.cell]
                with torch.no_grad():
                    boxes = self.coder.decode(code.detach().float(), column, row)  # box ops take fp32 (autocast)
                    iou = boxes_iou_aligned(boxes[:, :7], targets.boxes[:, :7], mode="3d").clamp(0, 1)
                iou_target = 2 * iou - 1 if self.iou_target == "signed" else iou
                losses[f"loss_iou_task{t}"] = self.loss_weights["iou"] * terms["iou"](
                    iou_pred[:, None], iou_target[:, None]
                )
            if "iou_reg" in terms:
                boxes = self.coder.decode(code.float(), column, row)
                losses[f"loss_iou_reg_task{t}"] = self.loss_weights["iou_reg"] * terms["iou_reg"](
                    boxes[:, :7], targets.boxes[:, :7]
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

    def _rectify(self, scores: torch.Tensor, iou: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Scores rescaled by the predicted IoU (``iou_rectifier`` or ``iou_power``); ``labels`` (global)
        broadcast against ``scores``."""
        rectifier = self.test_cfg["iou_rectifier"]
        if rectifier is not None:
            alpha = torch.tensor(rectifier, device=scores.device, dtype=scores.dtype)[labels]
            return scores.pow(1 - alpha) * iou.pow(alpha)
        return scores * iou.pow(self.test_cfg["iou_power"])

    def _decode_task(self, task: list[str], output: dict[str, torch.Tensor]):
        """Top-K cells of one task -> boxes (B, K, 7 or 9), scores, global labels and validity (B, K)."""
        cfg = self.test_cfg
        heat = output["heatmap"].sigmoid()
        batch, num_classes, rows, cols = heat.shape
        task_labels = torch.tensor([self.class_names.index(n) for n in task], device=heat.device)
        rectify = self.with_iou and (cfg["iou_rectifier"] is not None or cfg["iou_power"] is not None)
        if rectify and cfg["rectify_before_topk"]:
            heat = self._rectify(heat, self._iou_of_prediction(output["iou"]), task_labels[None, :, None, None])
        k = min(int(cfg["top_k"]), num_classes * rows * cols)
        scores, index = heat.flatten(1).topk(k, dim=1)
        label = index // (rows * cols)
        cell = index % (rows * cols)
        code = self.coder.code_from_outputs(output).flatten(2)
        code = code.gather(2, cell[:, None, :].expand(-1, self.code_size, -1))
        boxes = self.coder.decode(code.transpose(1, 2), cell % cols, cell // cols)
        global_label = task_labels[label]

        valid = scores >= cfg["score_threshold"]  # on the heatmap score (rectified only before the top-K)
        if cfg["post_center_range"] is not None:
            limit = torch.tensor(cfg["post_center_range"], device=heat.device, dtype=boxes.dtype)
            centre = boxes[..., :3]
            valid &= ((centre >= limit[:3]) & (centre <= limit[3:])).all(dim=-1)
        if rectify and not cfg["rectify_before_topk"]:
            iou = self._iou_of_prediction(output["iou"].flatten(2)[:, 0].gather(1, cell))
            scores = self._rectify(scores, iou, global_label)
        return boxes, scores, global_label, valid

    def _nms_classes(self) -> list[int]:
        """Labels in the order the kept boxes of a sample come out: task by task, by label within a task."""
        return [label for task in self.tasks for label in sorted(self.class_names.index(n) for n in task)]

    def _class_agnostic(self) -> bool:
        return bool((self.test_cfg["nms"] or {}).get("class_agnostic", False))

    def _nms_slots(self) -> tuple[list[int], list[int]]:
        """NMS groups of a sample: the slot of each label (in label order) and one label standing for each slot.

        Class-wise NMS has one slot per class (``_nms_classes`` order); class-agnostic NMS one per task.
        """
        classes = self._nms_classes()
        slot_of = [0] * len(self.class_names)
        if self._class_agnostic():
            for t, task in enumerate(self.tasks):
                for name in task:
                    slot_of[self.class_names.index(name)] = t
            return slot_of, [self.class_names.index(task[0]) for task in self.tasks]
        for i, label in enumerate(classes):
            slot_of[label] = i
        return slot_of, classes

    def _nms(self, boxes, scores, labels, valid, batch: int) -> torch.Tensor:
        """NMS of the flattened (B * K) candidates, every (sample, NMS slot) a group, in one call.

        Returns the kept indices by sample, then slot (``_nms_slots``), then descending score; ``nms=None``
        keeps every valid candidate.
        """
        nms = self.test_cfg["nms"]
        if nms is None:
            return valid.nonzero().squeeze(1)
        slot_labels = self._nms_slots()[1]
        sample = torch.arange(batch, device=labels.device).repeat_interleave(labels.shape[0] // batch)
        groups = torch.where(valid, sample * len(slot_labels) + self.nms_slot[labels], -1)

        def per_group(key: str, size: bool = False) -> list:
            value = nms.get(key)
            pick = self._per_class_size if size else self._per_class
            return [pick(value, label) for _ in range(batch) for label in slot_labels]

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
