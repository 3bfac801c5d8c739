"""The exported graph: voxel encoder -> 3D backbone -> BEV stage -> head, on fed voxels and partitions.

Inputs, one sample (batch size 1):

- ``points`` (N, C) float32: the points as the model's test pipeline gives them;
- ``point_to_voxel`` (N,) int64: each point's row in ``coords``, -1 when outside the range;
- ``coords`` (M, 4) int32: occupied voxels (batch, z, y, x);
- ``p<i>_<field>``: the tensor fields of partition ``i`` of the plan (:mod:`voxformer.deploy.indexing`), the
  pooled levels' coordinates and partitions among them.

Outputs: the head's raw maps, ``task<t>_<branch>`` (1, C, H, W) in task then branch order (``heatmap``,
``reg``, ``height``, ``dim``, ``rot``, ...), the order :func:`outputs_to_heads` folds them back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .indexing import build_partitions, fed_cache, voxels_cache

VOXEL_INPUTS = ("points", "point_to_voxel", "coords")


class DetectorGraph(nn.Module):
    """A :class:`~voxformer.models.detectors.VoxelDetector` as a function of tensors only.

    ``plan``: the partition keys (:func:`~voxformer.deploy.indexing.record_plan`); ``index_names``: the names
    of the fed partition tensors, in the order ``forward`` takes them after the voxel inputs;
    ``example_coords``: voxels whose partitions give the partition types (per level).
    """

    def __init__(self, model, plan: Sequence, index_names: Sequence[str], example_coords: torch.Tensor):
        super().__init__()
        self.model = model
        self.plan = list(plan)
        self.index_names = list(index_names)
        self.sparse_shape = model.data_preprocessor.sparse_shape
        self.examples = build_partitions(self.plan, example_coords, self.sparse_shape, 1)
        self.output_names: list[str] = []

    @property
    def input_names(self) -> list[str]:
        return [*VOXEL_INPUTS, *self.index_names]

    def forward(self, points, point_to_voxel, coords, *index_tensors) -> tuple[torch.Tensor, ...]:
        fed = fed_cache(self.plan, self.examples, dict(zip(self.index_names, index_tensors)))
        inputs = dict(points=points, point_to_voxel=point_to_voxel, coords=coords, batch_size=1)
        with voxels_cache(self.model, fed):
            heads = self.model(inputs, mode="tensor")
        self.output_names = [f"task{t}_{name}" for t, head in enumerate(heads) for name in head]
        return tuple(value for head in heads for value in head.values())


def outputs_to_heads(names: Sequence[str], values: Sequence) -> list[dict[str, torch.Tensor]]:
    """Graph outputs named ``task<t>_<branch>`` -> the head's list (one per task) of branch dicts."""
    heads: list[dict[str, torch.Tensor]] = []
    for name, value in zip(names, values):
        task, branch = name.split("_", 1)
        index = int(task.removeprefix("task"))
        while len(heads) <= index:
            heads.append({})
        heads[index][branch] = torch.as_tensor(value)
    return heads
