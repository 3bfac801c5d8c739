"""The training recipes of the published-recipe configs (issue #20): augmentation, its switch-off, the optimizer and
the schedule, the head's training and test settings, as the official configs state them."""

import functools
from pathlib import Path

import pytest
import torch

from voxformer.apis.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DSVT = ["dsvt/dsvt_pillar_waymo.py", "dsvt/dsvt_voxel_waymo.py"]
SCATTERFORMER = "scatterformer/scatterformer_waymo.py"
FLATFORMER = "flatformer/flatformer_waymo.py"
CENTERPOINT = "centerpoint/centerpoint_voxel_waymo.py"


@functools.cache
def _cfg(config: str):
    return load_config(str(ROOT / "configs" / config))


def _transform(config: str, kind: str) -> dict:
    (found,) = [t for t in _cfg(config).train_dataloader.dataset.pipeline if t["type"] == kind]
    return found


@pytest.mark.parametrize(
    ("config", "std"), [(c, 0.5) for c in [*DSVT, SCATTERFORMER]] + [(FLATFORMER, 0.0), (CENTERPOINT, 0.0)]
)
def test_global_translation(config, std):
    assert list(_transform(config, "GlobalRotScaleTrans").get("translation_std", [0.0] * 3)) == [std] * 3


@pytest.mark.parametrize(
    ("config", "min_points"),
    [(c, [5, 10, 10]) for c in [*DSVT, SCATTERFORMER, FLATFORMER]] + [(CENTERPOINT, [5, 5, 5])],
)
def test_gt_sampling_minimum_points(config, min_points):
    assert list(_transform(config, "ObjectSample")["min_points"].values()) == min_points


@pytest.mark.parametrize(
    ("config", "epochs", "kinds"),
    [(c, 1, {"ObjectSample", "RandomFlip3D", "GlobalRotScaleTrans"}) for c in DSVT]
    + [(SCATTERFORMER, 4, {"ObjectSample"})],
)
def test_augmentation_switch_off_names_transforms_of_the_pipeline(config, epochs, kinds):
    (hook,) = [h for h in _cfg(config).custom_hooks if h["type"] == "AugmentationSwitchHook"]
    assert hook["num_last_epochs"] == epochs and set(hook["transforms"]) == kinds
    assert kinds <= {t["type"] for t in _cfg(config).train_dataloader.dataset.pipeline}


@pytest.mark.parametrize(("config", "pct_start"), [(c, 0.1) for c in [*DSVT, SCATTERFORMER]] + [(CENTERPOINT, 0.4)])
def test_adam_onecycle_cycles_beta1_with_the_learning_rate(config, pct_start):
    lr, momentum = _cfg(config).param_scheduler
    assert lr["type"] == "CheckpointableOneCycleLR" and momentum["type"] == "OneCycleMomentum"
    assert lr["pct_start"] == momentum["pct_start"] == pct_start and tuple(momentum["moms"]) == (0.95, 0.85)


def test_centerpoint_schedule():
    cfg = _cfg(CENTERPOINT)
    assert cfg.param_scheduler[0]["div_factor"] == 10 and cfg.optim_wrapper.optimizer.weight_decay == 0.01
    nms = cfg.model.head.test_cfg.nms
    assert nms.class_agnostic and nms.iou_threshold == 0.7
    assert cfg.model.head.test_cfg.post_center_range[2::3] == [-2.0, 4.0]


def test_flatformer_optimizer_keeps_betas_and_skips_decay_on_the_layer_norms():
    from mmengine.optim import build_optim_wrapper

    from voxformer.registry import MODELS

    cfg = _cfg(FLATFORMER)
    assert [s["type"] for s in cfg.param_scheduler] == ["CheckpointableOneCycleLR"]
    assert cfg.param_scheduler[0]["final_div_factor"] == 1e3
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    no_decay = {id(p) for g in wrapper.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    layer_norms = {id(p) for m in model.modules() if isinstance(m, torch.nn.LayerNorm) for p in m.parameters()}
    assert no_decay == layer_norms and len(layer_norms) == 32  # 2 blocks x 4 layers x 2 norms x (weight, bias)
    assert all(tuple(g["betas"]) == (0.9, 0.999) for g in wrapper.param_groups)


@pytest.mark.parametrize("config", [*DSVT, SCATTERFORMER])
def test_dsvt_and_scatterformer_heads_train_a_diou_term_and_keep_500_candidates(config):
    head = _cfg(config).model.head
    assert head.losses.iou_reg.type == "DIoULoss" and head.loss_weights.iou_reg == 2.0
    assert head.test_cfg.top_k == 500


def test_flatformer_head_rectifies_before_its_top_4096():
    head = _cfg(FLATFORMER).model.head
    test = head.test_cfg
    assert test.rectify_before_topk and test.iou_power == 2 and test.top_k == 4096 and test.score_threshold == 0.1
    assert head.iou_target == "unit" and head.min_radius == 1 and head.with_velocity
    assert list(head.code_weights[8:]) == [0.0, 0.0]
