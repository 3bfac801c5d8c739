"""Every model config: loads, builds at full size, and trains/predicts one step on a reduced grid."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from voxformer.registry import MODELS
from voxformer.structures import Boxes3D
from voxformer.structures.det3d_sample import Det3DSample

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
FAMILIES = ("dsvt", "flatformer", "scatterformer", "centerpoint")
MIXED_FAMILIES = ("sphereformer",)  # folders of detectors and segmentors: their detectors are tested here
CONFIGS = sorted(
    [str(p.relative_to(CONFIG_ROOT)) for family in FAMILIES for p in (CONFIG_ROOT / family).glob("*.py")]
    + [str(p.relative_to(CONFIG_ROOT)) for family in MIXED_FAMILIES for p in (CONFIG_ROOT / family).glob("*.py")
       if Config.fromfile(p).model.type == "VoxelDetector"]
)
REDUCED_CELLS = 48  # x and y cells of the reduced grid: fits every configured window


def _needs_spconv(cfg) -> bool:
    return cfg.model.backbone3d.type in ("SparseResNet8x", "SphereFormerResNet8x")


def _load(name):
    cfg = Config.fromfile(CONFIG_ROOT / name)
    if _needs_spconv(cfg):
        pytest.importorskip("spconv", reason="the sparse-convolution baseline needs spconv")
    return cfg


def test_every_family_has_configs():
    for family in FAMILIES + MIXED_FAMILIES:
        assert any(c.startswith(family + "/") for c in CONFIGS), family
    for quick in (
        "dsvt/dsvt_synthetic_quick.py",
        "flatformer/flatformer_synthetic_quick.py",
        "scatterformer/scatterformer_synthetic_quick.py",
    ):
        assert quick in CONFIGS


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_consistent_and_builds_full_size(name):
    cfg = _load(name)
    assert cfg.default_scope == "voxformer"
    preprocessor = cfg.model.data_preprocessor
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset = loader.dataset
        while "dataset" in dataset:  # dataset wrappers (CBGS, repeat)
            dataset = dataset.dataset
        assert dataset.point_cloud_range == preprocessor.point_cloud_range
        assert list(cfg.model.head.class_names) == list(dataset.metainfo["classes"])
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def _reduced(cfg):
    """The config's model on a REDUCED_CELLS x REDUCED_CELLS grid with its own voxel size and z range."""
    model_cfg = cfg.model.copy()
    vx, vy, _ = model_cfg.data_preprocessor.voxel_size
    z0, z1 = model_cfg.data_preprocessor.point_cloud_range[2], model_cfg.data_preprocessor.point_cloud_range[5]
    extent_x, extent_y = vx * REDUCED_CELLS, vy * REDUCED_CELLS
    model_cfg.data_preprocessor.point_cloud_range = [0.0, -extent_y / 2, z0, extent_x, extent_y / 2, z1]
    return model_cfg


def _batch(model, rng):
    pre = model.data_preprocessor
    x0, y0, z0, x1, y1, z1 = pre.point_cloud_range
    channels = model.voxel_encoder.in_channels
    with_velocity = model.head.with_velocity
    points, samples = [], []
    for n in (400, 250):
        low = torch.tensor([x0, y0, z0])
        high = torch.tensor([x1, y1, z1])
        xyz = low + (high - low) * torch.rand(n, 3, generator=rng)
        points.append(torch.cat([xyz, torch.rand(n, channels - 3, generator=rng)], dim=1))
        centre = [x0 + 0.4 * (x1 - x0), 0.5 * (y0 + y1), 0.5 * (z0 + z1)]
        box = centre + [4.0, 1.8, 1.6, 0.3] + ([1.0, 0.0] if with_velocity else [])
        gt = InstanceData()
        gt.bboxes_3d = Boxes3D(torch.tensor([box]))
        gt.labels_3d = torch.tensor([0])
        sample = Det3DSample()
        sample.gt_instances_3d = gt
        samples.append(sample)
    return dict(inputs=dict(points=points), data_samples=samples)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_trains_and_predicts_on_reduced_grid(name, rng):
    cfg = _load(name)
    torch.manual_seed(0)
    model = MODELS.build(_reduced(cfg))
    data = _batch(model, rng)
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode="loss")
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone3d.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    model.eval()
    with torch.no_grad():
        samples = model(**model.data_preprocessor(data), mode="predict")
        maps = model(**model.data_preprocessor(data), mode="tensor")
    assert maps[0]["heatmap"].shape[0] == 2
    for sample in samples:
        pred = sample.pred_instances_3d
        assert len(pred.bboxes_3d) == len(pred.scores_3d) == len(pred.labels_3d)
        assert pred.labels_3d.dtype == torch.int64


def test_range_that_is_not_whole_voxels_raises_with_key_names():
    cfg = _load("dsvt/dsvt_synthetic_quick.py")
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor.point_cloud_range = [0.0, -32.0, -3.0, 64.1, 32.0, 1.0]
    with pytest.raises(ValueError, match=r"point_cloud_range.*voxel_size.*64\.1"):
        MODELS.build(model_cfg)


def test_window_that_does_not_fit_raises_with_key_name():
    cfg = _load("dsvt/dsvt_synthetic_quick.py")
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor.point_cloud_range = [0.0, -3.2, -3.0, 6.4, 3.2, 1.0]  # 20 x 20 pillars
    with pytest.raises(ValueError, match=r"backbone3d\.shifted_window_shape\[0\].*24"):
        MODELS.build(model_cfg)
