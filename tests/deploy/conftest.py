"""Exported detectors of every family (random weights), written once per test session.

The synthetic quick configs, and published-recipe Waymo configs cropped to +-19.2 m (small enough for a test):
DSVT-V as published (``DenseQueryAttentionPool``) and as voxformer's variant (``AttentionPool3d``), and the
published FlatFormer.
"""

import numpy as np
import pytest
import torch
from mmengine import Config

pytest.importorskip("onnxruntime")

QUICK = {
    "dsvt_pillar": "configs/dsvt/dsvt_synthetic_quick.py",
    "flatformer": "configs/flatformer/flatformer_synthetic_quick.py",
    "scatterformer": "configs/scatterformer/scatterformer_synthetic_quick.py",
}
CROPPED = {
    "dsvt_voxel": "configs/dsvt/dsvt_voxel_waymo.py",
    "dsvt_voxel_v2": "configs/dsvt/dsvt_voxel_waymo_v2.py",
    "flatformer_official": "configs/flatformer/flatformer_waymo.py",
}
CROP_RANGE = [-19.2, -19.2, -2.0, 19.2, 19.2, 4.0]
FAMILIES = sorted({**QUICK, **CROPPED})


def build(config: str):
    from voxformer.apis.inference import init_detector

    torch.manual_seed(0)
    return init_detector(config)


def kitti_points(path, model) -> torch.Tensor:
    """A KITTI scan (x, y, z, reflectance) with zero columns up to the model's input width (Waymo's elongation)."""
    scan = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 4))
    channels = int(model.cfg.model.voxel_encoder.get("in_channels", 4))
    return torch.cat([scan, scan.new_zeros(len(scan), channels - 4)], dim=1)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """family -> (model, path of its ONNX file), exported on first use."""
    from voxformer.deploy import export_model

    cache = {}

    def get(family: str):
        if family not in cache:
            folder = tmp_path_factory.mktemp(family)
            config = QUICK.get(family)
            if config is None:
                cfg = Config.fromfile(CROPPED[family])
                cfg.model.data_preprocessor.point_cloud_range = CROP_RANGE
                config = str(folder / f"{family}_crop.py")
                cfg.dump(config)
            model = build(config)
            cache[family] = model, export_model(model, model.cfg, folder / f"{family}.onnx")
        return cache[family]

    return get
