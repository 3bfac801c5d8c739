"""The published-recipe configs build networks with the official parameter counts, whole and per part.

The numbers were counted from the official code (DSVT ``dsvt_plain_1f_onestage``, ``dsvt_3D_1f_onestage`` and
the BEV stage of ``dsvt_plain_1f_onestage_nusences``, FlatFormer ``flatformer_waymo_D1_2x_3class``, ScatterFormer
``scatterformer.yaml``, OpenPCDet ``centerpoint.yaml``) with its modules instantiated;
docs/configs.md §Parity lists them beside ours (``python tools/parity_table.py``).
"""

import functools
from pathlib import Path

import pytest
from mmengine.config import Config

from voxformer.registry import MODELS

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
BEV = ("bev_backbone", "bev_neck")
DSVT_PARTS = {"voxel_encoder": 38_496, "to_bev": 0, BEV: 5_479_680, "head": 450_188}
OFFICIAL = {  # config -> {part (a module or several, summed) or "total": parameters}
    "dsvt/dsvt_pillar_waymo.py": {"total": 8_653_292, "backbone3d": 2_684_928, **DSVT_PARTS},
    "dsvt/dsvt_voxel_waymo.py": {"total": 9_102_188, "backbone3d": 3_133_824, **DSVT_PARTS},  # the rest as DSVT-P
    "flatformer/flatformer_waymo.py": {
        "total": 2_268_110,
        "voxel_encoder": 17_472,
        "backbone3d": 1_059_840,
        "to_bev": 0,
        "bev_backbone": 701_952,
        "bev_neck": 74_240,
        "head": 414_606,
    },
    "scatterformer/scatterformer_waymo.py": {
        "total": 12_300_908,
        "voxel_encoder": 4_640,
        "backbone3d": 4_241_856,
        "backbone3d.stem": 2_927_360,
        "to_bev": 0,
        BEV: 7_751_680,  # CascadeDED, no neck
        "head": 302_732,
    },
    "centerpoint/centerpoint_voxel_waymo.py": {BEV: 4_576_768},  # OpenPCDet BaseBEVBackbone with its deblocks
    "dsvt/dsvt_pillar_nuscenes.py": {BEV: 5_004_544},  # BaseBEVResBackbone on 128 channels, up [0.5, 1, 2]
}
CASES = [(config, part) for config, parts in OFFICIAL.items() for part in parts]


@functools.cache
def _model(config: str):
    cfg = Config.fromfile(CONFIG_ROOT / config)
    if cfg.model.backbone3d.type == "SparseResNet8x":
        pytest.importorskip("spconv", reason="the sparse-convolution baseline needs spconv")
    return MODELS.build(cfg.model)


def _parameters(model, part) -> int:
    if part == "total":
        return sum(p.numel() for p in model.parameters())
    modules = []
    for name in (part,) if isinstance(part, str) else part:
        module = functools.reduce(getattr, name.split("."), model)
        if module is not None:
            modules.append(module)
    return sum(p.numel() for module in modules for p in module.parameters())


@pytest.mark.parametrize(
    ("config", "part"), CASES, ids=[f"{c}:{'+'.join([p] if isinstance(p, str) else p)}" for c, p in CASES]
)
def test_parameter_count_is_the_official_one(config, part):
    assert _parameters(_model(config), part) == OFFICIAL[config][part]
