"""Attention pooling: coordinates joined explicitly, empty slots masked, order independent."""

import torch

from voxformer.models.backbones3d import AttentionPool3d, pooled_shape
from voxformer.structures import SparseVoxels


def _voxels(rng):
    coords = torch.tensor(
        [[0, 0, 0, 0], [0, 1, 0, 0], [0, 3, 1, 1], [0, 2, 3, 2], [1, 0, 0, 0], [1, 4, 2, 3]], dtype=torch.int32
    )
    return SparseVoxels(torch.randn(len(coords), 8, generator=rng), coords, (5, 4, 4), batch_size=2)


def test_pooled_coordinates_and_shape(rng):
    pool = AttentionPool3d(8, 2, (2, 1, 1)).eval()
    out = pool(_voxels(rng))
    assert out.sparse_shape == pooled_shape((5, 4, 4), (2, 1, 1)) == (3, 4, 4)
    expected = {(0, 0, 0, 0), (0, 1, 1, 1), (0, 1, 3, 2), (1, 0, 0, 0), (1, 2, 2, 3)}
    assert {tuple(c) for c in out.coords.tolist()} == expected
    assert out.features.shape == (5, 8)


def test_lone_voxel_ignores_empty_slots(rng):
    """A pooled cell with one child attends only to it: LN(out_proj(value(x)) + x)."""
    pool = AttentionPool3d(8, 2, (2, 2, 2)).eval()
    voxels = SparseVoxels(
        torch.randn(1, 8, generator=rng), torch.tensor([[0, 1, 0, 1]], dtype=torch.int32), (2, 2, 2), 1
    )
    x = voxels.features
    attention = pool.attention
    value = x @ attention.in_proj_weight[16:].T + attention.in_proj_bias[16:]
    expected = pool.norm(attention.out_proj(value) + x)
    torch.testing.assert_close(pool(voxels).features, expected, rtol=1e-5, atol=1e-5)


def test_row_order_does_not_matter(rng):
    pool = AttentionPool3d(8, 2, (2, 2, 2)).eval()
    voxels = _voxels(rng)
    perm = torch.randperm(len(voxels), generator=rng)
    permuted = SparseVoxels(voxels.features[perm], voxels.coords[perm], voxels.sparse_shape, voxels.batch_size)
    a, b = pool(voxels), pool(permuted)
    assert torch.equal(a.coords, b.coords)
    torch.testing.assert_close(a.features, b.features, rtol=1e-5, atol=1e-5)


def test_empty_input(rng):
    voxels = SparseVoxels(torch.zeros(0, 8), torch.zeros(0, 4, dtype=torch.int32), (4, 4, 4), 1)
    out = AttentionPool3d(8, 2, (4, 1, 1))(voxels)
    assert len(out) == 0 and out.sparse_shape == (1, 4, 4)
