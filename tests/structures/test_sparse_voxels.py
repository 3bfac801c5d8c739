import pytest
import torch

from voxformer import ops
from voxformer.structures import SparseVoxels


def random_voxels(batch_size=2, shape=(3, 10, 12), per_sample=(20, 0), channels=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    features, coords = [], []
    cells = shape[0] * shape[1] * shape[2]
    for count in per_sample[:batch_size]:
        flat = torch.randperm(cells, generator=g)[:count]
        z = flat // (shape[1] * shape[2])
        y = (flat // shape[2]) % shape[1]
        x = flat % shape[2]
        coords.append(torch.stack([z, y, x], 1))
        features.append(torch.randn(count, channels, generator=g))
    return SparseVoxels.from_lists(features, coords, shape)


def test_from_lists_batches_and_keeps_empty_samples():
    voxels = random_voxels(per_sample=(20, 0))
    assert voxels.batch_size == 2 and len(voxels) == 20
    assert voxels.coords.dtype == torch.int32 and torch.all(voxels.coords[:, 0] == 0)
    assert voxels.dense().shape == (2, 4, 3, 10, 12)
    assert voxels.dense()[1].abs().sum() == 0


def test_dense_round_trip():
    voxels = random_voxels(per_sample=(25, 17))
    dense = voxels.dense()
    back = SparseVoxels.from_dense(dense)
    order_a = torch.argsort(voxels.flat_index())
    order_b = torch.argsort(back.flat_index())
    torch.testing.assert_close(back.coords[order_b], voxels.coords[order_a])
    torch.testing.assert_close(back.features[order_b], voxels.features[order_a])


def test_bev_folds_height_into_channels():
    voxels = random_voxels(per_sample=(30, 5))
    bev = voxels.dense(bev=True)
    assert bev.shape == (2, 4 * 3, 10, 12)
    b, z, y, x = voxels.coords[0].tolist()
    torch.testing.assert_close(bev[b, torch.arange(4) * 3 + z, y, x], voxels.features[0])


def test_partition_cache_is_built_once_and_shared_with_new_features():
    voxels = random_voxels()
    calls = []

    def build():
        calls.append(1)
        return torch.argsort(voxels.flat_index())

    first = voxels.partition(("window", (1, 4, 4), (0, 0, 0)), build)
    updated = voxels.replace_features(voxels.features * 2)
    second = updated.partition(("window", (1, 4, 4), (0, 0, 0)), build)
    assert first is second and len(calls) == 1
    updated.partition(("window", (1, 4, 4), (0, 2, 2)), build)
    assert len(calls) == 2
    assert voxels.to(torch.float64).cache == {}


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="coords"):
        SparseVoxels(torch.zeros(3, 2), torch.zeros(3, 3, dtype=torch.int32), (1, 2, 2), 1)
    with pytest.raises(ValueError, match="features"):
        SparseVoxels(torch.zeros(2, 2), torch.zeros(3, 4, dtype=torch.int32), (1, 2, 2), 1)


def test_typed_partitions_are_cached_per_arguments_and_match_the_ops():
    voxels = random_voxels(per_sample=(25, 17))
    shared = voxels.replace_features(voxels.features + 1)
    windows = voxels.windows((1, 4, 4), (0, 2, 2))
    assert shared.windows([1, 4, 4], [0, 2, 2]) is windows
    assert voxels.windows((1, 4, 4)) is not windows
    expected = ops.window_partition(voxels.coords, voxels.sparse_shape, (1, 4, 4), (0, 2, 2), voxels.batch_size)
    assert torch.equal(windows.order, expected.order) and windows.num_windows == expected.num_windows

    sets = voxels.dsvt_sets((1, 4, 4), (0, 2, 2), 5, "y")
    assert voxels.dsvt_sets((1, 4, 4), (0, 2, 2), 5, "y") is sets
    assert voxels.dsvt_sets((1, 4, 4), (0, 2, 2), 5, "x") is not sets
    assert torch.equal(sets.index, ops.dsvt_sets(expected, voxels.coords, 5, "y").index)

    groups = voxels.flat_groups((1, 5, 5), 8, "x", shifted=True)
    assert voxels.flat_groups((1, 5, 5), 8, "x", shifted=True) is groups
    assert voxels.flat_groups((1, 5, 5), 8, "x") is not groups
    direct = ops.flat_groups(voxels.coords, voxels.sparse_shape, (1, 5, 5), 8, "x", True, voxels.batch_size)
    assert torch.equal(groups.index, direct.index)
    official = voxels.flat_groups((1, 5, 5), 8, "x", True, in_window="mirrored", padding="overlap")
    assert voxels.flat_groups((1, 5, 5), 8, "x", True, in_window="mirrored", padding="overlap") is official
    assert official is not groups
    direct = ops.flat_groups(
        voxels.coords, voxels.sparse_shape, (1, 5, 5), 8, "x", True, voxels.batch_size,
        in_window="mirrored", padding="overlap",
    )  # fmt: skip
    assert torch.equal(official.index, direct.index) and torch.equal(official.mask, direct.mask)

    table = voxels.neighbours((3, 3, 3))
    assert shared.neighbours([3, 3, 3]) is table
    assert voxels.neighbours((1, 3, 1)) is not table
    assert torch.equal(table, ops.sparse_conv_neighbors(voxels.coords, voxels.sparse_shape, (3, 3, 3)))
    assert voxels.to(torch.float64).neighbours((3, 3, 3)) is not table
