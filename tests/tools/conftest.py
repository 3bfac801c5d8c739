"""A trained checkpoint shared by the end-to-end tool tests (one short training run per session)."""

import pytest

from voxformer.cli import main

CONFIG = "configs/dsvt/dsvt_synthetic_quick.py"


def data_options(root) -> list[str]:
    """--cfg-options values pointing every dataloader of CONFIG at ``root``."""
    loaders = ("train_dataloader", "val_dataloader", "test_dataloader")
    return [f"{loader}.dataset.data_root={root}/" for loader in loaders]


@pytest.fixture(scope="session")
def trained(synthetic_root, tmp_path_factory):
    """Train CONFIG for one epoch (two iterations) on the session's synthetic dataset."""
    work_dir = tmp_path_factory.mktemp("train")
    options = [*data_options(synthetic_root), "train_cfg.max_epochs=1", "train_cfg.val_interval=1"]
    assert main(["train", CONFIG, "--work-dir", str(work_dir), "--cfg-options", *options]) == 0
    return work_dir, options
