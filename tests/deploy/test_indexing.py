"""The plan of a pooled backbone covers its pooled levels, and rebuilding it from coordinates alone gives the
partitions of the eager forward; the pooling partition is the unique of the coarse cells."""

import pytest
import torch
from voxformer.ops import decode_voxel_keys, encode_voxel_keys

from voxformer.deploy.export import example_scan
from voxformer.deploy.indexing import POOLED, build_partitions, plan_entries, record_plan, voxels_cache
from voxformer.structures import SparseVoxels

from .conftest import QUICK, build


@pytest.mark.parametrize("stride", [(2, 2, 2), (4, 1, 1), (1, 3, 2)])
def test_pooling_is_the_sorted_unique_of_the_coarse_cells(rng, stride):
    shape = (8, 20, 18)
    cells = torch.randperm(2 * shape[0] * shape[1] * shape[2], generator=rng)[:300]
    coords = decode_voxel_keys(cells, shape)  # two samples, unique rows in random order
    voxels = SparseVoxels(torch.zeros(len(coords), 1), coords, shape, 2)
    pooling = voxels.pooling(stride)
    parent = [coords[:, 0].long()] + [coords[:, 1 + a].long() // stride[a] for a in range(3)]
    coarse = tuple(-(-s // k) for s, k in zip(shape, stride))
    keys, inverse = torch.unique(encode_voxel_keys(parent, coarse), sorted=True, return_inverse=True)
    assert torch.equal(pooling.coords, decode_voxel_keys(keys, coarse)) and torch.equal(pooling.inverse, inverse)
    pooled = voxels.pooled(stride, torch.ones(len(keys), 3))
    assert pooled.sparse_shape == coarse and pooled.cache is voxels.cache[(POOLED, stride)]


def _fields(value):
    if isinstance(value, dict):
        return {}
    if torch.is_tensor(value):
        return {"table": value}
    return {name: getattr(value, name) for name in value._fields if torch.is_tensor(getattr(value, name))}


def test_plan_covers_the_pooled_levels_and_rebuilds_them_from_coordinates():
    model = build(QUICK["scatterformer"])
    inputs = model.data_preprocessor(dict(inputs=dict(points=[example_scan(model.cfg, 3000, 3)])))["inputs"]
    plan = record_plan(model, inputs)
    levels = [level for level, _ in plan_entries(plan)]
    assert sorted(set(levels)) == [0, 1]  # stage 1 after the pooling; the pillars (level 2) only give coords
    assert [key for _, key in plan_entries(plan) if key[0] == POOLED] == [(POOLED, (2, 2, 2)), (POOLED, (4, 1, 1))]

    eager = {}
    with voxels_cache(model, eager), torch.no_grad():
        model(inputs, mode="tensor")
    caches = [eager]
    for level, key in plan_entries(plan):  # the eager pooled levels' caches, in the order they were made
        if key[0] == POOLED:
            caches.append(caches[level][key])
    rebuilt = build_partitions(plan, inputs["coords"], model.data_preprocessor.sparse_shape, 1)
    assert len(rebuilt) == len(caches) == 3
    for level, key in plan_entries(plan):
        expected, got = _fields(caches[level][key]), _fields(rebuilt[level][key])
        assert expected.keys() == got.keys()
        for name, value in expected.items():
            assert torch.equal(got[name], value), (level, key, name)
