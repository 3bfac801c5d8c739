"""The released ScatterFormer's conventions: parameter counts, the stem's z halving, the pillar pool's slot,
order and masking rules, the cross-window module's 2 * BN(x) quarter, the linear attention formula, the
checkpoint rules, and the improved variant kept apart."""

from pathlib import Path

import pytest
import torch

from voxformer.apis.config import load_config
from voxformer.errors import ConfigError
from voxformer.models.backbones3d import ScatterFormerOfficial
from voxformer.models.backbones3d.pillar_pool import AttentionPillarPool
from voxformer.models.backbones3d.scatterformer_official import CrossWindowFFN, ScatteredLinearAttention
from voxformer.models.backbones3d.sparse_stem import SparseConvStem
from voxformer.models.conversion import convert_state_dict, random_state_dict, read_listing
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

pytest.importorskip("spconv.pytorch", reason="the official ScatterFormer's stem runs on spconv")

ROOT = Path(__file__).resolve().parents[2]
LISTING = Path(__file__).resolve().parent / "fixtures" / "official_keys" / "scatterformer_waymo.vfe_backbone.txt"


def _model_cfg(name: str):
    return load_config(ROOT / "configs" / "scatterformer" / name).model


def _vfe_and_backbone(model_cfg):
    pre = MODELS.build(model_cfg.data_preprocessor)
    grid = dict(voxel_size=pre.voxel_size, point_cloud_range=pre.point_cloud_range)
    vfe = MODELS.build({**model_cfg.voxel_encoder, **grid})
    backbone = MODELS.build({**model_cfg.backbone3d, "in_channels": vfe.out_channels, "sparse_shape": pre.sparse_shape})
    return vfe, backbone


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _randomise_norms(module: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for norm in module.modules():
        if isinstance(norm, (torch.nn.BatchNorm1d, torch.nn.LayerNorm)):
            c = norm.weight.shape[0]
            norm.weight.data = 0.5 + torch.rand(c, generator=generator)
            norm.bias.data = torch.randn(c, generator=generator) * 0.2
            if isinstance(norm, torch.nn.BatchNorm1d):
                norm.running_mean = torch.randn(c, generator=generator) * 0.2
                norm.running_var = 0.5 + torch.rand(c, generator=generator)


def test_official_parts_have_the_released_parameter_counts_and_contract():
    vfe, backbone = _vfe_and_backbone(_model_cfg("scatterformer_waymo.py"))
    assert (type(vfe).__name__, _count(vfe)) == ("PFNDynamicVFE", 4_640)
    assert (type(backbone).__name__, _count(backbone)) == ("ScatterFormerOfficial", 4_241_856)
    assert _count(backbone.stem) == 2_927_360
    assert backbone.input_shape == (33, 480, 480) and backbone.stem.out_sparse_shape == (16, 480, 480)
    assert backbone.stage_shapes == [(16, 480, 480), (8, 240, 240)]
    assert backbone.out_channels == 128 and backbone.out_sparse_shape == (1, 240, 240)
    assert backbone.pillar_pool.slots == 8 and backbone.pillar_pool.self_attn.num_heads == 8
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all(m.eps == 1e-3 and m.momentum == 0.01 for m in norms)
    cffn = backbone.blocks[0].cffn_layers[0]
    assert [c.kernel_size for c in (cffn.conv_xyz, cffn.conv_x, cffn.conv_y)] == [(3, 3, 3), (1, 1, 13), (1, 13, 1)]
    assert all(c.bias is None for c in (cffn.conv_xyz, cffn.conv_x, cffn.conv_y))
    assert backbone.blocks[0].attn_layers[0].qkv.bias is None
    assert backbone.downs[0].bias is None and tuple(backbone.downs[0].stride) == (2, 2, 2)


def test_v2_configs_keep_the_improved_variant():
    vfe, backbone = _vfe_and_backbone(_model_cfg("scatterformer_waymo_v2.py"))
    assert (type(vfe).__name__, type(backbone).__name__) == ("DynamicVFE", "ScatterFormer")
    assert backbone.out_channels == 128 and backbone.out_sparse_shape == (1, 240, 240)
    assert _model_cfg("scatterformer_waymo_v2.py").data_preprocessor.voxelizer == "exact"
    assert _model_cfg("scatterformer_waymo.py").data_preprocessor.voxelizer == "spconv"
    assert _model_cfg("scatterformer_synthetic_quick.py").backbone3d.type == "ScatterFormer"


def _spconv_tensor(features, coords, shape):
    import spconv.pytorch as spconv

    return spconv.SparseConvTensor(features, coords.int(), list(shape), int(coords[:, 0].max()) + 1)


def test_stem_takes_z_from_33_to_16_cells():
    torch.manual_seed(0)
    stem = SparseConvStem(4, 8, (33, 6, 6)).eval()
    assert stem.out_sparse_shape == (16, 6, 6)
    coords = torch.tensor([[0, 0, 2, 3], [0, 32, 2, 3], [0, 6, 1, 1], [1, 31, 5, 5]])
    out = stem(_spconv_tensor(torch.randn(4, 4), coords, (33, 6, 6)))
    assert list(out.spatial_shape) == [16, 6, 6] and out.features.shape[1] == 8
    # output z o gathers input z 2o .. 2o + 2 (kernel 3, stride 2, no padding)
    expected = {(0, 0, 2, 3), (0, 15, 2, 3), (0, 2, 1, 1), (0, 3, 1, 1), (1, 15, 5, 5)}
    assert {tuple(row) for row in out.indices.tolist()} == expected


def test_stem_needs_three_z_cells():
    with pytest.raises(ConfigError, match="3 z cells"):
        SparseConvStem(4, 8, (2, 6, 6))


def _pool_by_hand(pool: AttentionPillarPool, features, coords):
    """Per pillar in ascending (b, y, x): query max(0, voxel max); keys = slot values + position; empty slots
    left out of the softmax; values without the position; then LayerNorm(attention + query)."""
    attn = pool.self_attn
    c, heads = features.shape[1], attn.num_heads
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    outputs, columns = [], sorted({(b, y, x) for b, _, y, x in coords.tolist()})
    for column in columns:
        rows = [i for i, (b, _, y, x) in enumerate(coords.tolist()) if (b, y, x) == column]
        slots = coords[rows, 1]
        query = features[rows].max(dim=0).values.clamp(min=0)
        keys = features[rows] + pool.pos_embedding.weight[slots]
        q = (query @ wq.T + bq).view(heads, c // heads)
        k = (keys @ wk.T + bk).view(len(rows), heads, c // heads)
        v = (features[rows] @ wv.T + bv).view(len(rows), heads, c // heads)
        weights = torch.softmax(torch.einsum("hd,nhd->hn", q, k) / (c // heads) ** 0.5, dim=1)
        attended = torch.einsum("hn,nhd->hd", weights, v).reshape(c) @ attn.out_proj.weight.T + attn.out_proj.bias
        outputs.append(pool.norm(attended + query))
    return torch.stack(outputs), torch.tensor([[b, 0, y, x] for b, y, x in columns], dtype=torch.int32)


def test_pillar_pool_slots_order_query_floor_and_mask():
    torch.manual_seed(0)
    pool = AttentionPillarPool(8, slots=4, num_heads=2).eval()
    _randomise_norms(pool)
    # voxels of two samples out of order; pillar (0, 1, 2) has slots 0 and 3, others one or two slots
    coords = torch.tensor(
        [[1, 2, 0, 1], [0, 3, 1, 2], [0, 0, 0, 3], [0, 0, 1, 2], [1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 3, 3]]
    )
    features = torch.randn(len(coords), 8) - 1.0  # mostly negative: the 0 floor of the query matters
    with torch.no_grad():
        out = pool(SparseVoxels(features, coords, (4, 4, 4), batch_size=2))
        expected, expected_coords = _pool_by_hand(pool, features, coords)
    assert out.sparse_shape == (1, 4, 4)
    assert torch.equal(out.coords, expected_coords)  # ascending (b, y, x), z = 0
    torch.testing.assert_close(out.features, expected, rtol=1e-5, atol=1e-5)


def test_pillar_pool_ignores_the_embedding_of_empty_slots():
    torch.manual_seed(1)
    pool = AttentionPillarPool(8, slots=4, num_heads=2).eval()
    voxels = SparseVoxels(torch.randn(3, 8), torch.tensor([[0, 0, 0, 0], [0, 2, 0, 0], [0, 1, 1, 1]]), (4, 2, 2), 1)
    with torch.no_grad():
        before = pool(voxels).features
        pool.pos_embedding.weight[3] += 5.0  # slot 3 holds no voxel
        unchanged = pool(voxels).features
        pool.pos_embedding.weight[2] += 5.0  # slot 2 holds pillar (0, 0)'s second voxel
        changed = pool(voxels).features
    assert torch.equal(before, unchanged)
    assert not torch.allclose(before[0], changed[0]) and torch.equal(before[1], changed[1])


def _line_voxels(channels: int) -> SparseVoxels:
    """Voxels along x and y through (0, 1, 1, 1) on a (3, 4, 4) grid."""
    coords = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 2], [0, 1, 2, 1], [0, 2, 1, 1]])
    return SparseVoxels(torch.randn(len(coords), channels), coords, (3, 4, 4), 1)


def test_cross_window_ffn_replaces_the_stream_by_bn_and_doubles_the_untouched_quarter():
    torch.manual_seed(0)
    layer = CrossWindowFFN(8, conv_size=3).eval()
    _randomise_norms(layer)
    voxels = _line_voxels(8)
    with torch.no_grad():
        for conv in (layer.conv_xyz, layer.conv_x, layer.conv_y):
            conv.weight.zero_()
        layer.fc2.weight.zero_()
        layer.fc2.bias.zero_()
        out = layer(voxels.features, voxels)
        normed = layer.bn(voxels.features)
    torch.testing.assert_close(out, torch.cat([normed[:, :6], 2 * normed[:, 6:]], dim=1))


def test_cross_window_strips_run_along_x_and_y():
    torch.manual_seed(0)
    layer = CrossWindowFFN(4, conv_size=3).eval()
    voxels = _line_voxels(1)
    x = voxels.features
    with torch.no_grad():
        layer.conv_x.weight.zero_()
        layer.conv_x.weight[2] = 1.0  # (1, 1, 3) strip: offset dx = +1
        layer.conv_y.weight.zero_()
        layer.conv_y.weight[2] = 1.0  # (1, 3, 1) strip: offset dy = +1
        along_x = layer.conv_x(x, voxels)[:, 0]
        along_y = layer.conv_y(x, voxels)[:, 0]
    assert torch.equal(along_x, torch.stack([x[1, 0], x.new_zeros(()), x.new_zeros(()), x.new_zeros(())]))
    assert torch.equal(along_y, torch.stack([x[2, 0], x.new_zeros(()), x.new_zeros(()), x.new_zeros(())]))


def test_linear_attention_is_relu_kernel_without_scale():
    torch.manual_seed(0)
    attn = ScatteredLinearAttention(8, num_heads=2)
    coords = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 3, 3], [0, 0, 0, 2], [1, 0, 0, 0]])
    voxels = SparseVoxels(torch.randn(5, 8), coords, (2, 4, 4), 2)
    windows = voxels.windows((2, 2, 2))
    with torch.no_grad():
        out = attn(voxels.features, windows)
        q, k, v = attn.qkv(voxels.features).view(5, 3, 2, 4).unbind(1)
        q, k = q.relu(), k.relu()
        expected = torch.empty(5, 2, 4)
        for members in ([0, 1], [2], [3], [4]):  # windows (b, y // 2, x // 2)
            kv = torch.einsum("nhd,nhe->hde", k[members], v[members])
            norm = torch.einsum("nhd,hd->nh", q[members], k[members].sum(0))[..., None] + 1e-6
            expected[members] = torch.einsum("nhd,hde->nhe", q[members], kv) / norm
        expected = attn.proj(expected.reshape(5, 8))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_tiny_backbone_runs_and_outputs_sorted_pillars():
    torch.manual_seed(0)
    backbone = ScatterFormerOfficial(6, (7, 8, 8), channels=16, num_heads=2, window_size=4, layers=(1, 1)).eval()
    assert backbone.out_sparse_shape == (1, 4, 4) and backbone.pillar_pool.slots == 2
    coords = torch.unique(torch.stack([torch.randint(0, 2, (60,)), *(torch.randint(0, 8, (3, 60)))], 1), dim=0)
    coords[:, 1] = coords[:, 1] % 7
    coords = torch.unique(coords, dim=0)
    with torch.no_grad():
        out = backbone(SparseVoxels(torch.randn(len(coords), 6), coords, (7, 8, 8), 2))
    assert out.sparse_shape == (1, 4, 4) and out.features.shape[1] == 16 and torch.isfinite(out.features).all()
    keys = out.coords[:, 0] * 16 + out.coords[:, 2] * 4 + out.coords[:, 3]
    assert (out.coords[:, 1] == 0).all() and torch.equal(keys, torch.sort(torch.unique(keys)).values)


def test_backbone_rejects_an_odd_window():
    with pytest.raises(ConfigError, match="window_size must be even"):
        ScatterFormerOfficial(6, (7, 8, 8), channels=16, num_heads=2, window_size=5)


def _converted_part():
    model_cfg = _model_cfg("scatterformer_waymo.py")
    vfe, backbone = _vfe_and_backbone(model_cfg)
    ours = {**{f"voxel_encoder.{k}": v for k, v in vfe.state_dict().items()}}
    ours.update({f"backbone3d.{k}": v for k, v in backbone.state_dict().items()})
    official = random_state_dict(read_listing([LISTING]))
    return official, convert_state_dict(official, ours, model_cfg.to_dict(), "openpcdet", path=str(LISTING))


def test_checkpoint_rules_map_the_listed_vfe_and_backbone():
    official, ours = _converted_part()
    assert len(official) == len(ours) == 234
    pairs = {
        "vfe.pfn_layers.0.linear.weight": "voxel_encoder.pfn_layers.0.linear.weight",
        "backbone_3d.cpe.0.0.weight": "backbone3d.stem.conv_in.weight",
        "backbone_3d.cpe.2.conv2.bias": "backbone3d.stem.blocks.1.bias2",
        "backbone_3d.cpe.3.bn1.running_var": "backbone3d.stem.blocks.2.norm1.running_var",
        "backbone_3d.cpe.4.0.weight": "backbone3d.stem.conv_out.weight",
        "backbone_3d.stage1.1.weight": "backbone3d.block_norms.0.weight",
        "backbone_3d.stage1.2.weight": "backbone3d.downs.0.weight",
        "backbone_3d.stage2.0.attn_layers.2.qkv.weight": "backbone3d.blocks.1.attn_layers.2.qkv.weight",
        "backbone_3d.app.self_attn.in_proj_weight": "backbone3d.pillar_pool.self_attn.in_proj_weight",
        "backbone_3d.app.pos_embedding.weight": "backbone3d.pillar_pool.pos_embedding.weight",
    }
    for theirs, mine in pairs.items():
        assert torch.equal(ours[mine], official[theirs]), theirs
    # depth-wise (kz, ky, kx, C) -> (kz * ky * kx, C) in raster order; conv_h runs along x, conv_w along y
    for theirs, mine in (("conv_k", "conv_xyz"), ("conv_h", "conv_x"), ("conv_w", "conv_y")):
        weight = official[f"backbone_3d.stage2.0.cffn_layers.1.{theirs}.weight"]
        assert torch.equal(ours[f"backbone3d.blocks.1.cffn_layers.1.{mine}.weight"], weight.flatten(0, 2))
    assert official["backbone_3d.stage1.0.cffn_layers.0.conv_h.weight"].shape == (1, 1, 13, 32)
