"""The released FlatFormer's conventions: parameter counts, group order and padding on hand-checkable grids,
the position encoding, mmdet3d's voxelizer quirk, the checkpoint rules, and the improved variant kept apart."""

import math
from pathlib import Path

import pytest
import torch
from voxformer.ops import flat_groups, set_attention

from voxformer.apis.config import load_config
from voxformer.errors import ConfigError
from voxformer.models.backbones3d import FlatFormerOfficial, interleaved_sinusoidal_position
from voxformer.models.conversion import convert_state_dict, random_state_dict, read_listing
from voxformer.models.detectors import VoxelDataPreprocessor
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

ROOT = Path(__file__).resolve().parents[2]
LISTING = Path(__file__).resolve().parent / "fixtures" / "official_keys" / "flatformer_waymo.vfe_backbone.txt"
WAYMO = dict(voxel_size=[0.32, 0.32, 6.0], point_cloud_range=[-74.88, -74.88, -2.0, 74.88, 74.88, 4.0])
BACKENDS = ("torch", "reference")


def _model_cfg(name: str):
    return load_config(ROOT / "configs" / "flatformer" / name).model


def _vfe_and_backbone(model_cfg):
    pre = MODELS.build(model_cfg.data_preprocessor)
    grid = dict(voxel_size=pre.voxel_size, point_cloud_range=pre.point_cloud_range)
    vfe = MODELS.build({**model_cfg.voxel_encoder, **grid})
    backbone = MODELS.build({**model_cfg.backbone3d, "in_channels": vfe.out_channels, "sparse_shape": pre.sparse_shape})
    return pre, vfe, backbone


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_official_parts_have_the_released_parameter_counts_and_contract():
    _, vfe, backbone = _vfe_and_backbone(_model_cfg("flatformer_waymo.py"))
    assert (type(vfe).__name__, _count(vfe)) == ("DynamicVFEOfficial", 17_472)
    assert (type(backbone).__name__, _count(backbone)) == ("FlatFormerOfficial", 1_059_840)
    assert backbone.out_channels == 128 and backbone.out_sparse_shape == (1, 468, 468)
    layer = backbone.blocks[1][3]
    assert layer.ffn.net[0].out_features == 256 and layer.attn.in_proj_weight.shape == (384, 128)
    assert all(isinstance(vfe_layer[1], torch.nn.BatchNorm1d) for vfe_layer in vfe.layers)
    assert vfe.layers[0][1].eps == 1e-3 and vfe.layers[0][1].momentum == 0.01


def test_v2_config_keeps_the_improved_variant():
    _, vfe, backbone = _vfe_and_backbone(_model_cfg("flatformer_waymo_v2.py"))
    assert type(vfe).__name__ == "DynamicPillarVFE" and type(backbone).__name__ == "FlatFormer"
    assert isinstance(vfe.layers[0][1], torch.nn.LayerNorm)
    assert _model_cfg("flatformer_waymo_v2.py").data_preprocessor.voxelizer == "exact"
    assert _model_cfg("flatformer_waymo.py").data_preprocessor.voxelizer == "mmdet3d"
    quick = _model_cfg("flatformer_synthetic_quick.py")  # the quick start trains the improved variant
    assert (quick.voxel_encoder.type, quick.backbone3d.type) == ("DynamicPillarVFE", "FlatFormer")
    assert quick.data_preprocessor.get("voxelizer", "exact") == "exact"


# ----------------------------------------------------------------------------------------------------------------
# group order and padding


def _grid_coords(ys: int, xs: int, batch: int = 0) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(ys), torch.arange(xs), indexing="ij")
    return torch.stack([torch.full_like(y, batch), torch.zeros_like(y), y, x], -1).view(-1, 4).int()


# inside a 3 x 3 window of an even window row: columns in x order, y up in even columns, down in odd ones
EVEN_WINDOW = [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (2, 0), (2, 1), (2, 2)]  # (x, y)
ODD_WINDOW = EVEN_WINDOW[::-1]  # odd window rows run the same path backwards


def _moved(cells, dx, dy):
    return [(x + dx, y + dy) for x, y in cells]


# a 6 x 6 grid of 3 x 3 windows: row 0 left to right, row 1 right to left
X_ORDER = _moved(EVEN_WINDOW, 0, 0) + _moved(EVEN_WINDOW, 3, 0) + _moved(ODD_WINDOW, 3, 3) + _moved(ODD_WINDOW, 0, 3)


def _flat_order(coords, axis, shifted=False, sparse_shape=(1, 6, 6), backend=None):
    groups = flat_groups(
        coords, sparse_shape, (1, 3, 3), 4, axis, shifted, 1, in_window="mirrored", padding="overlap", backend=backend
    )
    return [(int(coords[i, 3]), int(coords[i, 2])) for i in groups.order]


@pytest.mark.parametrize("backend", BACKENDS)
def test_released_order_snakes_windows_and_mirrors_odd_rows(backend):
    coords = _grid_coords(6, 6)[torch.randperm(36, generator=torch.Generator().manual_seed(0))]
    assert _flat_order(coords, "x", backend=backend) == X_ORDER
    assert _flat_order(coords, "y", backend=backend) == [(y, x) for x, y in X_ORDER]  # x and y swap roles


@pytest.mark.parametrize("backend", BACKENDS)
def test_released_shifted_order_adds_half_a_window_to_x_and_y(backend):
    coords = _grid_coords(7, 7)
    moved = coords.clone()
    moved[:, 2:] += 1  # shift = 3 // 2 on y and x
    for axis in ("x", "y"):
        shifted = _flat_order(coords, axis, shifted=True, sparse_shape=(1, 7, 7), backend=backend)
        plain = _flat_order(moved, axis, sparse_shape=(1, 8, 8), backend=backend)
        assert shifted == [(x - 1, y - 1) for x, y in plain]


def test_the_improved_order_differs_in_odd_window_rows():
    coords = _grid_coords(6, 6)
    snake = flat_groups(coords, (1, 6, 6), (1, 3, 3), 4, "x")
    order = [(int(coords[i, 3]), int(coords[i, 2])) for i in snake.order]
    assert order[:18] == X_ORDER[:18] and order[18:21] == [(5, 3), (5, 4), (5, 5)] != X_ORDER[18:21]


@pytest.mark.parametrize(("axis", "shifted"), [("x", False), ("x", True), ("y", False), ("y", True)])
def test_released_rules_agree_across_backends(axis, shifted):
    rng = torch.Generator().manual_seed(3)
    samples = []
    for b, n in enumerate((300, 7, 130)):  # the middle sample is shorter than a group
        cells = torch.randperm(2 * 23 * 29, generator=rng)[:n]
        samples.append(torch.stack([torch.full_like(cells, b), cells // 667, cells // 29 % 23, cells % 29], 1))
    coords = torch.cat(samples).int()
    got = [
        flat_groups(
            coords, (2, 23, 29), (2, 5, 7), 16, axis, shifted, 3, in_window="mirrored", padding="overlap", backend=b
        )
        for b in BACKENDS
    ]
    for field in ("index", "mask", "order"):
        assert torch.equal(getattr(got[0], field), getattr(got[1], field))
    assert not got[0].mask[:19].any() and got[0].mask[19:20].any()  # 300 voxels: 19 full-size groups, no mask


def _row_coords(n: int, batch: int = 0) -> torch.Tensor:
    return torch.stack([torch.full((n,), batch), torch.zeros(n), torch.zeros(n), torch.arange(n)], 1).int()


@pytest.mark.parametrize("backend", BACKENDS)
def test_overlap_padding_borrows_the_tokens_a_group_before_unmasked(backend):
    coords = torch.cat([_row_coords(10), _row_coords(3, batch=1)])  # sample 0: 10 voxels, sample 1: 3
    groups = flat_groups(coords, (1, 1, 16), (1, 1, 16), 4, batch_size=2, padding="overlap", backend=backend)
    # slot j of the padded layout takes token j - 4: the last group is the sample's last 4 voxels
    assert groups.index.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 6, 7], [10, 11, 12, 10]]
    # a sample shorter than a group has no token 4 places before: its repeats stay masked
    assert groups.mask.tolist() == [[False] * 4] * 3 + [[False, False, False, True]]
    repeat = flat_groups(coords, (1, 1, 16), (1, 1, 16), 4, batch_size=2, backend=backend)
    assert repeat.index[2].tolist() == [8, 9, 8, 9] and repeat.mask[2].tolist() == [False, False, True, True]


@pytest.mark.parametrize("backend", BACKENDS)
def test_borrowed_tokens_keep_the_output_of_their_own_group(backend):
    coords = _row_coords(10)
    groups = flat_groups(coords, (1, 1, 16), (1, 1, 16), 4, padding="overlap")
    q, k, v = torch.randn(3, 10, 1, 2, generator=torch.Generator().manual_seed(1)).unbind(0)
    out = set_attention(q, k, v, groups.index, groups.mask, backend=backend)

    def attend(query, keys):
        weights = torch.softmax(q[query, 0] @ k[keys, 0].T / math.sqrt(2), -1)
        return weights @ v[keys, 0]

    # token 6 sits in groups 1 and 2; its output is group 1's, and group 2 counts it as a key
    assert torch.allclose(out[6, 0], attend(6, [4, 5, 6, 7]), atol=1e-6)
    assert torch.allclose(out[8, 0], attend(8, [8, 9, 6, 7]), atol=1e-6)


def test_position_encoding_interleaves_sin_cos_x_then_y():
    coords = torch.tensor([[0, 0, 2, 1], [0, 0, 5, 7]], dtype=torch.int32)  # (b, z, y, x)
    pe = interleaved_sinusoidal_position(coords, 128)
    x, y = 7.0, 5.0
    divisor = 10000 ** (1 / 32)  # frequency k = 1 of 32 per axis
    expected = [math.sin(x), math.cos(x), math.sin(x / divisor), math.cos(x / divisor)]
    assert pe.shape == (2, 128)
    assert torch.allclose(pe[1, :4], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(
        pe[1, 64:68], torch.tensor([math.sin(y), math.cos(y), math.sin(y / divisor), math.cos(y / divisor)])
    )
    assert torch.equal(interleaved_sinusoidal_position(coords, 10)[:, 8:], torch.zeros(2, 2))  # padded to the width


def test_backbone_adds_the_encoding_to_queries_and_keys_only():
    torch.manual_seed(0)
    model = FlatFormerOfficial(8, (1, 6, 6), num_heads=2, window_shape=(1, 3, 3), group_size=4, blocks=1).eval()
    coords = _grid_coords(6, 6)[:20]
    voxels = SparseVoxels(torch.randn(20, 8), coords, (1, 6, 6), 1)
    attn, groups = model.blocks[0][0].attn, model.group_layouts(voxels)[0]
    pos = interleaved_sinusoidal_position(coords, 8)
    weight, bias = attn.in_proj_weight, attn.in_proj_bias  # rows q, k, v; the biases start at zero
    q, k = torch.nn.functional.linear(voxels.features + pos, weight[:16], bias[:16]).view(20, 2, 2, 4).unbind(1)
    values = torch.nn.functional.linear(voxels.features, weight[16:], bias[16:]).view(20, 2, 4)
    group = groups.index[0]  # a full group; its first token's output, head by head (head dim 4)
    heads = [torch.softmax(q[group[0], h] @ k[group, h].T / 2, -1) @ values[group, h] for h in range(2)]
    with torch.no_grad():
        got = attn(voxels.features, pos, groups.index, groups.mask)[group[0]]
        assert torch.allclose(got, attn.out_proj(torch.cat(heads)), atol=1e-5)
    with pytest.raises(ConfigError, match="pillars"):
        FlatFormerOfficial(8, (2, 6, 6), window_shape=(1, 3, 3))


# ----------------------------------------------------------------------------------------------------------------
# the mmdet3d voxelizer quirk


def _preprocess(points, voxelizer):
    pre = VoxelDataPreprocessor(voxel_size=[1.0, 1.0, 2.0], point_cloud_range=[0, 0, 0, 4, 4, 2], voxelizer=voxelizer)
    return pre(dict(inputs=dict(points=points)))["inputs"]


def test_mmdet3d_voxelizer_clamps_and_drops_each_samples_smallest_voxel():
    first = torch.tensor([[0.5, 0.5, 1.0], [2.5, 1.5, 1.0], [9.0, 1.2, 5.0], [3.5, 3.5, 1.0]])  # (9, 1.2): outside
    second = torch.tensor([[1.5, 0.5, 1.0], [1.5, 0.7, 1.0], [0.5, 2.5, -3.0]])
    exact = _preprocess([first, second], "exact")
    assert exact["coords"].tolist() == [[0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 3, 3], [1, 0, 0, 1]]
    assert exact["point_to_voxel"].tolist() == [0, 1, -1, 2, 3, 3, -1]
    quirk = _preprocess([first, second], "mmdet3d")
    # (9, 1.2, 5) joins border voxel x = 3, y = 1; (0.5, 2.5, -3) joins z = 0; (y, x) = (0, 0) and (0, 1) go
    assert quirk["coords"].tolist() == [[0, 0, 1, 2], [0, 0, 1, 3], [0, 0, 3, 3], [1, 0, 2, 0]]
    assert quirk["point_to_voxel"].tolist() == [-1, 0, 1, 2, -1, -1, 3]
    with pytest.raises(ConfigError, match="voxelizer"):
        _preprocess([first], "clamped")


def test_mmdet3d_voxelizer_computes_cells_in_float32():
    # x = 0.9 with 0.3 m voxels: cell 3 in float64, but 0.9f / 0.3f < 3 in float32; (0.1, 0.1) is the dropped voxel
    points = torch.tensor([[0.1, 0.1, 1.0], [0.9, 0.5, 1.0]], dtype=torch.float64)
    grid = dict(voxel_size=[0.3, 1.0, 2.0], point_cloud_range=[0, 0, 0, 1.2, 4, 2])
    quirk = VoxelDataPreprocessor(**grid, voxelizer="mmdet3d")
    exact = VoxelDataPreprocessor(**grid)
    assert quirk(dict(inputs=dict(points=[points])))["inputs"]["coords"][:, 3].tolist() == [2]
    assert exact(dict(inputs=dict(points=[points])))["inputs"]["coords"][:, 3].tolist() == [0, 3]


# ----------------------------------------------------------------------------------------------------------------
# checkpoint rules


@pytest.mark.parametrize("prefix", ["", "pts_"])
def test_official_vfe_and_middle_encoder_keys_map_onto_ours(prefix):
    model_cfg = _model_cfg("flatformer_waymo.py")
    _, vfe, backbone = _vfe_and_backbone(model_cfg)
    ours = {f"voxel_encoder.{k}": v for k, v in vfe.state_dict().items()}
    ours |= {f"backbone3d.{k}": v for k, v in backbone.state_dict().items()}
    official = {prefix + k: v for k, v in random_state_dict(read_listing([LISTING])).items()}
    converted = convert_state_dict(official, ours, model_cfg.to_dict(), "mmdet3d")
    block = f"{prefix}middle_encoder.block_list.1.block.2"
    assert torch.equal(
        converted["backbone3d.blocks.1.2.attn.in_proj_weight"], official[f"{block}.attn.attn.in_proj_weight"]
    )
    assert torch.equal(converted["backbone3d.blocks.1.2.ffn.net.3.bias"], official[f"{block}.fc2.bias"])
    assert torch.equal(
        converted["voxel_encoder.layers.1.0.weight"], official[f"{prefix}voxel_encoder.vfe_layers.1.linear.weight"]
    )
    assert torch.equal(
        converted["voxel_encoder.layers.0.1.running_var"],
        official[f"{prefix}voxel_encoder.vfe_layers.0.norm.running_var"],
    )


def test_mmdet3d_voxelizer_on_a_real_scan(real_data):
    import numpy as np

    scan = np.fromfile(real_data / "nuscenes" / "LIDAR_TOP_1532402927647951.pcd.bin", np.float32).reshape(-1, 5)
    points = torch.from_numpy(scan.copy())
    exact = VoxelDataPreprocessor(**WAYMO)(dict(inputs=dict(points=[points])))["inputs"]
    quirk = VoxelDataPreprocessor(**WAYMO, voxelizer="mmdet3d")(dict(inputs=dict(points=[points])))["inputs"]
    sparse_shape = (1, 468, 468)
    cells = {tuple(c) for c in quirk["coords"].tolist()}
    exact_cells = [tuple(c) for c in exact["coords"].tolist()]
    # every in-range voxel is kept, unless it is the smallest cell of the clamped points, which goes; the points
    # outside the range (z mostly) add border voxels
    missing = set(exact_cells) - cells
    assert len(missing) <= 1 and all(cell < min(cells) for cell in missing)
    assert len(cells) > len(exact_cells) and all(c[1] == 0 for c in cells)
    assert 0 < (quirk["point_to_voxel"] < 0).sum() < (exact["point_to_voxel"] < 0).sum()
    assert quirk["coords"][:, 2:].max() < sparse_shape[1]
