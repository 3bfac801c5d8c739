"""Two processes train with DDP over gloo on the CPU through tools/dist_train.sh; weights stay in sync."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from voxformer.engine.safe_checkpoint import load_checkpoint_file

from .conftest import CONFIG, data_options

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

PLUGIN = '''
import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpWeightsPerRank(Hook):
    def after_run(self, runner):
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        weights = {name: p.detach() for name, p in model.named_parameters()}  # BN statistics stay per rank
        torch.save(weights, f"{runner.work_dir}/weights_rank{dist.get_rank()}.pth")
'''


def test_two_ranks_end_with_equal_weights(synthetic_root, tmp_path):
    (tmp_path / "dump_weights_plugin.py").write_text(PLUGIN)
    config = tmp_path / "dist_config.py"
    config.write_text(
        f"_base_ = [{str(REPO / CONFIG)!r}]\n"
        "custom_imports = dict(imports=['dump_weights_plugin'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DumpWeightsPerRank')]\n"
        "param_scheduler = []  # two steps are too few for a one-cycle schedule\n"
    )
    work_dir = tmp_path / "work"
    options = [*data_options(synthetic_root), "train_cfg.max_epochs=2", "train_cfg.val_interval=10"]
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(tmp_path), "PORT": "29517", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        ["bash", str(REPO / "tools/dist_train.sh"), "2", str(config), "--work-dir", str(work_dir),
         "--cfg-options", *options],  # fmt: skip
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(work_dir / "weights_rank0.pth", weights_only=True)
    rank1 = torch.load(work_dir / "weights_rank1.pth", weights_only=True)
    assert rank0.keys() == rank1.keys()
    checkpoint = load_checkpoint_file(work_dir / "epoch_2.pth")
    assert checkpoint["meta"]["iter"] == 2  # 4 frames, 2 ranks x batch 2: one step per epoch
    for key in rank0:
        torch.testing.assert_close(rank0[key], checkpoint["state_dict"][key], rtol=0, atol=0, msg=key)
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)
