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
