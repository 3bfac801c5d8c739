from pathlib import Path

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.optim.scheduler import OneCycleLR

from voxformer.engine.safe_checkpoint import load_checkpoint_file
from voxformer.engine.schedulers import CheckpointableOneCycleLR


def _scheduler(cls):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = OptimWrapper(torch.optim.AdamW([parameter], lr=0.01))
    return cls(optimizer, eta_max=0.01, total_steps=20, by_epoch=False), optimizer


def test_state_survives_a_weights_only_round_trip(tmp_path):
    scheduler, optimizer = _scheduler(CheckpointableOneCycleLR)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    torch.save({"param_schedulers": [scheduler.state_dict()]}, tmp_path / "ck.pth")
    state = load_checkpoint_file(tmp_path / "ck.pth")["param_schedulers"][0]
    resumed, resumed_optimizer = _scheduler(CheckpointableOneCycleLR)
    resumed.load_state_dict(state)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        resumed_optimizer.step()
        resumed.step()
    assert resumed_optimizer.get_lr()["lr"] == optimizer.get_lr()["lr"]


def test_same_schedule_as_mmengine():
    ours, ours_optimizer = _scheduler(CheckpointableOneCycleLR)
    theirs, their_optimizer = _scheduler(OneCycleLR)
    for _ in range(19):
        ours_optimizer.step()
        ours.step()
        their_optimizer.step()
        theirs.step()
        assert ours_optimizer.get_lr()["lr"] == their_optimizer.get_lr()["lr"]
    assert "anneal_func" in theirs.state_dict() and "anneal_func" not in ours.state_dict()


def test_peak_defaults_to_the_optimizer_learning_rate():
    scheduler, optimizer = _scheduler(CheckpointableOneCycleLR)
    default, default_optimizer = _scheduler(lambda opt, eta_max, **kw: CheckpointableOneCycleLR(opt, **kw))
    for _ in range(19):
        for opt, sched in ((optimizer, scheduler), (default_optimizer, default)):
            opt.step()
            sched.step()
        assert default_optimizer.get_lr()["lr"] == optimizer.get_lr()["lr"]


CONFIGS = sorted(
    p for p in (Path(__file__).resolve().parents[2] / "configs").glob("*/*.py") if p.parent.name != "_base_"
)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_config_schedule_survives_a_weights_only_round_trip(config, tmp_path):
    """A schedule whose state pickles anything but plain data would make the config's checkpoints unloadable."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from voxformer.registry import PARAM_SCHEDULERS

    init_default_scope("voxformer")
    cfg = Config.fromfile(str(config))
    optimizer = OptimWrapper(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.optim_wrapper.optimizer.lr))
    states = []
    for scheduler_cfg in cfg.param_scheduler:
        scheduler_cfg = {"end": cfg.train_cfg.max_epochs, **scheduler_cfg}
        states.append(
            PARAM_SCHEDULERS.build(scheduler_cfg, default_args=dict(optimizer=optimizer, epoch_length=10)).state_dict()
        )
    torch.save({"param_schedulers": states}, tmp_path / "ck.pth")
    assert len(load_checkpoint_file(tmp_path / "ck.pth")["param_schedulers"]) == len(cfg.param_scheduler)


def _one_cycle_pair(pct_start=0.3, total_steps=20):
    from voxformer.engine.schedulers import OneCycleMomentum

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = OptimWrapper(torch.optim.AdamW([parameter], lr=0.01, betas=(0.9, 0.99)))
    lr = CheckpointableOneCycleLR(optimizer, total_steps=total_steps, pct_start=pct_start, by_epoch=False)
    momentum = OneCycleMomentum(
        optimizer, moms=(0.95, 0.85), pct_start=pct_start, total_steps=total_steps, by_epoch=False
    )
    return optimizer, lr, momentum


def test_one_cycle_momentum_cycles_adam_beta1_against_the_learning_rate():
    """OpenPCDet's adam_onecycle: beta1 0.95 -> 0.85 while the LR rises, back to 0.95 while it falls; beta2 kept."""
    optimizer, lr, momentum = _one_cycle_pair()
    lrs, beta1s = [], []
    for _ in range(20):
        group = optimizer.param_groups[0]
        lrs.append(group["lr"])
        beta1s.append(group["betas"][0])
        assert group["betas"][1] == 0.99
        optimizer.step()
        lr.step()
        momentum.step()
    peak = lrs.index(max(lrs))
    assert beta1s.index(min(beta1s)) == peak and min(beta1s) == pytest.approx(0.85)
    assert beta1s[0] == pytest.approx(0.95) and beta1s[-1] == pytest.approx(0.95, abs=1e-3)
    assert all(a > b for a, b in zip(beta1s[:peak], beta1s[1 : peak + 1]))  # falls while the LR rises
    assert all(a < b for a, b in zip(beta1s[peak:-1], beta1s[peak + 1 :]))  # rises while it falls


def test_one_cycle_momentum_state_survives_a_weights_only_round_trip(tmp_path):
    optimizer, lr, momentum = _one_cycle_pair()
    for _ in range(7):
        optimizer.step()
        lr.step()
        momentum.step()
    torch.save({"param_schedulers": [momentum.state_dict()]}, tmp_path / "ck.pth")
    state = load_checkpoint_file(tmp_path / "ck.pth")["param_schedulers"][0]
    resumed_optimizer, resumed_lr, resumed = _one_cycle_pair()
    resumed.load_state_dict(state)
    for _ in range(5):
        for opt, sched in ((optimizer, momentum), (resumed_optimizer, resumed)):
            opt.step()
            sched.step()
    assert resumed_optimizer.param_groups[0]["betas"] == optimizer.param_groups[0]["betas"]


def test_one_cycle_momentum_rejects_bad_settings():
    from voxformer.engine.schedulers import OneCycleMomentum
    from voxformer.errors import ConfigError

    optimizer = OptimWrapper(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.01))
    with pytest.raises(ConfigError, match="moms"):
        OneCycleMomentum(optimizer, moms=(0.95,), total_steps=10, by_epoch=False)
    with pytest.raises(ConfigError, match="pct_start"):
        OneCycleMomentum(optimizer, pct_start=1.5, total_steps=10, by_epoch=False)
