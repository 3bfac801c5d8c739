"""Export a detector to ONNX (or a ``torch.export`` program) as the graph of :mod:`voxformer.deploy.graph`.

The export traces one example scan with every op on its plain-PyTorch ``reference`` backend (the Triton,
numba and vectorized backends have no exportable form); the point, voxel and partition-row axes are dynamic
unless ``static=True``. Models whose graph would hold data-dependent indexing or ops ONNX lacks are refused
before tracing (:func:`check_exportable`). The file's metadata holds what the runtime needs
(:data:`METADATA_KEYS`): the config hash, the partition plan, the grid and the output names (ONNX:
``metadata_props``; torch-export: ``voxformer_metadata.json`` among the archive's extra files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from pathlib import Path

import torch

from voxformer.errors import VoxformerError

from .graph import VOXEL_INPUTS, DetectorGraph
from .indexing import index_inputs, input_axes, record_plan

FORMATS = ("onnx", "torch-export")
DEFAULT_OPSET = 18  # the lowest with ScatterElements' max reduction (segment maxima)
METADATA_KEYS = (
    "voxformer_config_hash",
    "voxformer_config",
    "voxformer_plan",
    "voxformer_sparse_shape",
    "voxformer_outputs",
)

# module class name -> why a graph holding it cannot be exported, refused before tracing. Empty at present: every
# attention backbone exports (the pooled ones too: their poolings are partitions); spconv modules are refused
# by their package (:func:`check_exportable`), a partition :mod:`.indexing` cannot rebuild by :func:`record_plan`.
NOT_EXPORTABLE: dict[str, str] = {}


def config_hash(cfg) -> str:
    """A 16-hex-digit hash of the config's ``model`` section (what decides the graph and its weights)."""
    model = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    text = json.dumps(model, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_exportable(model, config_name: str) -> None:
    """Raise a one-line :class:`VoxformerError` when ``model`` has a part that cannot be exported."""
    for name, module in model.named_modules():
        kind = type(module)
        if kind.__module__.startswith("spconv"):
            raise VoxformerError(
                f"{config_name}: cannot export {name or 'the model'} ({kind.__name__}): spconv sparse convolutions "
                "have no ONNX form"
            )
        if kind.__name__ in NOT_EXPORTABLE:
            raise VoxformerError(
                f"{config_name}: cannot export {name} ({kind.__name__}): {NOT_EXPORTABLE[kind.__name__]}"
            )
    if not all(hasattr(model, name) for name in ("voxel_encoder", "backbone3d", "to_bev", "head")):
        raise VoxformerError(f"{config_name}: only voxel detectors export; {type(model).__name__} is not one")


@contextlib.contextmanager
def reference_ops():
    """Every :mod:`voxformer.ops` op on its plain-PyTorch reference backend within the block."""
    from voxformer.ops import BACKEND_ENV

    previous = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = "reference"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = previous


def example_scan(cfg, num_points: int = 4000, seed: int = 0) -> torch.Tensor:
    """(num_points, C) random points inside the config's point-cloud range (the tracing example)."""
    pre = cfg.model.data_preprocessor
    low, high = torch.tensor(pre.point_cloud_range[:3]), torch.tensor(pre.point_cloud_range[3:])
    generator = torch.Generator().manual_seed(seed)
    channels = int(cfg.model.voxel_encoder.get("in_channels", 4))
    points = torch.rand(num_points, channels, generator=generator)
    points[:, :3] = low + points[:, :3] * (high - low)
    return points


def graph_inputs(model, plan, points: torch.Tensor) -> dict:
    """The graph's named inputs for one scan: voxelized by the model's data preprocessor, partitions rebuilt
    from the voxel coordinates (:func:`~voxformer.deploy.indexing.index_inputs`)."""
    voxelized = model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]
    named = dict(
        points=voxelized["points"].float(),
        point_to_voxel=voxelized["point_to_voxel"].long(),
        coords=voxelized["coords"].int(),
    )
    named.update(index_inputs(plan, named["coords"], model.data_preprocessor.sparse_shape, 1))
    return named


def _dynamic_axes(plan, named: dict) -> dict:
    """Dynamic axis 0 of every input: ``num_points``, ``num_voxels`` (per-voxel partition fields too), a pooled
    level's ``num_voxels_<k>`` or ``p<i>_rows``, the sets / groups / windows of partition ``i``
    (:func:`~voxformer.deploy.indexing.input_axes`)."""
    axes = {"points": {0: "num_points"}, "point_to_voxel": {0: "num_points"}, "coords": {0: "num_voxels"}}
    partitions = input_axes(plan, [name for name in named if name not in VOXEL_INPUTS])
    return {**axes, **{name: {0: axis} for name, axis in partitions.items()}}


def export_model(
    model,
    cfg,
    out: str | Path,
    fmt: str = "onnx",
    opset: int = DEFAULT_OPSET,
    static: bool = False,
    points: torch.Tensor | None = None,
) -> Path:
    """Write ``model`` (built from ``cfg``, in eval mode, on the CPU) to ``out``; returns the path.

    ``points``: the tracing scan (default: :func:`example_scan`). ``static``: the inputs' axes fixed to the tracing
    scan's sizes (torch-export: every size specialized).
    """
    if fmt not in FORMATS:
        raise VoxformerError(f"--format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "onnx" and opset < DEFAULT_OPSET:
        raise VoxformerError(f"--opset {opset}: the graph needs opset {DEFAULT_OPSET} or later (ScatterElements max)")
    config_name = Path(cfg.filename).name if getattr(cfg, "filename", None) else "config"
    check_exportable(model, config_name)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    points = example_scan(cfg) if points is None else points
    with reference_ops(), torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about every shape check it records as a constant; the checks hold for any scan
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*dynamo=False.*")
        voxelized = model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]
        try:
            plan = record_plan(model, voxelized)
        except VoxformerError as error:  # a partition the runtime cannot rebuild: name the config
            raise VoxformerError(f"{config_name}: {error}") from None
        named = graph_inputs(model, plan, points)
        index_names = [name for name in named if name not in VOXEL_INPUTS]
        graph = DetectorGraph(model, plan, index_names, named["coords"]).eval()
        args = tuple(named.values())
        graph(*args)  # names the outputs
        try:
            if fmt == "onnx":
                torch.onnx.export(
                    graph,
                    args,
                    str(out),
                    input_names=graph.input_names,
                    output_names=graph.output_names,
                    dynamic_axes=_dynamic_axes(plan, named),  # a static file fixes them afterwards
                    opset_version=opset,
                    dynamo=False,
                )
            else:
                program = torch.export.export(graph, args, dynamic_shapes=None if static else _export_shapes(named))
        except VoxformerError:
            raise
        except Exception as error:  # the exporter's message, on one line
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise VoxformerError(f"{config_name}: export failed: {first}") from error
    metadata = {
        "voxformer_config_hash": config_hash(cfg),
        "voxformer_config": config_name,
        "voxformer_plan": json.dumps(plan),
        "voxformer_sparse_shape": json.dumps(list(model.data_preprocessor.sparse_shape)),
        "voxformer_outputs": json.dumps(graph.output_names),
    }
    if fmt == "onnx":
        _finish_onnx(out, metadata, {name: tuple(value.shape) for name, value in named.items()} if static else None)
    else:  # the same metadata as one JSON file inside the archive
        torch.export.save(program, str(out), extra_files={"voxformer_metadata.json": json.dumps(metadata)})
    return out


def _export_shapes(named: dict) -> tuple:
    """``torch.export`` dynamic shapes, structured as ``DetectorGraph.forward`` takes its inputs (three voxel
    inputs, then the partitions as one ``*args`` tuple): dim 0 of each automatic."""
    shapes = [{0: torch.export.Dim.AUTO} if value.dim() else None for value in named.values()]
    return (*shapes[: len(VOXEL_INPUTS)], tuple(shapes[len(VOXEL_INPUTS) :]))


def _finish_onnx(path: Path, metadata: dict, fixed_shapes: dict | None) -> None:
    """Add ``metadata`` to the file; with ``fixed_shapes`` (input name -> shape) also pin its inputs to them
    (the graph stays the dynamic one: tracing with fixed sizes would fold them into the ops)."""
    import onnx

    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    for graph_input in proto.graph.input if fixed_shapes else ():
        for dim, size in zip(graph_input.type.tensor_type.shape.dim, fixed_shapes[graph_input.name]):
            dim.dim_value = int(size)
    onnx.save(proto, str(path))
