"""The published-recipe heads: official parameter counts, official key layout and forward, BatchNorm options, the
OpenPCDet / mmdet3d decoding options, the DIoU term and class-agnostic NMS; the quick configs keep today's head."""

import functools
from pathlib import Path

import pytest
import torch
from torch import nn

from voxformer.apis.config import load_config
from voxformer.errors import ConfigError
from voxformer.models.conversion import PUBLISHED_CONFIGS, convert_state_dict, random_state_dict, read_listing
from voxformer.models.heads import CenterHead, CenterPointBoxCoder, assign_targets
from voxformer.models.losses import DIoULoss, GaussianFocalLoss, WeightedL1Loss, axis_aligned_diou

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_keys"
ROOT = Path(__file__).resolve().parents[2]
HEAD_PARAMETERS = {  # issue #20; CenterPoint: OpenPCDet centerpoint.yaml built from the official code
    "dsvt_pillar_waymo": 450_188,
    "dsvt_voxel_waymo": 450_188,
    "flatformer_waymo": 414_606,
    "scatterformer_waymo": 302_732,
    "centerpoint_voxel_waymo": 486_731,
}
QUICK = [
    "dsvt/dsvt_synthetic_quick.py",
    "flatformer/flatformer_synthetic_quick.py",
    "scatterformer/scatterformer_synthetic_quick.py",
]
IN_CHANNELS = {"dsvt_pillar_waymo": 384, "dsvt_voxel_waymo": 384, "flatformer_waymo": 256, "scatterformer_waymo": 128,
               "centerpoint_voxel_waymo": 512}  # fmt: skip
BN_EPS = {  # (shared conv, branches) of the official heads: BN_EPS 1e-3 (DSVT, ScatterFormer); mmdet3d's shared
    # naiveSyncBN2d 1e-3 and SeparateHead BN2d 1e-5 (FlatFormer); PyTorch's default (OpenPCDet CenterPoint)
    "dsvt_pillar_waymo": (1e-3, 1e-3), "dsvt_voxel_waymo": (1e-3, 1e-3), "scatterformer_waymo": (1e-3, 1e-3),
    "flatformer_waymo": (1e-3, 1e-5), "centerpoint_voxel_waymo": (1e-5, 1e-5),
}  # fmt: skip
RANGE = [0.0, -6.4, -3.0, 12.8, 6.4, 1.0]
VOXEL = [0.2, 0.2, 4.0]


@functools.cache
def _model_cfg(config: str) -> dict:
    return load_config(str(ROOT / "configs" / config)).model.to_dict()


def _config_head(config: str, in_channels: int | None = None, **overrides) -> CenterHead:
    """The head of a config, built on its own (the detector would inject in_channels and the grid)."""
    model = _model_cfg(config)
    head = {k: v for k, v in model["head"].items() if k != "type"}
    head.setdefault("in_channels", in_channels)
    grid = {k: model["data_preprocessor"][k] for k in ("point_cloud_range", "voxel_size")}
    torch.manual_seed(0)
    return CenterHead(**grid, **{**head, **overrides})


def _published_head(stem: str) -> CenterHead:
    return _config_head(PUBLISHED_CONFIGS[stem][0].removeprefix("configs/"), IN_CHANNELS[stem])


def _head_listing(stem: str):
    return read_listing([FIXTURES / f"{stem}.head.txt"])


def _learnable(entries) -> int:
    return sum(torch.Size(s).numel() for k, s in entries if s is not None and "running_" not in k)


@pytest.mark.parametrize("stem", sorted(HEAD_PARAMETERS))
def test_head_parameter_counts_are_the_official_ones(stem):
    assert _learnable(_head_listing(stem)) == HEAD_PARAMETERS[stem]
    assert sum(p.numel() for p in _published_head(stem).parameters()) == HEAD_PARAMETERS[stem]


class _OfficialLayoutHead(nn.Module):
    """The official heads' structure as their state dicts describe it (for the forward check): a shared conv-BN-ReLU,
    per branch (conv-BN-ReLU) and a final conv, reading the branch weights straight from the official keys."""

    def __init__(self, official: dict, prefix: str, source: str, eps: tuple[float, float]):
        super().__init__()
        self.official, self.prefix, self.source, self.eps = official, prefix, source, eps

    def _conv_bn_relu(self, x, conv, bn, eps, bias=None):
        x = nn.functional.conv2d(x, self.official[f"{conv}.weight"], self.official.get(f"{conv}.bias"), padding=1)
        stats = [self.official[f"{bn}.{n}"] for n in ("running_mean", "running_var", "weight", "bias")]
        return nn.functional.batch_norm(x, *stats, training=False, eps=eps).relu()

    def forward(self, bev, branches):
        p = self.prefix
        shared_names = (
            ("shared_conv.0", "shared_conv.1") if self.source == "openpcdet" else ("shared_conv.conv", "shared_conv.bn")
        )
        x = self._conv_bn_relu(bev, f"{p}.{shared_names[0]}", f"{p}.{shared_names[1]}", self.eps[0])
        outputs = {}
        for name in branches:
            tasks = "heads_list" if self.source == "openpcdet" else "task_heads"
            b = f"{p}.{tasks}.0.{name}"
            hidden = (f"{b}.0.0", f"{b}.0.1") if self.source == "openpcdet" else (f"{b}.0.conv", f"{b}.0.bn")
            y = self._conv_bn_relu(x, *hidden, self.eps[1])
            outputs[name] = nn.functional.conv2d(
                y, self.official[f"{b}.1.weight"], self.official[f"{b}.1.bias"], padding=1
            )
        return outputs


OPENPCDET_NAMES = dict(center="reg", center_z="height", dim="dim", rot="rot", iou="iou", hm="heatmap")


@pytest.mark.parametrize("stem", sorted(HEAD_PARAMETERS))
def test_converted_head_computes_the_official_forward(stem):
    """Random official weights (BN statistics included) through the conversion rules: every raw output equals
    the official layout's, channel for channel (OpenPCDet's rot channels stay (cos, sin))."""
    source = PUBLISHED_CONFIGS[stem][1]
    head = _published_head(stem).eval()
    official = random_state_dict(_head_listing(stem), seed=3)
    for key, value in official.items():
        if "running_var" in key:
            value.abs_().add_(0.5)
    ours = {f"head.{k}": v for k, v in head.state_dict().items()}
    model_cfg = _model_cfg(PUBLISHED_CONFIGS[stem][0].removeprefix("configs/"))
    converted = convert_state_dict(official, ours, model_cfg, source)
    head.load_state_dict({k.removeprefix("head."): v for k, v in converted.items()}, strict=True)
    names = OPENPCDET_NAMES if source == "openpcdet" else {n: n for n in head.task_heads[0]}
    names = {theirs: mine for theirs, mine in names.items() if mine in head.task_heads[0]}
    eps = BN_EPS[stem]
    prefix = "dense_head" if source == "openpcdet" else "bbox_head"
    bev = torch.randn(1, IN_CHANNELS[stem], 16, 16) * 0.1
    reference = _OfficialLayoutHead(official, prefix, source, eps)(bev, names)
    with torch.no_grad():
        shared = head.shared_conv(bev)
        mine = {name: branch(shared) for name, branch in head.task_heads[0].items()}
    assert list(head.task_heads[0]) == list(names.values())  # the official branch order, heatmap last
    for theirs, name in names.items():
        torch.testing.assert_close(mine[name], reference[theirs], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("stem", "shared", "branch", "bias"),
    [
        ("dsvt_pillar_waymo", (1e-3, 0.01), (1e-3, 0.01), False),
        ("scatterformer_waymo", (1e-3, 0.01), (1e-3, 0.01), False),
        ("flatformer_waymo", (1e-3, 0.01), (1e-5, 0.1), False),
        ("centerpoint_voxel_waymo", (1e-5, 0.1), (1e-5, 0.1), True),
    ],
)
def test_head_batchnorm_and_conv_bias_follow_the_official_configs(stem, shared, branch, bias):
    head = _published_head(stem)
    assert (head.shared_conv[1].eps, head.shared_conv[1].momentum) == pytest.approx(shared)
    for branches in head.task_heads:
        for layers in branches.values():
            assert (layers[1].eps, layers[1].momentum) == pytest.approx(branch)
            assert (layers[0].bias is not None) == bias
    assert (head.shared_conv[0].bias is not None) == bias


# the quick DSVT trains 1 - DIoU of its boxes as DSVT's published recipe does (docs/configs.md)
QUICK_LOSS_TERMS = {"dsvt/dsvt_synthetic_quick.py": {"heatmap", "bbox", "iou", "iou_reg"}}


@pytest.mark.parametrize("config", QUICK)
def test_quick_configs_keep_todays_head(config):
    from voxformer.registry import MODELS

    head = MODELS.build(load_config(str(ROOT / "configs" / config)).model).head
    assert next(iter(head.task_heads[0])) == "heatmap" and head.coder.rot_order == "sin_cos"
    assert set(head.loss_terms) == QUICK_LOSS_TERMS.get(config, {"heatmap", "bbox", "iou"})
    assert head.iou_target == "signed"
    assert head.shared_conv[1].eps == 1e-5 and head.shared_conv[0].bias is None
    assert not head.test_cfg["rectify_before_topk"] and not head._class_agnostic()


def test_openpcdet_rot_order_flips_onto_a_sin_cos_head():
    """An OpenPCDet checkpoint into a head whose coder keeps (sin, cos): the final rot conv is flipped."""
    stem = "dsvt_pillar_waymo"
    head = _config_head("dsvt/dsvt_pillar_waymo.py", 384, box_coder=dict(rot_order="sin_cos"))
    model_cfg = {**_model_cfg("dsvt/dsvt_pillar_waymo.py")}
    model_cfg["head"] = {**model_cfg["head"], "box_coder": dict(rot_order="sin_cos")}
    official = random_state_dict(_head_listing(stem))
    converted = convert_state_dict(
        official, {f"head.{k}": v for k, v in head.state_dict().items()}, model_cfg, "openpcdet"
    )
    weight = official["dense_head.heads_list.0.rot.1.weight"]
    assert torch.equal(converted["head.task_heads.0.rot.3.weight"], weight.flip(0))
    assert torch.equal(converted["head.task_heads.0.reg.3.weight"], official["dense_head.heads_list.0.center.1.weight"])


@pytest.mark.parametrize("rot_order", ["sin_cos", "cos_sin"])
def test_box_coder_round_trip_and_channel_order(rot_order):
    coder = CenterPointBoxCoder(RANGE, VOXEL, 2, rot_order=rot_order)
    boxes = torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4], [9.0, -4.0, -0.8, 0.8, 0.6, 1.7, -2.5]])
    column, row = (t.floor().long() for t in coder.cell_coordinates(boxes[:, :2]))
    code = coder.encode(boxes, column, row)
    sin_channel = 6 if rot_order == "sin_cos" else 7
    torch.testing.assert_close(code[:, sin_channel], boxes[:, 6].sin())
    torch.testing.assert_close(coder.decode(code, column, row), boxes, rtol=1e-5, atol=1e-5)
    assert coder.slices["rot"] == slice(6, 8) and coder.code_size == 8
    with pytest.raises(ConfigError, match="rot_order"):
        CenterPointBoxCoder(RANGE, VOXEL, rot_order="cos")


def test_missing_velocities_encode_as_zero_only_when_asked():
    boxes = torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4]])
    with pytest.raises(ValueError, match="velocity"):
        assign_targets(
            [boxes], [torch.tensor([0])], 1, (32, 32), CenterPointBoxCoder(RANGE, VOXEL, 2, with_velocity=True)
        )
    coder = CenterPointBoxCoder(RANGE, VOXEL, 2, with_velocity=True, zero_missing_velocity=True)
    targets = assign_targets([boxes], [torch.tensor([0])], 1, (32, 32), coder)
    assert targets.code.shape == (1, 10) and torch.equal(targets.code[:, 8:], torch.zeros(1, 2))


def _small_head(**kwargs):
    defaults = dict(in_channels=4, class_names=["Car", "Pedestrian"], point_cloud_range=RANGE, voxel_size=VOXEL,
                    feature_stride=2, shared_channels=4, head_channels=4, with_iou=True)  # fmt: skip
    return CenterHead(**{**defaults, **kwargs})


def _outputs_with_two_peaks(head):
    """Two car cells: A with heat 0.9 and IoU 0.1, B with heat 0.8 and IoU 0.9 (as the head reads its IoU map)."""
    outputs = head(torch.zeros(1, 4, 32, 32))
    with torch.no_grad():
        for name in outputs[0]:
            outputs[0][name].zero_()
        heat, iou = outputs[0]["heatmap"], outputs[0]["iou"]
        heat.fill_(-20.0)
        heat[0, 0, 5, 5], heat[0, 0, 20, 20] = torch.logit(torch.tensor(0.9)), torch.logit(torch.tensor(0.8))
        raw = (lambda v: 2 * v - 1) if head.iou_target == "signed" else (lambda v: v)
        iou[0, 0, 5, 5], iou[0, 0, 20, 20] = raw(0.1), raw(0.9)
    return outputs


@pytest.mark.parametrize("iou_target", ["signed", "unit"])
def test_rectification_before_the_top_k_picks_the_rectified_best(iou_target):
    cfg = dict(top_k=1, score_threshold=0.0, iou_power=2, nms=None)
    after = _small_head(iou_target=iou_target, test_cfg=cfg)
    before = _small_head(iou_target=iou_target, test_cfg=dict(cfg, rectify_before_topk=True))
    _, after_score, _, _ = after._decode_task(after.tasks[0], _outputs_with_two_peaks(after)[0])
    boxes, before_score, _, _ = before._decode_task(before.tasks[0], _outputs_with_two_peaks(before)[0])
    torch.testing.assert_close(after_score, torch.tensor([[0.9 * 0.1**2]]))
    torch.testing.assert_close(before_score, torch.tensor([[0.8 * 0.9**2]]))
    torch.testing.assert_close(boxes[0, 0, :2], torch.tensor([20 * 0.4, 20 * 0.4 - 6.4]))  # cell B's corner


def test_rectified_score_threshold_applies_before_the_top_k_only_when_rectifying_there():
    cfg = dict(top_k=2, score_threshold=0.5, iou_power=2, nms=None)
    after = _small_head(test_cfg=cfg)
    before = _small_head(test_cfg=dict(cfg, rectify_before_topk=True))
    assert after._decode_task(after.tasks[0], _outputs_with_two_peaks(after)[0])[3].tolist() == [[True, True]]
    assert before._decode_task(before.tasks[0], _outputs_with_two_peaks(before)[0])[3].tolist() == [[True, False]]


@pytest.mark.parametrize(("iou_target", "expected"), [("unit", 0.0), ("signed", 0.5)])
def test_iou_target_range(iou_target, expected):
    """Perfect boxes but half as long: IoU 0.5; an IoU output of 0.5 is exact for [0, 1] targets, 0.5 off for
    [-1, 1] ones (target 0)."""
    head = _small_head(iou_target=iou_target, class_names=["Car"])
    boxes = [torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4]])]
    targets = assign_targets(boxes, [torch.tensor([0])], 1, (32, 32), head.coder)
    outputs = head(torch.zeros(1, 4, 32, 32))
    code = torch.zeros(1, head.code_size, 32 * 32)
    code[0, :, targets.cell] = targets.code.T
    code[0, 3, targets.cell] -= torch.log(torch.tensor(2.0))
    maps = code.view(1, head.code_size, 32, 32).split(list(head.coder.layout.values()), dim=1)
    outputs[0].update(dict(zip(head.coder.layout, maps)), iou=torch.full((1, 1, 32, 32), 0.5))
    loss = head.loss(outputs, boxes, [torch.tensor([0])])["loss_iou_task0"]
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_diou_matches_hand_computed_values():
    box = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]])
    assert axis_aligned_diou(box, box).item() == pytest.approx(1.0)
    shifted = box.clone()
    shifted[0, 0] = 1.0  # overlap 1 x 2 x 2 = 4, union 12, centre distance 1, enclosing diagonal^2 9 + 4 + 4
    assert axis_aligned_diou(shifted, box).item() == pytest.approx(4 / 12 - 1 / 17)
    turned = box.clone()
    turned[0, 6] = 0.7  # yaw is not used (OpenPCDet's bbox3d_overlaps_diou)
    assert axis_aligned_diou(turned, box).item() == pytest.approx(1.0)
    far = box.clone()
    far[0, 0] = 100.0
    loss = DIoULoss()(torch.cat([shifted, far]), torch.cat([box, box]))
    assert loss.item() == pytest.approx(((1 - (4 / 12 - 1 / 17)) + (1 - (0 - 100**2 / (102**2 + 4 + 4)))) / 2)
    assert DIoULoss()(box[:0], box[:0]).item() == 0


def test_diou_term_trains_the_box_branches():
    head = _small_head(losses=dict(iou_reg=dict(type="DIoULoss")), loss_weights=dict(iou_reg=2.0))
    boxes = [torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4]])]
    torch.manual_seed(0)
    losses = head.loss(head(torch.randn(1, 4, 32, 32)), boxes, [torch.tensor([0])])
    assert set(losses) == {"loss_heatmap_task0", "loss_bbox_task0", "loss_iou_task0", "loss_iou_reg_task0"}
    losses["loss_iou_reg_task0"].backward()
    branches = head.task_heads[0]
    for name in ("reg", "height", "dim"):
        assert branches[name][-1].weight.grad.abs().sum() > 0, name
    assert branches["heatmap"][-1].weight.grad is None or branches["heatmap"][-1].weight.grad.abs().sum() == 0


def test_losses_come_from_the_registry():
    head = _small_head(losses=dict(heatmap=dict(type="GaussianFocalLoss", alpha=3.0)))
    assert isinstance(head.loss_terms["heatmap"], GaussianFocalLoss) and head.loss_terms["heatmap"].alpha == 3.0
    assert isinstance(head.loss_terms["bbox"], WeightedL1Loss) and "iou_reg" not in head.loss_terms
    with pytest.raises(ConfigError, match="unknown terms"):
        _small_head(losses=dict(box=dict(type="WeightedL1Loss")))
    with pytest.raises(ConfigError, match="GaussianFocalLos"):
        _small_head(losses=dict(heatmap=dict(type="GaussianFocalLos")))


def test_class_agnostic_nms_suppresses_across_classes():
    nms = dict(type="rotate", iou_threshold=0.5)
    outputs_for = {}
    for agnostic in (False, True):
        head = _small_head(with_iou=False, test_cfg=dict(nms=dict(nms, class_agnostic=agnostic), score_threshold=0.5))
        outputs = head(torch.zeros(1, 4, 32, 32))
        with torch.no_grad():
            outputs[0]["heatmap"].fill_(-12.0)
            outputs[0]["heatmap"][0, 0, 10, 10] = 12.0  # a car and a pedestrian on the same cell, same box
            outputs[0]["heatmap"][0, 1, 10, 10] = 11.0
            outputs[0]["dim"].fill_(1.0)
        outputs_for[agnostic] = head.predict(outputs)[0]
    assert sorted(outputs_for[False].labels_3d.tolist()) == [0, 1]
    assert outputs_for[True].labels_3d.tolist() == [0]
    with pytest.raises(ConfigError, match="class-agnostic"):
        _small_head(test_cfg=dict(nms=dict(type="rotate", iou_threshold=[0.5, 0.6], class_agnostic=True)))


def test_unknown_iou_target_is_a_config_error():
    with pytest.raises(ConfigError, match="iou_target"):
        _small_head(iou_target="percent")
