"""sparse_depthwise_conv: against dense conv3d (groups = C) masked to occupied voxels; neighbours; autograd."""

import pytest
import torch
import torch.nn.functional as F
from voxformer.ops import sparse_conv_neighbors, sparse_depthwise_conv

SHAPE = (4, 6, 7)
BACKENDS = ["reference", "triton"]  # triton runs under TRITON_INTERPRET=1 on the CPU


def random_voxels(rng, batch_size=2, m=40, channels=3):
    cells = torch.randperm(batch_size * SHAPE[0] * SHAPE[1] * SHAPE[2], generator=rng)[:m]
    z_y_x = SHAPE[0] * SHAPE[1] * SHAPE[2]
    b, rest = cells // z_y_x, cells % z_y_x
    coords = torch.stack([b, rest // (SHAPE[1] * SHAPE[2]), rest // SHAPE[2] % SHAPE[1], rest % SHAPE[2]], 1).int()
    return torch.randn(m, channels, generator=rng, dtype=torch.float64), coords


def dense_reference(features, coords, weight, kernel_size, bias, batch_size=2):
    """conv3d with groups = C on the dense grid (zeros at empty cells), read back at the voxels."""
    channels = features.shape[1]
    grid = features.new_zeros(batch_size, channels, *SHAPE)
    b, z, y, x = coords.long().unbind(1)
    grid[b, :, z, y, x] = features
    dense_weight = weight.t().reshape(channels, 1, *kernel_size)
    out = F.conv3d(grid, dense_weight, bias, padding=[k // 2 for k in kernel_size], groups=channels)
    return out[b, :, z, y, x]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel_size", [(3, 3, 3), (1, 13, 1), (1, 1, 13), (1, 1, 1), (3, 1, 5)])
def test_matches_dense_conv3d(kernel_size, backend, rng):
    features, coords = random_voxels(rng)
    volume = kernel_size[0] * kernel_size[1] * kernel_size[2]
    weight = torch.randn(volume, 3, generator=rng, dtype=torch.float64)
    bias = torch.randn(3, generator=rng, dtype=torch.float64)
    out = sparse_depthwise_conv(features, coords, SHAPE, weight, kernel_size, bias, backend=backend)
    torch.testing.assert_close(out, dense_reference(features, coords, weight, kernel_size, bias))


def test_triton_float32_many_channels_matches_reference(rng):
    features, coords = random_voxels(rng, m=80, channels=70)  # two channel blocks, the second partial
    features, weight = features.float(), torch.randn(27, 70, generator=rng)
    out = sparse_depthwise_conv(features, coords, SHAPE, weight, (3, 3, 3), backend="triton")
    expected = sparse_depthwise_conv(features, coords, SHAPE, weight, (3, 3, 3), backend="reference")
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_dense_and_gradcheck(backend, rng):
    features, coords = random_voxels(rng, m=25, channels=2)
    weight = torch.randn(27, 2, generator=rng, dtype=torch.float64)
    bias = torch.randn(2, generator=rng, dtype=torch.float64)
    conv = lambda f, w, b: sparse_depthwise_conv(f, coords, SHAPE, w, (3, 3, 3), b, backend=backend)
    inputs = [t.clone().requires_grad_(True) for t in (features, weight, bias)]
    dense_inputs = [t.clone().requires_grad_(True) for t in (features, weight, bias)]
    grad = torch.randn(25, 2, generator=rng, dtype=torch.float64)
    conv(*inputs).backward(grad)
    dense_reference(*dense_inputs[:1], coords, dense_inputs[1], (3, 3, 3), dense_inputs[2]).backward(grad)
    for mine, theirs in zip(inputs, dense_inputs):
        torch.testing.assert_close(mine.grad, theirs.grad)
    if backend == "reference":
        assert torch.autograd.gradcheck(conv, [t.detach().requires_grad_(True) for t in (features, weight, bias)])
    else:  # the interpreter is slow: check the kernel's own gradient path (features) on fewer voxels
        few = features[:10].detach().requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda f: sparse_depthwise_conv(f, coords[:10], SHAPE, weight, (3, 3, 3), backend=backend), [few]
        )


def test_neighbors_table():
    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=torch.int32)
    table = sparse_conv_neighbors(coords, (1, 2, 2), (1, 3, 3))  # offsets (dy, dx) raster from (-1, -1)
    assert table[0].tolist() == [-1, -1, -1, -1, 0, 1, -1, -1, 3]
    assert table[2].tolist() == [-1, -1, -1, -1, 2, -1, -1, -1, -1]  # other sample: no neighbours
    assert table[3].tolist() == [0, 1, -1, -1, 3, -1, -1, -1, -1]  # (y, x) = (1, 1): up-left, up, itself


def test_precomputed_neighbors_are_used(rng):
    features, coords = random_voxels(rng)
    weight = torch.randn(27, 3, generator=rng, dtype=torch.float64)
    table = sparse_conv_neighbors(coords, SHAPE, (3, 3, 3))
    torch.testing.assert_close(
        sparse_depthwise_conv(features, coords, SHAPE, weight, (3, 3, 3), neighbors=table),
        sparse_depthwise_conv(features, coords, SHAPE, weight, (3, 3, 3)),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_single_voxel(backend):
    no_coords = torch.zeros(0, 4, dtype=torch.int32)
    out = sparse_depthwise_conv(torch.zeros(0, 4), no_coords, SHAPE, torch.ones(27, 4), (3, 3, 3), backend=backend)
    assert out.shape == (0, 4)
    centre = torch.tensor([[0, 1, 1, 1]], dtype=torch.int32)
    weight = torch.arange(27.0)[:, None]
    one = sparse_depthwise_conv(torch.tensor([[2.0]]), centre, SHAPE, weight, (3, 3, 3), backend=backend)
    assert one.tolist() == [[2.0 * 13]]  # only the centre tap (index 13) sees a voxel


def test_bad_inputs_are_named():
    f, c = torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.int32)
    with pytest.raises(ValueError, match="kernel_size"):
        sparse_depthwise_conv(f, c, SHAPE, torch.zeros(4, 3), (2, 2, 1))
    with pytest.raises(ValueError, match="weight"):
        sparse_depthwise_conv(f, c, SHAPE, torch.zeros(27, 2), (3, 3, 3))
    with pytest.raises(ValueError, match="bias"):
        sparse_depthwise_conv(f, c, SHAPE, torch.zeros(27, 3), (3, 3, 3), bias=torch.zeros(2))
    with pytest.raises(ValueError, match="coords"):
        sparse_depthwise_conv(f, torch.zeros(2, 3, dtype=torch.int32), SHAPE, torch.zeros(27, 3), (3, 3, 3))
