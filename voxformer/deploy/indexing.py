"""The data-dependent indexing of a detector, computed outside the exported graph and fed to it.

A 3D backbone asks its :class:`~voxformer.structures.SparseVoxels` for partitions (windows, DSVT sets,
FlatFormer groups, neighbour tables, poolings) through :meth:`SparseVoxels.partition`, keyed by name and
arguments. A pooled backbone (DSVT-V, ScatterFormer) makes new voxels for its next stage with
:meth:`SparseVoxels.pooled`; their partitions depend on the pooled coordinates and live in the parent's cache
under ``("pooled", stride)``. So the voxels form *levels*: level 0 is the voxel encoder's output, level k the
voxels of the k-th ``pooled`` key asked for.

The *plan* of a model is the ordered list of ``(level, key)`` it asks for (:func:`record_plan`, one eager
forward). At run time :func:`index_inputs` rebuilds every partition of the plan in that order from the voxel
coordinates alone (no network; a level's coordinates are its pooling's ``coords``) and flattens their tensor
fields into named graph inputs (``p<i>_<field>``, e.g. ``p0_in_window``, ``p1_index``, ``p5_coords``). Inside
the graph :func:`fed_cache` hands those inputs back in place of the partitions, so the graph holds no sort, no
unique and no host sync.

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
BUILDERS = {
    "window": "windows",
    "dsvt_sets": "dsvt_sets",
    "flat_groups": "flat_groups",
    "neighbours": "neighbours",
    "pooling": "pooling",
}
POOLED = "pooled"  # cache-key name of a pooled level's own partition cache
PER_VOXEL_FIELDS = ("window_id", "segment", "order", "inverse", "in_window", "table")  # one row per voxel
SIZE_FIELDS = ("num_windows",)  # integer fields that vary with the scan: never baked into the graph


class _RecordingCache(dict):
    """A partition cache of level ``level`` that appends ``(level, key)`` to the shared ``plan`` when a key is
    first stored; a ``pooled`` key's cache becomes a recording cache of the next level."""

    def __init__(self, plan: list, level: int = 0):
        super().__init__()
        self.plan, self.level = plan, level

    def __setitem__(self, key, value):
        if key not in self:
            self.plan.append((self.level, key))
            if key[0] == POOLED:
                value = _RecordingCache(self.plan, sum(k[0] == POOLED for _, k in self.plan))
        super().__setitem__(key, value)


def record_plan(model, inputs: dict) -> list:
    """The ``[level, key]`` partitions ``model`` (a :class:`~voxformer.models.detectors.VoxelDetector`) asks its
    voxels for, in order, found by one eager forward on the voxelized ``inputs``."""
    plan: list = []
    with voxels_cache(model, _RecordingCache(plan)), torch.no_grad():
        model(inputs, mode="tensor")
    for _, key in plan:
        if key[0] not in BUILDERS and key[0] != POOLED:
            raise VoxformerError(f"the backbone asks for a partition {key[0]!r} that voxformer.deploy cannot rebuild")
    return [[level, [list(part) if isinstance(part, tuple) else part for part in key]] for level, key in plan]


def plan_entries(plan: Sequence) -> list[tuple[int, tuple]]:
    """``(level, key)`` of each plan entry, the key hashable again (JSON turned its tuples into lists)."""
    return [(int(level), tuple(tuple(p) if isinstance(p, list) else p for p in key)) for level, key in plan]


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


def build_partitions(plan: Sequence, coords: torch.Tensor, sparse_shape: Sequence[int], batch_size: int) -> list:
    """Every partition of ``plan`` for voxels at ``coords`` (M, 4): the partition cache of each level, keyed as
    the model keys them (level 0 first)."""
    levels = [SparseVoxels(coords.new_zeros(len(coords), 0, dtype=torch.float32), coords, sparse_shape, batch_size)]
    for level, key in plan_entries(plan):
        voxels = levels[level]
        if key[0] == POOLED:
            rows = len(voxels.pooling(key[1]).coords)
            levels.append(voxels.pooled(key[1], voxels.features.new_zeros(rows, 0)))
        else:
            getattr(voxels, BUILDERS[key[0]])(*key[1:])
    return [voxels.cache for voxels in levels]


def partition_fields(value) -> list[str]:
    """Names of the tensor fields of a partition that the graph takes (a plain tensor: ``table``; a pooled
    level's cache: none)."""
    if isinstance(value, dict):
        return []
    if torch.is_tensor(value):
        return ["table"]
    return [name for name in value._fields if torch.is_tensor(getattr(value, name))]


def index_inputs(plan: Sequence, coords: torch.Tensor, sparse_shape: Sequence[int], batch_size: int) -> dict:
    """``{"p<i>_<field>": tensor}``: the tensor fields of the plan's partitions for voxels at ``coords``."""
    caches = build_partitions(plan, coords, sparse_shape, batch_size)
    named = {}
    for i, (level, key) in enumerate(plan_entries(plan)):
        value = caches[level][key]
        for field in partition_fields(value):
            named[f"p{i}_{field}"] = value if field == "table" else getattr(value, field)
    return named


def input_axes(plan: Sequence, names: Sequence[str]) -> dict[str, str]:
    """The dynamic axis 0 of each partition input in ``names``: ``num_voxels`` (level 0) or ``num_voxels_<k>``
    for a per-voxel field and for a pooling's ``coords`` (its pooled level k), ``p<i>_rows`` for the rows of
    anything else (sets, groups, windows)."""
    entries = plan_entries(plan)
    child = {}  # (level, stride) of each pooling -> its pooled level
    for level, key in entries:
        if key[0] == POOLED:
            child[level, key[1]] = len(child) + 1

    def voxel_axis(level: int) -> str:
        return "num_voxels" if level == 0 else f"num_voxels_{level}"

    axes = {}
    for name in names:
        partition, field = name.split("_", 1)
        level, key = entries[int(partition.removeprefix("p"))]
        if key[0] == "pooling" and field == "coords":
            axes[name] = voxel_axis(child[level, key[1]])
        else:
            axes[name] = voxel_axis(level) if field in PER_VOXEL_FIELDS else f"{partition}_rows"
    return axes


class FedCache(dict):
    """A partition cache holding partitions rebuilt from fed tensors (graph inputs); asking for a key it does
    not hold means the plan is stale, an error rather than indexing inside the graph."""

    def __setitem__(self, key, value):
        raise VoxformerError(f"the exported graph asked for partition {key!r}, which is not in its plan")


def fed_cache(plan: Sequence, examples: Sequence[dict], fed: dict) -> FedCache:
    """The level-0 cache of the plan's partitions rebuilt from the ``fed`` tensors (``p<i>_<field>``), each of
    the type of its counterpart in ``examples`` (:func:`build_partitions` of any voxels); pooled levels' caches
    nest inside as in the eager model."""
    levels = [FedCache() for _ in examples]
    pooled = 0
    for i, (level, key) in enumerate(plan_entries(plan)):
        example = examples[level][key]
        if key[0] == POOLED:
            pooled += 1
            value = levels[pooled]
        elif torch.is_tensor(example):
            value = fed[f"p{i}_table"]
        else:
            values = {}
            for name in example._fields:
                if torch.is_tensor(getattr(example, name)):
                    values[name] = fed[f"p{i}_{name}"]
                else:
                    values[name] = None if name in SIZE_FIELDS else getattr(example, name)
            value = type(example)(**values)
        dict.__setitem__(levels[level], key, value)
    return levels[0]
