"""CenterPoint-Voxel as OpenPCDet builds it (waymo_models/centerpoint.yaml): MeanVFE's kept points, the
float32 cells of spconv's voxel generator, VoxelResBackBone8x's parameter count and grid, HeightCompression,
and the conversion of the official backbone keys (spconv 1.x and 2.x weight layouts).

The official numbers are derived from OpenPCDet's code (pcdet/models/backbones_3d/spconv_backbone.py), layer by
layer, and agree with ``sum(p.numel())`` of VoxelResBackBone8x instantiated from that code with 5 input
features: conv_input 5*16*27 + BN 2*16; conv1 two blocks of two 16->16 3^3 convs with bias, each + BN; conv2..4
a stride-2 3^3 conv without bias + BN, then two such blocks; conv_out a (3, 1, 1) 128->128 conv + BN.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from voxformer.ops import voxelize

from voxformer.errors import ConfigError
from voxformer.models.bev import HeightCompression
from voxformer.models.conversion import convert_state_dict, random_state_dict, read_listing
from voxformer.models.conversion.centerpoint import spconv_weight_to_krsc
from voxformer.models.detectors.spconv_voxelizer import spconv_dynamic_voxelize
from voxformer.models.voxel_encoders import MeanVFE
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

pytest.importorskip("spconv")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "centerpoint" / "centerpoint_voxel_waymo.py"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "official_keys" / "centerpoint_voxel_waymo.vfe_backbone.txt"
RANGE = [0.0, -2.0, -1.0, 4.0, 2.0, 1.0]
VOXEL = [0.5, 0.5, 0.5]


def _block(c: int) -> int:
    """One SparseBasicBlock of OpenPCDet: two c -> c SubM 3^3 convs with bias, each followed by a BN."""
    return 2 * (c * c * 27 + c + 2 * c)


def _down(cin: int, cout: int) -> int:
    """post_act_block of type spconv: a 3^3 conv without bias + BN."""
    return cin * cout * 27 + 2 * cout


CONV_INPUT = 5 * 16 * 27 + 2 * 16
CONV1 = 2 * _block(16)
CONV2_TO_4 = sum(_down(cin, cout) + 2 * _block(cout) for cin, cout in [(16, 32), (32, 64), (64, 128)])
CONV_OUT = 128 * 128 * 3 + 2 * 128
OFFICIAL_BACKBONE = CONV_INPUT + CONV1 + CONV2_TO_4 + CONV_OUT


def _official_parts():
    cfg = Config.fromfile(str(CONFIG)).model
    pre = MODELS.build(cfg.data_preprocessor)
    grid = dict(voxel_size=pre.voxel_size, point_cloud_range=pre.point_cloud_range)
    vfe = MODELS.build({**cfg.voxel_encoder, **grid})
    backbone = MODELS.build({**cfg.backbone3d, "in_channels": vfe.out_channels, "sparse_shape": pre.sparse_shape})
    to_bev = MODELS.build(
        {**cfg.to_bev, "in_channels": backbone.out_channels, "sparse_shape": backbone.out_sparse_shape}
    )
    return cfg, vfe, backbone, to_bev


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_official_parts_have_the_official_parameter_counts_and_grid():
    assert OFFICIAL_BACKBONE == 2_695_312  # also what the instantiated official module reports
    _, vfe, backbone, to_bev = _official_parts()
    assert (_count(vfe), _count(backbone), _count(to_bev)) == (0, OFFICIAL_BACKBONE, 0)
    assert vfe.out_channels == 5 and (vfe.max_points_per_voxel, vfe.max_voxels) == (5, 150000)
    assert backbone.input_shape == [41, 1504, 1504] and backbone.out_sparse_shape == (2, 188, 188)
    assert (backbone.out_channels, to_bev.out_channels) == (128, 256)  # NUM_BEV_FEATURES 256


def test_block_bias_is_the_only_difference_from_the_default_layout():
    cfg, *_ = _official_parts()
    kwargs = {**cfg.backbone3d, "in_channels": 5, "sparse_shape": (40, 32, 32)}
    official, default = MODELS.build(kwargs), MODELS.build({**kwargs, "block_bias": False})
    assert _count(official) - _count(default) == 2 * 2 * (16 + 32 + 64 + 128)
    extra = set(official.state_dict()) - set(default.state_dict())
    assert extra and all(k.endswith(("bias1", "bias2")) for k in extra)


def test_v2_config_departs_only_where_its_comments_say():
    official = Config.fromfile(str(CONFIG)).model.to_dict()
    v2 = Config.fromfile(str(CONFIG.with_name("centerpoint_voxel_waymo_v2.py"))).model.to_dict()
    assert v2["data_preprocessor"] == {**official["data_preprocessor"], "voxelizer": "exact"}
    assert v2["voxel_encoder"] == dict(type="DynamicVFE", in_channels=5, feat_channels=[16])
    assert v2["backbone3d"] == {**official["backbone3d"], "block_bias": False}
    assert v2["head"]["test_cfg"]["nms"] == {**official["head"]["test_cfg"]["nms"], "class_agnostic": False}
    v2["head"]["test_cfg"]["nms"] = official["head"]["test_cfg"]["nms"]
    for section in ("data_preprocessor", "voxel_encoder", "backbone3d"):
        del v2[section], official[section]
    assert v2 == official


def _mean_vfe(max_points=5, max_voxels=None):
    return MeanVFE(4, VOXEL, RANGE, max_points_per_voxel=max_points, max_voxels=max_voxels)


def test_mean_vfe_averages_the_first_points_in_input_order():
    values = torch.arange(7, dtype=torch.float32)[:, None]
    points = torch.cat([torch.full((7, 3), 0.1), values], dim=1)  # seven points in voxel (0, 0, 0, 0)
    points = torch.cat([points, torch.tensor([[9.0, 0.0, 0.0, 50.0]])])  # out of range: dropped
    voxels = voxelize([points], VOXEL, RANGE)
    out = _mean_vfe(max_points=5)(points, voxels.point_to_voxel, voxels.coords, 1)
    assert out.coords.tolist() == [[0, 2, 4, 0]]
    assert out.features[0].tolist() == pytest.approx([0.1, 0.1, 0.1, 2.0])  # mean of values 0..4
    shuffled = _mean_vfe(max_points=5)(points.flip(0), voxels.point_to_voxel.flip(0), voxels.coords, 1)
    assert shuffled.features[0, 3].item() == pytest.approx(4.0)  # now values 6..2


def test_mean_vfe_keeps_the_voxels_whose_first_point_comes_first_per_sample():
    # sample 0: cells x = 3, 1, 2 in arrival order (sorted rows 0, 1, 2 are x = 1, 2, 3); sample 1: x = 2, 0
    xs = [[1.6, 0.6, 1.1, 0.7], [1.1, 0.1]]
    clouds = [torch.tensor([[x, 0.1, 0.1, float(i)] for i, x in enumerate(row)]) for row in xs]
    voxels = voxelize(clouds, VOXEL, RANGE)
    out = _mean_vfe(max_voxels=2)(torch.cat(clouds), voxels.point_to_voxel, voxels.coords, 2)
    assert out.coords[:, [0, 3]].tolist() == [[0, 1], [0, 3], [1, 0], [1, 2]]  # x = 2 of sample 0 came third
    assert out.features[:, 3].tolist() == pytest.approx([(1 + 3) / 2, 0.0, 1.0, 0.0])


@pytest.mark.parametrize(("max_points", "max_voxels"), [(1, None), (3, 4), (5, 1)])
def test_mean_vfe_equals_hard_voxelization_means(rng, max_points, max_voxels):
    clouds = [torch.rand(300, 4, generator=rng) * torch.tensor([4.6, 4.6, 2.4, 1.0]) - torch.tensor([0.3, 2.3, 1.2, 0])]
    clouds.append(clouds[0][:120].flip(0))
    dynamic = voxelize(clouds, VOXEL, RANGE)
    out = _mean_vfe(max_points, max_voxels)(torch.cat(clouds), dynamic.point_to_voxel, dynamic.coords, 2)
    hard = voxelize(clouds, VOXEL, RANGE, max_points_per_voxel=max_points, max_voxels=max_voxels, backend="numba")
    assert torch.equal(out.coords, hard.coords)
    torch.testing.assert_close(out.features, hard.voxels.sum(1) / hard.num_points[:, None].float())


def test_mean_vfe_on_a_real_scan_equals_hard_voxelization(real_data):
    scan = torch.from_numpy(np.fromfile(real_data / "kitti/training/velodyne/000000.bin", np.float32).reshape(-1, 4))
    size, pc_range = [0.1, 0.1, 0.15], [-75.2, -75.2, -2.0, 75.2, 75.2, 4.0]
    dynamic = voxelize([scan], size, pc_range)
    vfe = MeanVFE(4, size, pc_range, max_points_per_voxel=5, max_voxels=20000)
    out = vfe(scan, dynamic.point_to_voxel, dynamic.coords, 1)
    hard = voxelize([scan], size, pc_range, max_points_per_voxel=5, max_voxels=20000, backend="numba")
    assert len(dynamic.coords) > 20000 and torch.equal(out.coords, hard.coords)
    torch.testing.assert_close(out.features, hard.voxels.sum(1) / hard.num_points[:, None].float())


def test_spconv_voxelizer_uses_float32_cells_and_drops_points_outside_the_grid():
    lower, size = -75.2, 0.1
    xs = (np.float32(lower) + np.arange(-3, 1504 + 3, dtype=np.float32) * np.float32(size)).astype(np.float32)
    float32_cells = np.floor((xs - np.float32(lower)) / np.float32(size)).astype(np.int64)
    float64_cells = np.floor((xs.astype(np.float64) - lower) / size).astype(np.int64)
    assert (float32_cells != float64_cells).any()  # the two rules disagree on some of these points
    points = torch.from_numpy(np.stack([xs, np.zeros_like(xs), np.full_like(xs, 0.01)], axis=1))
    out = spconv_dynamic_voxelize([points], [size, size, 0.15], [lower, lower, -2.0, 75.2, 75.2, 4.0])
    inside = (float32_cells >= 0) & (float32_cells < 1504)
    cells = np.unique(float32_cells[inside])
    assert out.point_to_voxel.tolist() == np.where(inside, np.searchsorted(cells, float32_cells), -1).tolist()
    assert out.coords[:, 3].tolist() == cells.tolist()
    y_cell = np.floor((np.float32(0) - np.float32(lower)) / np.float32(size))
    z_cell = np.floor((np.float32(0.01) - np.float32(-2.0)) / np.float32(0.15))
    assert out.coords[:, 1:3].unique(dim=0).tolist() == [[int(z_cell), int(y_cell)]]


def test_spconv_voxelizer_groups_like_voxelize_away_from_cell_borders(rng):
    clouds = [torch.rand(200, 4, generator=rng) * 4 - 2, torch.rand(50, 4, generator=rng) * 4 - 2]
    clouds = [torch.cat([(c[:, :3] / 0.5).floor() * 0.5 + 0.25, c[:, 3:]], dim=1) for c in clouds]  # cell centres
    ours, exact = spconv_dynamic_voxelize(clouds, VOXEL, RANGE), voxelize(clouds, VOXEL, RANGE)
    assert torch.equal(ours.coords, exact.coords) and torch.equal(ours.point_to_voxel, exact.point_to_voxel)
    assert torch.equal(ours.num_points, exact.num_points)


def test_height_compression_folds_z_into_channels_and_checks_its_input():
    coords = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 2]], dtype=torch.int32)
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    to_bev = HeightCompression(in_channels=2, sparse_shape=(2, 3, 4))
    bev = to_bev(SparseVoxels(features, coords, (2, 3, 4), 1))
    assert to_bev.out_channels == 4 and bev.shape == (1, 4, 3, 4)
    assert bev[0, :, 1, 2].tolist() == [1.0, 3.0, 2.0, 4.0]  # channel c * Z + z
    with pytest.raises(ConfigError, match="HeightCompression"):
        to_bev(SparseVoxels(features, coords, (1, 3, 4), 1))


def _official_listing():
    return read_listing([FIXTURE])


def test_fixture_lists_the_official_backbone():
    entries = _official_listing()
    sizes = [int(np.prod(shape)) for key, shape in entries if shape is not None and "running" not in key]
    assert sum(sizes) == OFFICIAL_BACKBONE and all(key.startswith("backbone_3d.") for key, _ in entries)


@pytest.mark.parametrize("layout", ["spconv2", "spconv1"])
def test_official_backbone_converts_from_either_spconv_layout(layout):
    cfg, vfe, backbone, to_bev = _official_parts()
    model = torch.nn.ModuleDict(dict(voxel_encoder=vfe, backbone3d=backbone, to_bev=to_bev))
    official = random_state_dict(_official_listing())
    source = dict(official)
    if layout == "spconv1":  # (out, k, k, k, in) -> (k, k, k, in, out)
        source = {k: v.permute(1, 2, 3, 4, 0) if v.dim() == 5 else v for k, v in official.items()}
    converted = convert_state_dict(source, model, cfg.to_dict(), "openpcdet", path="centerpoint.pth")
    model.load_state_dict(converted, strict=True)
    state = model.state_dict()
    pairs = {
        "stem.0.weight": "conv_input.0.weight",
        "stages.3.0.0.weight": "conv4.0.0.weight",
        "stages.1.2.bias2": "conv2.2.conv2.bias",
        "stages.0.1.norm1.running_var": "conv1.1.bn1.running_var",
        "out_conv.0.weight": "conv_out.0.weight",
    }
    for ours, theirs in pairs.items():
        assert torch.equal(state[f"backbone3d.{ours}"], official[f"backbone_3d.{theirs}"]), ours


def test_weight_layout_transform_leaves_spconv2_weights_and_norms_alone():
    to_krsc = spconv_weight_to_krsc((3, 1, 1))
    spconv2 = torch.randn(128, 3, 1, 1, 64)
    assert to_krsc(spconv2) is spconv2
    assert torch.equal(to_krsc(spconv2.permute(1, 2, 3, 4, 0)), spconv2)
    norm = torch.randn(128)
    assert to_krsc(norm) is norm
