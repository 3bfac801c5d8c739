"""Run an exported detector with onnxruntime: the PyTorch model's voxelization and partitions before the graph,
its head's decoding and NMS after it (:meth:`OnnxDetector.predict` returns what the head's ``predict`` does).

The session uses the CUDA provider when onnxruntime offers it, else the CPU provider. A file exported from
another config (its metadata's config hash differs) and a scan that does not fit a fixed-shape export are
one-line :class:`VoxformerError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from voxformer.errors import VoxformerError

from .export import METADATA_KEYS, config_hash, graph_inputs
from .graph import outputs_to_heads


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise VoxformerError("--backend onnxruntime needs onnxruntime (pip install onnxruntime)") from None
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: the exporter's shape hints for scatters draw warnings
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise VoxformerError(f"{path}: not a loadable ONNX file ({first})") from None


class OnnxDetector:
    """An ONNX file from ``voxformer export`` with the PyTorch ``model`` of the same config (built from it;
    only its data preprocessor and head's decoding run)."""

    def __init__(self, path: str | Path, model):
        self.path = Path(path)
        if not self.path.is_file():
            raise VoxformerError(f"{self.path}: ONNX file not found")
        self.model = model
        self.session = _session(self.path)
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [key for key in METADATA_KEYS if key not in meta]
        if missing:
            raise VoxformerError(f"{self.path}: not a file of voxformer export (no {missing[0]} in its metadata)")
        expected = config_hash(model.cfg)
        if meta["voxformer_config_hash"] != expected:
            raise VoxformerError(
                f"{self.path}: exported from config {meta.get('voxformer_config', '?')} (hash "
                f"{meta['voxformer_config_hash']}), not from this config (hash {expected}); export it again"
            )
        self.plan = json.loads(meta["voxformer_plan"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.fixed = {i.name: i.shape for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _check_shapes(self, named: dict) -> None:
        for name in sorted(self.input_names, key=lambda name: name != "coords"):  # voxels first: what users count
            for axis, size in enumerate(self.fixed[name]):
                if isinstance(size, int) and named[name].shape[axis] != size:
                    what = "voxels" if name == "coords" else "points" if name == "points" else f"rows of {name}"
                    raise VoxformerError(
                        f"{self.path}: exported with a fixed shape of {size} {what}, the scan has "
                        f"{named[name].shape[axis]}; export without --static for scans of any size"
                    )

    @torch.no_grad()
    def raw_outputs(self, points: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """The head's raw maps (one dict per task) for one (N, C) scan."""
        named = graph_inputs(self.model, self.plan, points.float().cpu())  # every backend gives the same tables
        self._check_shapes(named)
        feed = {name: named[name].numpy() for name in self.input_names}
        return outputs_to_heads(self.output_names, self.session.run(self.output_names, feed))

    @torch.no_grad()
    def predict(self, points: torch.Tensor):
        """The head's decoded, NMS-ed prediction (``InstanceData``) for one (N, C) scan."""
        return self.model.head.predict(self.raw_outputs(points))[0]
