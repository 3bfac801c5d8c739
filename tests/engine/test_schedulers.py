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
