"""3D backbones on tiny grids: forward/backward, equivariance to voxel row order, cached partitions,
and build-time errors for windows that do not fit."""

import pytest
import torch

from voxformer.models.backbones3d import DSVT, FlatFormer, ScatterFormer, sinusoidal_position
from voxformer.structures import SparseVoxels


def _random_voxels(rng, sparse_shape, channels=6, per_sample=(40, 25)):
    coords = []
    for b, n in enumerate(per_sample):
        cells = torch.randperm(sparse_shape[0] * sparse_shape[1] * sparse_shape[2], generator=rng)[:n]
        z = cells // (sparse_shape[1] * sparse_shape[2])
        y = cells // sparse_shape[2] % sparse_shape[1]
        x = cells % sparse_shape[2]
        coords.append(torch.stack([torch.full_like(z, b), z, y, x], dim=1))
    coords = torch.cat(coords).int()
    features = torch.randn(len(coords), channels, generator=rng)
    return SparseVoxels(features, coords, sparse_shape, len(per_sample))


def _dsvt_pillar(shape=(1, 16, 16)):
    return DSVT(
        6,
        shape,
        channels=16,
        num_heads=2,
        ffn_channels=32,
        blocks=[2],
        set_size=[6],
        window_shape=[[1, 4, 4]],
        shifted_window_shape=[[1, 8, 8]],
        shift=[[0, 2, 2]],
    )


def _dsvt_voxel(shape=(8, 16, 16)):
    return DSVT(
        6,
        shape,
        channels=16,
        num_heads=2,
        ffn_channels=32,
        blocks=[1, 1, 1],
        set_size=[8, 8, 6],
        window_shape=[[8, 4, 4], [2, 4, 4], [1, 4, 4]],
        shifted_window_shape=[[8, 8, 8], [2, 8, 8], [1, 8, 8]],
        shift=[[0, 2, 2], [0, 2, 2], [0, 2, 2]],
        pool_stride=[[4, 1, 1], [2, 1, 1]],
    )


def _flatformer(shape=(1, 16, 16)):
    return FlatFormer(
        6, shape, channels=16, num_heads=2, ffn_channels=32, window_shape=[1, 5, 5], group_size=8, blocks=1
    )


def _scatterformer(shape=(4, 16, 16)):
    return ScatterFormer(
        6, shape, channels=16, num_heads=2, ffn_channels=32, window_size=4, layers=[1, 1], downsample_stride=[[2, 2, 2]]
    )


CASES = {
    "dsvt_pillar": (_dsvt_pillar, (1, 16, 16), (1, 16, 16)),
    "dsvt_voxel": (_dsvt_voxel, (8, 16, 16), (1, 16, 16)),
    "flatformer": (_flatformer, (1, 16, 16), (1, 16, 16)),
    "scatterformer": (_scatterformer, (4, 16, 16), (1, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_backward(name, rng):
    make, shape, out_shape = CASES[name]
    model = make()
    voxels = _random_voxels(rng, shape)
    voxels.features.requires_grad_(True)
    out = model(voxels)
    assert out.sparse_shape == out_shape and out.num_channels == 16 and out.batch_size == 2
    assert torch.isfinite(out.features).all()
    out.features.square().sum().backward()
    assert voxels.features.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_equivariant_to_voxel_row_order(name, rng):
    make, shape, _ = CASES[name]
    model = make().eval()
    voxels = _random_voxels(rng, shape)
    perm = torch.randperm(len(voxels), generator=rng)
    permuted = SparseVoxels(voxels.features[perm], voxels.coords[perm], shape, voxels.batch_size)
    with torch.no_grad():
        a, b = model(voxels), model(permuted)
    key_a = {tuple(c): f for c, f in zip(a.coords.tolist(), a.features)}
    assert len(key_a) == len(b)
    for c, f in zip(b.coords.tolist(), b.features):
        torch.testing.assert_close(f, key_a[tuple(c)], rtol=1e-4, atol=1e-4)


def test_samples_do_not_interact(rng):
    """Changing sample 1 leaves sample 0's output unchanged (windows never span samples)."""
    model = _dsvt_pillar().eval()
    voxels = _random_voxels(rng, (1, 16, 16))
    changed = voxels.features.clone()
    changed[voxels.coords[:, 0] == 1] += 1.0
    with torch.no_grad():
        a = model(voxels).features
        b = model(SparseVoxels(changed, voxels.coords, voxels.sparse_shape, 2)).features
    first = voxels.coords[:, 0] == 0
    torch.testing.assert_close(a[first], b[first])
    assert not torch.allclose(a[~first], b[~first])


def test_dsvt_partitions_cached_once_per_configuration(rng):
    model = _dsvt_pillar()
    voxels = _random_voxels(rng, (1, 16, 16))
    out = model(voxels)
    keys = sorted(k for k in out.cache if isinstance(k, tuple))
    windows = [k for k in keys if k[0] == "window"]
    sets = [k for k in keys if k[0] == "dsvt_sets"]
    assert len(windows) == 2 and len(sets) == 4  # two configurations x (y-major, x-major)


def test_scatterformer_builds_each_neighbour_table_once_per_stage(rng, monkeypatch):
    """Stage 0 (4 x 16 x 16) and stage 1 (2 x 8 x 8) each need the 3x3x3, 1x1x5 and 1x5x1 tables, however
    many layers use them (the position convolution shares stage 0's 3x3x3 one)."""
    from voxformer import ops

    built = []
    original = ops.sparse_conv_neighbors

    def counting(coords, sparse_shape, kernel_size):
        built.append((tuple(sparse_shape), tuple(kernel_size)))
        return original(coords, sparse_shape, kernel_size)

    monkeypatch.setattr(ops, "sparse_conv_neighbors", counting)
    model = ScatterFormer(6, (4, 16, 16), channels=16, num_heads=2, ffn_channels=32, window_size=4, layers=[2, 2])
    model(_random_voxels(rng, (4, 16, 16)))
    kernels = [(3, 3, 3), (1, 1, 5), (1, 5, 1)]
    assert sorted(built) == sorted([((4, 16, 16), k) for k in kernels] + [((2, 8, 8), k) for k in kernels])


def test_dsvt_position_embedding_follows_window_configuration(rng):
    """Block 1 uses the shifted configuration: its embedding sees coordinates inside 8 x 8 windows."""
    model = _dsvt_pillar()
    seen = []
    model.stages[0][1].pos_embed.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    model(_random_voxels(rng, (1, 16, 16)))
    relative = seen[0]
    assert relative.shape[1] == 2 and relative.min() >= -4 and relative.max() <= 3
    assert relative.max() > 1.5  # beyond the small window's half width of 2


@pytest.mark.parametrize(
    "make, key",
    [
        (lambda: _dsvt_pillar((1, 6, 6)), "shifted_window_shape"),
        (lambda: _flatformer((1, 4, 4)), "window_shape"),
        (lambda: _scatterformer((4, 3, 16)), "window_size"),
    ],
)
def test_window_that_does_not_fit_raises_at_build(make, key):
    with pytest.raises(ValueError, match=key):
        make()


def test_dsvt_stage_lists_must_match():
    with pytest.raises(ValueError, match="set_size"):
        DSVT(6, (1, 16, 16), blocks=[1, 1], set_size=[6])


def test_sinusoidal_position_encoding_values():
    coords = torch.tensor([[0, 0, 3, 5]], dtype=torch.int32)  # x = 5, y = 3
    encoding = sinusoidal_position(coords, 10)  # 2 frequencies per axis, padded from 8 to 10
    freqs = torch.tensor([1.0, 10000.0**-0.5])
    expected = torch.cat([(5 * freqs).sin(), (5 * freqs).cos(), (3 * freqs).sin(), (3 * freqs).cos(), torch.zeros(2)])
    torch.testing.assert_close(encoding[0], expected)
