"""SphereFormer: the block (head split, both window kinds, RPE tables), xyz pooling, the two backbones, configs."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from voxformer.errors import ConfigError
from voxformer.models.backbones3d.sphereformer import DropPath, SphereFormerBlock, pool_xyz
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels
from voxformer.structures.det3d_sample import Det3DSample, PointData

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
SPHERE_CONFIGS = sorted(p.name for p in (CONFIG_ROOT / "sphereformer").glob("*.py"))
CUBE, WEDGE = [2.0, 2.0, 2.0], [10.0, 10.0, 80.0]
ORIGIN = [-3.0, -3.0, -3.0]

# A and B share a 2 m cube (from ORIGIN) but not a 10-degree wedge (azimuths 206.6 and 153.4 degrees);
# C and D share a wedge (azimuth 180.6, inclination 90 degrees, ranges 10 and 30 m) but not a cube;
# E shares neither with any of them.
XYZ = torch.tensor([[0.2, 0.1, 0.0], [0.2, -0.1, 0.0], [10.0, 0.1, 0.0], [30.0, 0.3, 0.0], [20.0, 15.0, 4.0]])
A, B, C, D, E = range(5)


def _voxels(features, xyz=XYZ):
    coords = torch.stack([torch.zeros(len(xyz), dtype=torch.int32), torch.arange(len(xyz), dtype=torch.int32),
                          torch.zeros(len(xyz), dtype=torch.int32), torch.zeros(len(xyz), dtype=torch.int32)], 1)
    return SparseVoxels(features, coords, (len(xyz), 1, 1), 1, xyz=xyz)


def _block(channels=16, heads=4, **kwargs):
    torch.manual_seed(0)
    return SphereFormerBlock(channels, heads, CUBE, WEDGE, cubic_origin=ORIGIN, **kwargs).eval()


@pytest.mark.parametrize("heads", [1, 2, 3, 4])
def test_heads_split_floor_half_cubic_and_tables_have_their_shapes(heads):
    block = _block(channels=12 if heads == 3 else 16, heads=heads)
    attn = block.attn
    assert attn.cubic_heads == heads // 2 and attn.radial_heads == heads - heads // 2
    for name in ("q", "k", "v"):
        assert getattr(attn, f"radial_table_{name}").shape == (3, 48, heads - heads // 2, attn.head_dim)
        if heads > 1:
            assert getattr(attn, f"cubic_table_{name}").shape == (3, 47, heads // 2, attn.head_dim)
        else:
            assert not hasattr(attn, f"cubic_table_{name}")
    features = torch.randn(5, attn.channels, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = block(_voxels(features))
    assert out.features.shape == features.shape and torch.isfinite(out.features).all()
    assert out.xyz is XYZ and torch.equal(out.coords, _voxels(features).coords)


def test_tables_start_trunc_normal_with_std_002():
    torch.manual_seed(0)
    attn = SphereFormerBlock(64, 4, CUBE, WEDGE).attn
    for table in (attn.cubic_table_q, attn.radial_table_k, attn.radial_table_v):
        assert 0.019 < table.std().item() < 0.021 and abs(table.mean().item()) < 0.002


def _changes(block, source, target):
    """Whether changing voxel ``source``'s features changes voxel ``target``'s output."""
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(5, 16, generator=generator)
    changed = features.clone()
    changed[source] += torch.randn(16, generator=generator)
    with torch.no_grad():
        before, after = block(_voxels(features)).features, block(_voxels(changed)).features
    return not torch.allclose(before[target], after[target], atol=1e-6)


def test_output_mixes_cubic_and_radial_windows_and_nothing_else():
    block = _block()
    assert _changes(block, B, A) and _changes(block, A, B)  # cubic only
    assert _changes(block, D, C) and _changes(block, C, D)  # radial only
    for source in (A, B, C, D):
        assert not _changes(block, source, E)
    assert not _changes(block, C, A) and not _changes(block, A, C)


def test_cubic_neighbours_reach_only_through_the_cubic_heads():
    block = _block()
    with torch.no_grad():
        block.attn.qkv.weight[2 * 16:2 * 16 + 8] = 0.0  # values of the two cubic heads (4 heads of 4): zero
        block.attn.qkv.bias.zero_()
        block.attn.cubic_table_v.zero_()
    assert not _changes(block, B, A)  # the cubic heads now carry nothing from B
    assert _changes(block, D, C)


def test_gradients_reach_every_table_and_weight():
    block = _block().train()
    features = torch.randn(5, 16, generator=torch.Generator().manual_seed(3), requires_grad=True)
    block(_voxels(features)).features.square().sum().backward()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert features.grad.abs().sum() > 0


def test_partitions_and_positions_are_cached_on_the_voxels():
    block = _block()
    voxels = _voxels(torch.randn(5, 16))
    with torch.no_grad():
        first = block(voxels)
        keys = set(voxels.cache)
        second = block(first)
    assert any(k[0] == "radial_windows" for k in keys) and any(k[0] == "cubic_windows" for k in keys)
    assert set(voxels.cache) == keys and second.cache is voxels.cache


def test_a_block_without_xyz_is_a_config_error():
    coords = torch.zeros(2, 4, dtype=torch.int32)
    coords[1, 3] = 1
    with pytest.raises(ConfigError, match="xyz"):
        _block()(SparseVoxels(torch.randn(2, 16), coords, (1, 1, 2), 1))


def test_drop_path_drops_whole_rows_in_training_only():
    torch.manual_seed(0)
    drop = DropPath(0.5).train()
    out = drop(torch.ones(400, 8))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert torch.all((out == 0).all(1) | (out == 2).all(1))
    features = torch.randn(200, 16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(drop.eval()(features), features)
    assert _block(drop_path=0.5).drop_path.p == 0.5
    with pytest.raises(ConfigError, match="drop_path"):
        DropPath(1.0)


# --- xyz pooling ------------------------------------------------------------------------------------------------


@pytest.fixture
def spconv():
    return pytest.importorskip("spconv.pytorch", reason="the sparse convolutions need spconv")


def _grid_voxels(generator, count=300, shape=(8, 16, 16), batch_size=2):
    z, y, x = shape
    flat = torch.randperm(z * y * x, generator=generator)[:count]
    coords = torch.stack([torch.zeros_like(flat), flat // (y * x), flat // x % y, flat % x], 1).int()
    coords[count // 2:, 0] = batch_size - 1
    return coords


@pytest.mark.parametrize("encoder", [
    dict(type="DynamicVFE", in_channels=4, feat_channels=[8], normalize_inputs=True),
    dict(type="MeanVFE", in_channels=4, max_points_per_voxel=100, max_voxels=None),
])
def test_voxel_encoders_give_each_voxel_the_mean_xyz_of_its_points(encoder):
    from voxformer.ops import voxelize

    grid = dict(voxel_size=[0.5, 0.5, 0.5], point_cloud_range=[0.0, 0.0, 0.0, 2.0, 2.0, 1.0])
    generator = torch.Generator().manual_seed(10)
    points = torch.rand(80, 4, generator=generator) * torch.tensor([2.5, 2.0, 1.0, 1.0])  # some beyond x = 2 m
    voxels = voxelize([points], grid["voxel_size"], grid["point_cloud_range"])
    out = MODELS.build({**encoder, **grid})(points, voxels.point_to_voxel, voxels.coords, 1)
    expected = torch.stack([points[voxels.point_to_voxel == i, :3].mean(0) for i in range(len(voxels.coords))])
    assert (voxels.point_to_voxel < 0).any() and torch.allclose(out.xyz, expected, atol=1e-6)


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 2, (0, 1, 1))])
def test_pooled_xyz_is_the_mean_over_the_convolutions_input_output_pairs(spconv, kernel, stride, padding):
    from spconv.core import ConvAlgo

    generator = torch.Generator().manual_seed(5)
    coords = _grid_voxels(generator)
    xyz = torch.randn(len(coords), 3, generator=generator)
    conv = spconv.SparseConv3d(1, 1, kernel, stride=stride, padding=padding, bias=False, indice_key="d",
                               algo=ConvAlgo.Native)
    out = conv(spconv.SparseConvTensor(torch.ones(len(coords), 1), coords, [8, 16, 16], 2))
    pairs_in, pairs_out = out.indice_dict["d"].indice_pairs
    valid = pairs_in != -1
    rows_in, rows_out = pairs_in[valid].long(), pairs_out[valid].long()
    total = torch.zeros(len(out.indices), 3).index_add_(0, rows_out, xyz[rows_in])
    count = torch.zeros(len(out.indices)).index_add_(0, rows_out, torch.ones(len(rows_out)))
    padding = padding if isinstance(padding, tuple) else (padding,) * 3
    pooled = pool_xyz(xyz, coords, out.indices, out.spatial_shape, (kernel,) * 3, (stride,) * 3, padding)
    assert torch.allclose(pooled, total / count[:, None], atol=1e-6)


def test_pooled_xyz_of_two_children():
    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 2]], dtype=torch.int32)
    xyz = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0], [7.0, 7.0, 7.0]])
    out_coords = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.int32)  # any row order
    pooled = pool_xyz(xyz, coords, out_coords, (1, 1, 2), (2, 2, 2), (2, 2, 2), (0, 0, 0))
    assert pooled.tolist() == [[7.0, 7.0, 7.0], [2.0, 3.0, 4.0]]


# --- backbones --------------------------------------------------------------------------------------------------


def _sphere_entries(levels, present):
    return [dict(cubic_window=[1.0 * 2**i] * 3, radial_window=[20.0, 20.0, 80.0], drop_path=0.0) if i in present
            else None for i in range(levels)]


def _level_voxels(generator, channels=4, shape=(8, 16, 16)):
    coords = _grid_voxels(generator, shape=shape)
    xyz = (coords[:, [3, 2, 1]].float() + 0.5) * 0.5 - torch.tensor([4.0, 4.0, 2.0])
    return SparseVoxels(torch.randn(len(coords), channels, generator=generator), coords, shape, 2, xyz=xyz)


def _same_weights(source, target):
    missing, unexpected = target.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("transformer_blocks.") for k in missing)


def test_unet_without_blocks_is_the_plain_unet_and_with_blocks_keeps_the_voxels(spconv):
    unet_args = dict(in_channels=4, sparse_shape=[8, 16, 16], channels=[8, 16, 16], blocks=1)
    torch.manual_seed(0)
    plain = MODELS.build(dict(type="SparseUNet", **unet_args)).eval()
    empty = MODELS.build(dict(type="SphereFormerUNet", sphere_blocks=[None] * 3, head_dim=4, **unet_args)).eval()
    sphere = MODELS.build(
        dict(type="SphereFormerUNet", sphere_blocks=_sphere_entries(3, {0, 1, 2}), head_dim=4, **unet_args)
    ).eval()
    _same_weights(plain, empty)
    _same_weights(plain, sphere)
    assert set(sphere.transformer_blocks) == {"0", "1", "2"}
    assert [b.attn.num_heads for b in sphere.transformer_blocks.values()] == [2, 4, 4]
    voxels = _level_voxels(torch.Generator().manual_seed(6))
    order = torch.randperm(len(voxels), generator=torch.Generator().manual_seed(7))
    permuted = SparseVoxels(voxels.features[order], voxels.coords[order], voxels.sparse_shape, 2, xyz=voxels.xyz[order])
    with torch.no_grad():
        expected, same = plain(voxels), empty(voxels)
        out, out_permuted = sphere(voxels), sphere(permuted)
    assert torch.equal(same.features, expected.features)
    assert out.features.shape == expected.features.shape and torch.equal(out.coords, voxels.coords)
    assert not torch.allclose(out.features, expected.features, atol=1e-4)
    assert torch.allclose(out_permuted.features, out.features[order], atol=1e-4)


def test_resnet_with_blocks_after_the_stride_2_and_4_stages(spconv):
    resnet_args = dict(in_channels=4, sparse_shape=[24, 32, 32], channels=[16, 32, 64, 64], out_channels=32)
    torch.manual_seed(0)
    plain = MODELS.build(dict(type="SparseResNet8x", **resnet_args)).eval()
    sphere = MODELS.build(
        dict(type="SphereFormerResNet8x", sphere_blocks=_sphere_entries(4, {1, 2}), **resnet_args)
    ).eval()
    _same_weights(plain, sphere)
    assert [b.attn.num_heads for b in sphere.transformer_blocks.values()] == [2, 4]
    voxels = _level_voxels(torch.Generator().manual_seed(8), shape=(24, 32, 32))
    seen = []
    for block in sphere.transformer_blocks.values():
        block.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    with torch.no_grad():
        expected, out = plain(voxels), sphere(voxels)
    assert torch.equal(out.coords, expected.coords) and out.sparse_shape == expected.sparse_shape
    assert out.features.shape == expected.features.shape
    assert not torch.allclose(out.features, expected.features, atol=1e-4)
    # the stride-2 stage's voxels carry the mean xyz of their children's kernel windows (3 x 3 x 3, stride 2)
    stride2 = seen[0]
    assert stride2.coords[:, 1:].max() < 16 and len(seen) == 2
    expected_xyz = pool_xyz(voxels.xyz, voxels.coords, stride2.coords, stride2.sparse_shape, (3,) * 3, (2,) * 3,
                            (1,) * 3)
    assert torch.allclose(stride2.xyz, expected_xyz)


@pytest.mark.parametrize("entries, message", [
    ([None], "one entry"),
    ([dict(cubic_window=[1, 1, 1])] + [None] * 2, r"sphere_blocks\[0\]"),
])
def test_bad_sphere_blocks_are_config_errors(spconv, entries, message):
    with pytest.raises(ConfigError, match=message):
        MODELS.build(dict(type="SphereFormerUNet", in_channels=4, sparse_shape=[8, 16, 16], channels=[8, 16, 16],
                          sphere_blocks=entries, head_dim=4))


# --- configs and a training step --------------------------------------------------------------------------------


def _paramwise_lrs(cfg, model):
    from mmengine.optim import build_optim_wrapper

    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: group["lr"] for group in wrapper.optimizer.param_groups for p in group["params"]}


@pytest.mark.parametrize("name", SPHERE_CONFIGS)
def test_sphereformer_configs_build_with_their_published_windows(spconv, name):
    cfg = Config.fromfile(CONFIG_ROOT / "sphereformer" / name)
    backbone = MODELS.build(cfg.model).backbone3d
    blocks = list(backbone.transformer_blocks.values())
    assert blocks and all(b.attn.range_unit == 0.0125 and b.attn.quant_bins == 24 for b in blocks)
    radial = [b.attn.radial_window for b in blocks]
    assert all(r[2] == radial[0][2] for r in radial) and all(a[0] < b[0] for a, b in zip(radial, radial[1:]))
    if cfg.model.type == "VoxelSegmentor":
        levels = [1, 2, 3, 4] if "quick" in name else [0, 1, 2, 3, 4]  # the quick config has no level-0 block
        assert sorted(int(k) for k in backbone.transformer_blocks) == levels
        assert [b.drop_path.p for b in blocks] == [[0.0, 0.05, 0.10, 0.15, 0.20][i] for i in levels]
        assert cfg.optim_wrapper.optimizer.type == "AdamW"
    else:
        assert [b.attn.num_heads for b in blocks] == [2, 4] and [b.drop_path.p for b in blocks] == [0.05, 0.10]


@pytest.mark.parametrize("name", [n for n in SPHERE_CONFIGS if "centerpoint" not in n])
def test_segmentation_configs_train_the_blocks_at_a_tenth_of_the_lr(spconv, name):
    cfg = Config.fromfile(CONFIG_ROOT / "sphereformer" / name)
    model = MODELS.build(cfg.model)
    lrs = _paramwise_lrs(cfg, model)
    base = cfg.optim_wrapper.optimizer.lr
    for param, lr in lrs.items():
        expected = 0.1 * base if ".transformer_blocks." in param else base
        assert lr == pytest.approx(expected), param
    assert any(".transformer_blocks." in p for p in lrs)


def test_quick_segmentor_trains_a_step_on_a_small_grid(spconv):
    cfg = Config.fromfile(CONFIG_ROOT / "sphereformer" / "sphereformer_synthetic_quick.py")
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor.point_cloud_range = [-6.4, -6.4, -4.0, 6.4, 6.4, 2.4]
    model_cfg.backbone3d.cubic_origin = [-6.4, -6.4, -4.0]
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    generator = torch.Generator().manual_seed(9)
    samples, points = [], []
    for n in (500, 300):
        xyz = (torch.rand(n, 3, generator=generator) - 0.5) * torch.tensor([12.0, 12.0, 5.0])
        points.append(torch.cat([xyz, torch.rand(n, 1, generator=generator)], 1))
        sample = Det3DSample()
        sample.gt_pts_seg = PointData(pts_semantic_mask=(xyz[:, 2] > 0).long())
        samples.append(sample)
    batch = dict(inputs=dict(points=points), data_samples=samples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    model.train()
    losses = model(**model.data_preprocessor(batch, True), mode="loss")
    total = sum(losses.values())
    assert set(losses) == {"loss_ce", "loss_lovasz"} and torch.isfinite(total)
    optimizer.zero_grad()
    total.backward()
    tables = [p for n, p in model.named_parameters() if "_table_" in n]
    assert len(tables) == 6 * 4 and all(t.grad is not None for t in tables)  # blocks on levels 1-4
    before = tables[0].detach().clone()
    optimizer.step()
    assert not torch.equal(before, tables[0])
    model.eval()
    with torch.no_grad():
        predicted = model(**model.data_preprocessor(batch), mode="predict")
    assert [p.pred_pts_seg.pts_semantic_mask.shape[0] for p in predicted] == [500, 300]


@pytest.mark.parametrize("task, model", [("seg", "dsvt"), ("det", "sphereformer")])
def test_quickstart_refuses_a_model_of_the_other_task_before_generating_data(tmp_path, capsys, task, model):
    from voxformer.cli import main

    argv = ["quickstart", "--task", task, "--model", model, "--data-root", str(tmp_path / "data")]
    assert main(argv) == 2
    assert f"--model {model} is not a {task} model" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
