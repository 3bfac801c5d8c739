"""VoxelDetector hands each module's ``out_channels`` to the next one's ``in_channels`` (and the 3D backbone's
``out_sparse_shape`` to the to-BEV module) when the config leaves it out; a stated width that differs fails."""

import re
from pathlib import Path

import pytest
from mmengine.config import Config

from voxformer.errors import ConfigError
from voxformer.registry import MODELS

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"


def _model_cfg(name: str):
    return Config.fromfile(CONFIG_ROOT / name).model


def test_neck_and_head_widths_come_from_the_module_before():
    cfg = _model_cfg("dsvt/dsvt_synthetic_quick.py")
    cfg.bev_neck.pop("in_channels", None)
    cfg.head.pop("in_channels", None)
    model = MODELS.build(cfg)
    assert [d[0].in_channels for d in model.bev_neck.deblocks] == model.bev_backbone.out_channels
    assert model.head.shared_conv[0].in_channels == model.bev_neck.out_channels


@pytest.mark.parametrize(("section", "width"), [("bev_neck", [32, 128]), ("head", 100)])
def test_a_stated_width_that_differs_names_the_key(section, width):
    cfg = _model_cfg("dsvt/dsvt_synthetic_quick.py")
    cfg[section]["in_channels"] = width
    with pytest.raises(ConfigError, match=re.escape(f"{section}.in_channels is {width!r} but")):
        MODELS.build(cfg)


def test_to_bev_gets_the_backbone_grid_and_width():
    pytest.importorskip("spconv", reason="the sparse-convolution baseline needs spconv")
    model = MODELS.build(_model_cfg("centerpoint/centerpoint_voxel_waymo.py"))
    z_cells = model.backbone3d.out_sparse_shape[0]
    assert model.to_bev.out_channels == model.backbone3d.out_channels * z_cells
    assert model.bev_backbone.stages[0][0][0].in_channels == model.to_bev.out_channels
