"""The dataset configs build datasets that load the generated frames; the hook switches augmentation."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "_base_" / "datasets"


def _dataset(root, split="train", config="synthetic_quick.py"):
    from mmengine.config import Config

    from voxformer.registry import DATASETS

    cfg = Config.fromfile(str(CONFIGS / config))
    dataset_cfg = cfg[f"{split}_dataloader"]["dataset"]
    dataset_cfg["data_root"] = str(root)
    assert dataset_cfg["point_cloud_range"] == cfg["point_cloud_range"]  # one range for every part
    return DATASETS.build(dataset_cfg), dataset_cfg


def test_synthetic_config_pipeline(synthetic_root):
    from mmengine.dataset import pseudo_collate

    np.random.seed(0)
    dataset, cfg = _dataset(synthetic_root)
    x0, y0, _, x1, y1, _ = cfg["point_cloud_range"]
    assert len(dataset) == 4 and list(dataset.metainfo["classes"]) == ["Car", "Pedestrian", "Cyclist"]
    batch = pseudo_collate([dataset[0], dataset[1]])
    points = batch["inputs"]["points"][0]
    assert points.dtype == torch.float32 and points.shape[1] == 4
    assert points[:, 0].min() >= x0 and points[:, 0].max() < x1
    assert points[:, 1].min() >= y0 and points[:, 1].max() < y1
    gt = batch["data_samples"][0].gt_instances_3d
    assert len(gt) > 0 and gt.labels_3d.min() >= 0


def test_val_dataset_keeps_raw_annotations(synthetic_root):
    dataset, _ = _dataset(synthetic_root, "val", "synthetic.py")
    sample = dataset[0]["data_samples"]
    assert "eval_ann_info" in sample.metainfo and "difficulty" in sample.metainfo["eval_ann_info"]


def test_augmentation_switch_hook(synthetic_root):
    from voxformer.datasets.transforms import RandomTransform
    from voxformer.engine.hooks import AugmentationSwitchHook

    dataset, _ = _dataset(synthetic_root)
    augmentations = [t for t in dataset.pipeline.transforms if isinstance(t, RandomTransform)]
    assert len(augmentations) == 6 and all(t.enabled for t in augmentations)
    loader = SimpleNamespace(dataset=dataset, persistent_workers=True, _iterator="workers")
    logger = SimpleNamespace(info=lambda message: None)
    hook = AugmentationSwitchHook(num_last_epochs=2)
    hook.before_train_epoch(SimpleNamespace(epoch=7, max_epochs=10, train_dataloader=loader, logger=logger))
    assert all(t.enabled for t in augmentations) and loader._iterator == "workers"
    hook.before_train_epoch(SimpleNamespace(epoch=8, max_epochs=10, train_dataloader=loader, logger=logger))
    assert not any(t.enabled for t in augmentations) and loader._iterator is None
    first, second = dataset[0]["inputs"]["points"], dataset[0]["inputs"]["points"]
    assert torch.equal(first, second)  # no randomness left


def test_browse_writes_bev_png(synthetic_root, tmp_path, monkeypatch):
    import importlib.util

    from voxformer.cli import main

    config = tmp_path / "browse_cfg.py"
    config.write_text(
        f"_base_ = ['{CONFIGS / 'synthetic.py'}']\n"
        f"train_dataloader = dict(dataset=dict(data_root='{synthetic_root}/'))\n"
    )
    original = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "open3d_render" in name else original(name, *a)
    )
    assert main(["browse", str(config), "--num", "2", "--out-dir", str(tmp_path / "out")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert pngs == ["000000_bev.png", "000001_bev.png"]
    assert (tmp_path / "out" / "000000_bev.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
