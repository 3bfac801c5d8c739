"""The data-dependent indexing of a detector, computed outside the exported graph and fed to it.

A 3D backbone asks its :class:`~voxformer.structures.SparseVoxels` for partitions (windows, DSVT sets,
FlatFormer groups, neighbour tables) through :meth:`SparseVoxels.partition`, keyed by name and arguments.
The *plan* of a model is the ordered list of keys it asks for (:func:`record_plan`, one eager forward). At
run time :func:`index_inputs` rebuilds every partition of the plan from the voxel coordinates alone (no
network) and flattens their tensor fields into named graph inputs (``p<i>_<field>``, e.g. ``p0_in_window``,
``p1_index``, ``p1_mask``). Inside the graph :class:`FedCache` hands those inputs back in place of the
partitions, so the graph holds no sort, no unique and no host sync.

Integer fields that change with the scan (``num_windows``) are not fed: a partition handed back in the graph
carries ``None`` there, so a model that sizes a tensor from one fails at export instead of freezing the
exporting scan's count into the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from voxformer.errors import VoxformerError
from voxformer.structures import SparseVoxels

# cache-key name -> the SparseVoxels method that builds it (its arguments are the rest of the key)
BUILDERS = {"window": "windows", "dsvt_sets": "dsvt_sets", "flat_groups": "flat_groups", "neighbours": "neighbours"}
PER_VOXEL_FIELDS = ("window_id", "segment", "order", "inverse", "in_window", "table")  # one row per voxel
SIZE_FIELDS = ("num_windows",)  # integer fields that vary with the scan: never baked into the graph


class _RecordingCache(dict):
    """A partition cache that remembers the order in which keys were first stored."""

    def __init__(self):
        super().__init__()
        self.keys_in_order: list[tuple] = []

    def __setitem__(self, key, value):
        if key not in self:
            self.keys_in_order.append(key)
        super().__setitem__(key, value)


def record_plan(model, inputs: dict) -> list[tuple]:
    """The partition keys ``model`` (a :class:`~voxformer.models.detectors.VoxelDetector`) asks its voxels for,
    in order, found by one eager forward on the voxelized ``inputs``."""
    cache = _RecordingCache()
    with voxels_cache(model, cache), torch.no_grad():
        model(inputs, mode="tensor")
    for key in cache.keys_in_order:
        if key[0] not in BUILDERS:
            raise VoxformerError(f"the backbone asks for a partition {key[0]!r} that voxformer.deploy cannot rebuild")
    return [tuple(_plain(part) for part in key) for key in cache.keys_in_order]


def _plain(part):
    return list(part) if isinstance(part, tuple) else part


def _key(entry: Sequence) -> tuple:
    return tuple(tuple(part) if isinstance(part, list) else part for part in entry)


@contextlib.contextmanager
def voxels_cache(model, cache: dict):
    """Within the block, the voxels that ``model``'s voxel encoder returns use ``cache`` as their partition cache."""

    def swap(_module, _args, voxels: SparseVoxels) -> SparseVoxels:
        return SparseVoxels(voxels.features, voxels.coords, voxels.sparse_shape, voxels.batch_size, cache)

    handle = model.voxel_encoder.register_forward_hook(swap)
    try:
        yield
    finally:
        handle.remove()


def build_partitions(plan: Sequence, coords: torch.Tensor, sparse_shape: Sequence[int], batch_size: int) -> dict:
    """Every partition of ``plan`` for voxels at ``coords`` (M, 4), keyed as the model keys them."""
    voxels = SparseVoxels(coords.new_zeros(len(coords), 0, dtype=torch.float32), coords, sparse_shape, batch_size)
    for entry in plan:
        key = _key(entry)
        getattr(voxels, BUILDERS[key[0]])(*key[1:])
    return voxels.cache


def partition_fields(value) -> list[str]:
    """Names of the tensor fields of a partition that the graph takes (a plain tensor: ``table``)."""
    if torch.is_tensor(value):
        return ["table"]
    return [name for name in value._fields if torch.is_tensor(getattr(value, name))]


def index_inputs(plan: Sequence, coords: torch.Tensor, sparse_shape: Sequence[int], batch_size: int) -> dict:
    """``{"p<i>_<field>": tensor}``: the tensor fields of the plan's partitions for voxels at ``coords``."""
    cache = build_partitions(plan, coords, sparse_shape, batch_size)
    named = {}
    for i, entry in enumerate(plan):
        value = cache[_key(entry)]
        for field in partition_fields(value):
            named[f"p{i}_{field}"] = value if field == "table" else getattr(value, field)
    return named


class FedCache(dict):
    """A partition cache holding the plan's partitions rebuilt from fed tensors (graph inputs); asking for
    a key outside the plan means the plan is stale, an error rather than indexing inside the graph."""

    def __init__(self, plan: Sequence, examples: dict, fed: dict):
        super().__init__()
        for i, entry in enumerate(plan):
            key = _key(entry)
            example = examples[key]
            if torch.is_tensor(example):
                super().__setitem__(key, fed[f"p{i}_table"])
                continue
            values = {}
            for name in example._fields:
                value = getattr(example, name)
                if torch.is_tensor(value):
                    values[name] = fed[f"p{i}_{name}"]
                else:
                    values[name] = None if name in SIZE_FIELDS else value
            super().__setitem__(key, type(example)(**values))

    def __setitem__(self, key, value):
        raise VoxformerError(f"the exported graph asked for partition {key!r}, which is not in its plan")
