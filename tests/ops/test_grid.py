"""Voxel keys: the encoding round-trips through its inverse and sorts as (b, z, y, x)."""

import torch
from voxformer.ops import decode_voxel_keys, encode_voxel_keys

SHAPE = (3, 5, 7)  # (Z, Y, X)


def _all_coords(batch_size=2):
    b, z, y, x = torch.meshgrid(*(torch.arange(n) for n in (batch_size, *SHAPE)), indexing="ij")
    return torch.stack([b.flatten(), z.flatten(), y.flatten(), x.flatten()], dim=1).int()


def test_keys_round_trip_and_sort_as_batch_z_y_x(rng):
    coords = _all_coords()[torch.randperm(2 * 3 * 5 * 7, generator=rng)]
    keys = encode_voxel_keys(coords.unbind(1), SHAPE)
    assert keys.dtype == torch.int64
    assert torch.equal(decode_voxel_keys(keys, SHAPE), coords)
    by_key = coords[torch.argsort(keys)]
    assert torch.equal(by_key, _all_coords())  # meshgrid "ij" order is lexicographic in (b, z, y, x)
    assert torch.equal(torch.sort(keys).values, torch.arange(len(coords)))  # dense: every cell one key


def test_keys_follow_the_formula_and_broadcast():
    batch, z, y, x = torch.tensor([[1]]), torch.tensor([[2]]), torch.tensor([[3, 4]]), torch.tensor([[6], [0]])
    keys = encode_voxel_keys((batch, z, y, x), SHAPE)
    z_size, y_size, x_size = SHAPE
    expected = ((1 * z_size + 2) * y_size + torch.tensor([[3, 4]])) * x_size + torch.tensor([[6], [0]])
    assert keys.shape == (2, 2) and torch.equal(keys, expected)


def test_keys_do_not_overflow_int32_coords():
    coords = torch.tensor([[40, 39, 1599, 1407]], dtype=torch.int32)  # a 0.05 m KITTI grid, batch 40
    shape = (40, 1600, 1408)
    key = encode_voxel_keys(coords.unbind(1), shape)
    assert int(key) == ((40 * 40 + 39) * 1600 + 1599) * 1408 + 1407 > 2**31
    assert torch.equal(decode_voxel_keys(key, shape), coords)
