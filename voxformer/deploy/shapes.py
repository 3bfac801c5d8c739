"""TensorRT shape profiles sized from real scans: the min / opt / max size of every dynamic input axis.

A TensorRT engine for dynamic inputs is tuned for the ``opt`` shapes of its profile and accepts any size
between ``min`` and ``max``; a profile far from the scans the engine sees costs speed (DSVT's backbone: 32.9 ms
with a poor profile, 13.8 ms with one from Waymo statistics). :func:`trtexec_shapes` measures the axes on
scans of the dataset: min = the smallest seen, opt = the median, max = the largest times ``headroom``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

import torch

from .export import graph_inputs
from .indexing import record_plan


def axis_sizes(model, scans: Iterable[torch.Tensor]) -> dict[str, list[tuple[int, ...]]]:
    """Input name -> its shape on each scan (the graph's inputs, as :func:`graph_inputs` gives them)."""
    sizes: dict[str, list[tuple[int, ...]]] = {}
    plan = None
    with torch.no_grad():
        for points in scans:
            if plan is None:
                plan = record_plan(model, model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"])
            for name, value in graph_inputs(model, plan, points).items():
                sizes.setdefault(name, []).append(tuple(value.shape))
    return sizes


def trtexec_shapes(
    model, scans: Iterable[torch.Tensor], input_names: Iterable[str] | None = None, headroom: float = 1.2
) -> dict[str, str]:
    """``{"minShapes": ..., "optShapes": ..., "maxShapes": ...}``, each ``name:AxB,...`` for trtexec, over
    ``input_names`` (the exported file's inputs; default every graph input)."""
    sizes = axis_sizes(model, scans)
    if input_names is not None:
        sizes = {name: sizes[name] for name in input_names}
    if not sizes:
        raise ValueError("trtexec_shapes needs at least one scan")
    profiles = {"minShapes": [], "optShapes": [], "maxShapes": []}
    for name, shapes in sizes.items():
        rows = [shape[0] for shape in shapes]
        rest = "".join(f"x{d}" for d in shapes[0][1:])
        picks = (min(rows), int(statistics.median(rows)), int(max(rows) * headroom + 0.5))
        for key, rows_for_key in zip(profiles, picks):
            profiles[key].append(f"{name}:{rows_for_key}{rest}")
    return {key: ",".join(values) for key, values in profiles.items()}
