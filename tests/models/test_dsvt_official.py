"""The published DSVT (DSVTOfficial + PFNDynamicVFE): parameter counts of the Waymo configs, the set partition
order, the upstream quirks (layer i takes configuration i's embedding; block ids count across stages; dense
pooling query; nested residual norms; Xavier init) and the checkpoint key rules."""

import functools
import math
from pathlib import Path

import pytest
import torch
from voxformer.ops import dsvt_sets, window_partition

from voxformer.apis.config import load_config
from voxformer.errors import ConfigError
from voxformer.models.backbones3d import DSVT, DenseQueryAttentionPool, DSVTOfficial
from voxformer.models.bev import PillarScatter
from voxformer.models.conversion import convert_state_dict, random_state_dict, read_listing
from voxformer.models.voxel_encoders import PFNDynamicVFE
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_keys"


@functools.cache
def _built(config: str):
    cfg = load_config(config)
    return cfg.model.to_dict(), MODELS.build(cfg.model)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("config", "vfe", "backbone", "kind"),
    [
        ("configs/dsvt/dsvt_pillar_waymo.py", 38_496, 2_684_928, DSVTOfficial),
        ("configs/dsvt/dsvt_voxel_waymo.py", 38_496, 3_133_824, DSVTOfficial),
        ("configs/dsvt/dsvt_pillar_waymo_v2.py", 76_608, 2_528_256, DSVT),  # voxformer's variant, unchanged
        ("configs/dsvt/dsvt_voxel_waymo_v2.py", 76_608, 2_976_576, DSVT),
    ],
)
def test_waymo_configs_have_their_parameter_counts(config, vfe, backbone, kind):
    _, model = _built(config)
    assert type(model.backbone3d) is kind
    assert (_count(model.voxel_encoder), _count(model.backbone3d), _count(model.to_bev)) == (vfe, backbone, 0)
    assert model.backbone3d.out_channels == model.to_bev.out_channels == 192
    assert model.backbone3d.out_sparse_shape == (1, 468, 468)


def test_pillar_scatter_refuses_a_backbone_that_keeps_z_cells():
    with pytest.raises(ConfigError, match="to_bev: PillarScatter needs pillars"):
        PillarScatter(in_channels=192, sparse_shape=(2, 468, 468))


def test_set_partition_follows_the_official_order_and_padding():
    # one 4 x 4 pillar window, five voxels at (y, x); voxel rows 0..4 in this order
    yx = [(0, 3), (1, 0), (0, 1), (2, 2), (1, 2)]
    coords = torch.tensor([[0, 0, y, x] for y, x in yx], dtype=torch.int32)
    partition = window_partition(coords, (1, 4, 4), (1, 4, 4))
    # y-major: (0,1)=2, (0,3)=0, (1,0)=1, (1,2)=4, (2,2)=3; x-major: (1,0)=1, (0,1)=2, (1,2)=4, (2,2)=3, (0,3)=0.
    # n = 5, tau = 3: two sets, slot k of set j takes rank floor((3j + k) * 5 / 6) = 0, 0, 1 | 2, 3, 4
    for axis, ranked in (("y", [2, 0, 1, 4, 3]), ("x", [1, 2, 4, 3, 0])):
        sets = dsvt_sets(partition, coords, 3, axis)
        assert sets.index.tolist() == [[ranked[0], ranked[0], ranked[1]], ranked[2:]]
        assert sets.mask.tolist() == [[False, True, False], [False, False, False]]


def test_set_order_puts_z_last_inside_a_window():
    zyx = [(1, 0, 0), (0, 0, 1), (0, 0, 0), (1, 1, 0)]
    coords = torch.tensor([[0, *c] for c in zyx], dtype=torch.int32)
    partition = window_partition(coords, (2, 2, 2), (2, 2, 2))
    # y, x, z: (0,0,0)=2, (1,0,0)=0, (0,0,1)=1, (1,1,0)=3;  x, y, z: (0,0,0)=2, (1,0,0)=0, (1,1,0)=3, (0,0,1)=1
    assert dsvt_sets(partition, coords, 4, "y").index.tolist() == [[2, 0, 1, 3]]
    assert dsvt_sets(partition, coords, 4, "x").index.tolist() == [[2, 0, 3, 1]]


def _voxels(shape, num, seed=0, channels=8):
    generator = torch.Generator().manual_seed(seed)
    flat = torch.randperm(shape[0] * shape[1] * shape[2], generator=generator)[:num]
    z, y, x = flat // (shape[1] * shape[2]), flat // shape[2] % shape[1], flat % shape[2]
    coords = torch.stack([torch.zeros_like(z), z, y, x], 1).int()
    return SparseVoxels(torch.randn(num, channels, generator=generator), coords, shape, 1)


def _record(modules):
    """Forward-pre-hook every module; returns the list of positional args each call received."""
    calls = {m: [] for m in modules}
    for m in modules:
        m.register_forward_pre_hook(lambda mod, args: calls[mod].append(args))
    return calls


def _relative(voxels, window, shift, dims=2):
    c = voxels.coords.long()
    inner = [(c[:, 3 - a] + shift[2 - a]) % window[2 - a] - window[2 - a] / 2 for a in range(dims)]  # x, y[, z]
    return torch.stack(inner, 1).float()


def test_layer_i_takes_configuration_i_embedding_and_block_ids_alternate_the_windows():
    windows = ((1, 4, 4), (0, 0, 0)), ((1, 8, 8), (0, 2, 2))
    model = DSVTOfficial(
        8,
        (1, 16, 16),
        channels=8,
        num_heads=2,
        ffn_channels=16,
        blocks=[2],
        set_size=[5],
        window_shape=[windows[0][0]],
        shifted_window_shape=[windows[1][0]],
        shift=[windows[1][1]],
    )
    model.eval()
    voxels = _voxels((1, 16, 16), 60)
    embeds = _record([e.position_embedding_head for b in model.stages[0] for e in b.pos_embeds])
    layers = _record([layer for b in model.stages[0] for layer in b.layers])
    model(voxels)
    for b, block in enumerate(model.stages[0]):
        for i in range(2):
            (relative,) = embeds[block.pos_embeds[i].position_embedding_head][0]
            assert torch.equal(relative, _relative(voxels, *windows[i]))  # configuration i, whatever block b uses
            sets = layers[block.layers[i]][0][2]
            expected = voxels.dsvt_sets(*windows[b % 2], 5, ("y", "x")[i])
            assert torch.equal(sets.index, expected.index)


def test_block_ids_count_across_stages():
    model = DSVTOfficial(
        8,
        (4, 8, 8),
        channels=8,
        num_heads=2,
        ffn_channels=16,
        blocks=[1, 1],
        set_size=[6, 6],
        window_shape=[[4, 4, 4], [1, 4, 4]],
        shifted_window_shape=[[4, 8, 8], [1, 8, 8]],
        shift=[[0, 2, 2], [0, 2, 2]],
        pool_stride=[[4, 1, 1]],
    )
    model.eval()
    assert model.out_sparse_shape == (1, 8, 8)
    layers = _record([model.stages[1][0].layers[0]])
    out = model(_voxels((4, 8, 8), 50))
    sets = layers[model.stages[1][0].layers[0]][0][2]
    assert torch.equal(sets.index, out.dsvt_sets((1, 8, 8), (0, 2, 2), 6, "y").index)  # block 1: configuration 1
    assert not torch.equal(sets.index, out.dsvt_sets((1, 4, 4), (0, 0, 0), 6, "y").index)


def test_block_nests_residual_norms_around_layers_and_block():
    model = DSVTOfficial(
        8,
        (1, 8, 8),
        channels=8,
        num_heads=2,
        ffn_channels=16,
        blocks=[1],
        set_size=[4],
        window_shape=[[1, 4, 4]],
        shifted_window_shape=[[1, 8, 8]],
        shift=[[0, 2, 2]],
    )
    model.eval()
    voxels = _voxels((1, 8, 8), 30)
    block = model.stages[0][0]
    out = model(voxels).features
    x = voxels.features
    windows = model.stage_configs[0]["windows"]
    y = x
    for i, layer in enumerate(block.layers):
        pos = block.pos_embeds[i](_relative(voxels, *windows[i]))
        sets = voxels.dsvt_sets(*windows[0], 4, ("y", "x")[i])
        y = layer.norm(layer.win_attn(y, pos, sets.index, sets.mask) + y)
    torch.testing.assert_close(out, block.norm(y + x))


def test_dense_pool_takes_the_max_over_zero_filled_slots_and_masks_nothing():
    pool = DenseQueryAttentionPool(4, (2, 1, 2), num_heads=2).eval()
    features = -torch.rand(3, 4) - 0.5  # all negative: the zero slots win the max
    coords = torch.tensor([[0, 1, 0, 0], [0, 0, 0, 1], [0, 1, 0, 3]], dtype=torch.int32)
    out = pool(SparseVoxels(features, coords, (2, 1, 4), 1))
    assert out.coords.tolist() == [[0, 0, 0, 0], [0, 0, 0, 1]]
    slots = torch.zeros(2, 4, 4)
    slots[0, 1] = features[0]  # slot ((x % 2) * 1 + 0) * 2 + z % 2: x-major, as upstream
    slots[0, 2] = features[1]
    slots[1, 3] = features[2]
    query = torch.zeros(2, 1, 4)
    attended, _ = pool.self_attn(query, slots + pool.pos_embedding, slots)
    torch.testing.assert_close(out.features, pool.norm(attended + query)[:, 0])


def test_backbone_weight_matrices_start_xavier_uniform():
    model = DSVTOfficial(
        16,
        (4, 8, 8),
        channels=16,
        num_heads=2,
        ffn_channels=32,
        blocks=[1, 1],
        set_size=[6, 6],
        window_shape=[[4, 4, 4], [1, 4, 4]],
        shifted_window_shape=[[4, 8, 8], [1, 8, 8]],
        shift=[[0, 2, 2], [0, 2, 2]],
        pool_stride=[[4, 1, 1]],
    )
    matrices = {n: p for n, p in model.named_parameters() if p.dim() > 1}
    assert "pools.0.pos_embedding" in matrices
    for name, p in matrices.items():
        bound = math.sqrt(6 / (p.shape[0] + p.shape[1]))
        assert p.abs().max() <= bound and p.abs().max() > 0.6 * bound, name


def test_pfn_vfe_layers_are_half_width_with_batchnorm_then_full_width():
    vfe = PFNDynamicVFE(4, [8, 6], voxel_size=[1.0, 1.0, 4.0], point_cloud_range=[0, 0, -2, 4, 4, 2]).eval()
    assert [tuple(layer.linear.weight.shape) for layer in vfe.pfn_layers] == [(4, 10), (6, 8)]
    points = torch.tensor([[0.2, 0.3, 0.5, 0.1], [0.8, 0.1, -1.0, 0.4], [2.5, 3.5, 1.0, 0.9]])
    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 3, 2]], dtype=torch.int32)
    out = vfe(points, torch.tensor([0, 0, 1]), coords, 1).features
    mean = torch.stack([points[:2, :3].mean(0), points[:2, :3].mean(0), points[2, :3]])
    centre = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [2.5, 3.5, 0.0]])
    x = torch.cat([points, points[:, :3] - mean, points[:, :3] - centre], 1)
    first, second = vfe.pfn_layers
    h = torch.relu(first.norm(first.linear(x)))
    h = torch.cat([h, torch.stack([h[:2].amax(0), h[:2].amax(0), h[2]])], 1)
    h = torch.relu(second.norm(second.linear(h)))
    torch.testing.assert_close(out, torch.stack([h[:2].amax(0), h[2]]))


def test_official_backbone_keys_map_onto_ours():
    model_cfg, model = _built("configs/dsvt/dsvt_voxel_waymo.py")
    ours = {k: v for k, v in model.state_dict().items() if k.startswith(("voxel_encoder.", "backbone3d."))}
    official = random_state_dict(read_listing([FIXTURES / "dsvt_voxel_waymo.vfe_backbone.txt"]))
    converted = convert_state_dict(official, ours, model_cfg, "openpcdet", path="dsvt_voxel.pth")
    pairs = [  # (official key without "backbone_3d.", ours without "backbone3d.")
        (
            "input_layer.posembed_layers.2.0.1.position_embedding_head.1.running_var",
            "stages.2.0.pos_embeds.1.position_embedding_head.1.running_var",
        ),
        ("stage_1.0.encoder_list.1.win_attn.self_attn.in_proj_weight", "stages.1.0.layers.1.win_attn.in_proj_weight"),
        ("stage_3.0.encoder_list.0.win_attn.self_attn.out_proj.bias", "stages.3.0.layers.0.win_attn.out_proj.bias"),
        ("stage_3.0.encoder_list.0.win_attn.norm2.bias", "stages.3.0.layers.0.win_attn.norm2.bias"),
        ("stage_0.0.encoder_list.1.norm.weight", "stages.0.0.layers.1.norm.weight"),
        ("residual_norm_stage_2.0.weight", "stages.2.0.norm.weight"),
        ("stage_2_reduction.pos_embedding", "pools.2.pos_embedding"),
    ]
    assert torch.equal(
        converted["voxel_encoder.pfn_layers.0.linear.weight"], official["vfe.pfn_layers.0.linear.weight"]
    )
    for theirs, mine in pairs:
        assert torch.equal(converted[f"backbone3d.{mine}"], official[f"backbone_3d.{theirs}"]), theirs
