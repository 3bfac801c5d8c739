"""``deploy`` suite: onnxruntime (CPU provider) latency of each exportable family next to PyTorch on the CPU.

For each exportable family, its synthetic quick config (DSVT-V, which has none: the published Waymo recipe) with
random weights, on a KITTI scan (generated when the real one is absent; zero columns up to the model's input
width, Waymo's elongation for DSVT-V): the time from raw points to the head's raw maps, voxelization and
partitions (pooled levels too) included, through the exported ONNX file (:class:`voxformer.deploy.OnnxDetector`)
and through the PyTorch model with its default backends. The ratio is onnxruntime / PyTorch (below 1:
onnxruntime is faster). Always on the CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .scans import benchmark_scan
from .timing import Row, compare

SUITE = "deploy"
CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
FAMILIES = {
    "DSVT-P": "dsvt/dsvt_synthetic_quick.py",
    "DSVT-V": "dsvt/dsvt_voxel_waymo.py",
    "FlatFormer": "flatformer/flatformer_synthetic_quick.py",
    "ScatterFormer": "scatterformer/scatterformer_synthetic_quick.py",
}
QUICK_POINTS = 30_000


def run(device: torch.device, quick: bool) -> list[Row]:
    from voxformer.apis.inference import init_detector
    from voxformer.deploy import OnnxDetector, export_model

    scan, source = benchmark_scan()
    scan = scan[:QUICK_POINTS] if quick else scan
    warmup, repeat = (1, 3) if quick else (2, 7)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, config in FAMILIES.items():
            torch.manual_seed(0)
            model = init_detector(str(CONFIG_ROOT / config), device="cpu")
            channels = int(model.cfg.model.voxel_encoder.get("in_channels", scan.shape[1]))
            points = torch.cat([scan, scan.new_zeros(len(scan), channels - scan.shape[1])], dim=1)
            runtime = OnnxDetector(export_model(model, model.cfg, Path(tmp) / f"{family}.onnx"), model)

            @torch.no_grad()
            def pytorch(model=model, points=points):
                model(model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"], mode="tensor")

            voxels = len(model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]["coords"])
            rows.append(
                compare(
                    f"{family} onnxruntime CPU, points -> raw head maps",
                    f"{source}: {len(points) // 1000}k pts, {voxels} voxels",
                    "cpu",
                    lambda runtime=runtime, points=points: runtime.raw_outputs(points),
                    baseline_name=f"{family} PyTorch CPU",
                    baseline_fn=pytorch,
                    warmup=warmup,
                    repeat=repeat,
                )
            )
    return rows
