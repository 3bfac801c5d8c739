"""``models`` suite: forward latency and parameter count of every 3D backbone and full detector of the
Waymo configs on one generated Waymo-size frame, next to the spconv CenterPoint-Voxel baseline measured
in the same run (when spconv is installed).

``quick`` keeps the configs' voxel sizes but crops the range to +-38.4 m and the frame to 60k points.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .scans import waymo_size_scan
from .timing import Row, compare, median_ms

SUITE = "models"
CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
BASELINE = "centerpoint/centerpoint_voxel_waymo.py"
CANDIDATES = (
    "dsvt/dsvt_pillar_waymo.py",
    "dsvt/dsvt_voxel_waymo.py",
    "flatformer/flatformer_waymo.py",
    "scatterformer/scatterformer_waymo.py",
)
QUICK_HALF_EXTENT = 38.4  # a whole number of voxels for 0.1 m and 0.32 m cells
QUICK_POINTS = 60_000


def _build(name: str, device: torch.device, quick: bool):
    from mmengine.config import Config

    from voxformer.registry import MODELS

    cfg = Config.fromfile(CONFIG_ROOT / name)
    model_cfg = cfg.model.copy()
    if quick:
        z0, z1 = model_cfg.data_preprocessor.point_cloud_range[2::3]
        e = QUICK_HALF_EXTENT
        model_cfg.data_preprocessor.point_cloud_range = [-e, -e, z0, e, e, z1]
    return MODELS.build(model_cfg).to(device).eval()


def _frame(model, points: torch.Tensor) -> dict:
    channels = model.voxel_encoder.in_channels
    extra = torch.zeros(len(points), max(channels - points.shape[1], 0), device=points.device)
    return dict(inputs=dict(points=[torch.cat([points, extra], dim=1)[:, :channels]]), data_samples=None)


def _entry(name: str, device: torch.device, quick: bool, points: torch.Tensor) -> dict:
    """Timing closures and sizes of one config: its backbone (partitions rebuilt every call, as in a
    real forward) on the frame's encoded voxels, and the whole detector from raw points."""
    from voxformer.structures import SparseVoxels

    model = _build(name, device, quick)
    data = _frame(model, points)
    with torch.no_grad():
        inputs = model.data_preprocessor(data)["inputs"]
        voxels = model.voxel_encoder(inputs["points"], inputs["point_to_voxel"], inputs["coords"], inputs["batch_size"])

    @torch.no_grad()
    def backbone():
        model.backbone3d(SparseVoxels(voxels.features, voxels.coords, voxels.sparse_shape, voxels.batch_size))

    @torch.no_grad()
    def detector():
        model(**model.data_preprocessor(data), mode="predict")

    return dict(
        label=Path(name).stem,
        voxels=len(voxels),
        backbone3d=(backbone, sum(p.numel() for p in model.backbone3d.parameters())),
        detector=(detector, sum(p.numel() for p in model.parameters())),
    )


def run(device: torch.device, quick: bool) -> list[Row]:
    num_points = QUICK_POINTS if quick else 180_000
    points = waymo_size_scan(num_points=num_points).to(device)
    warmup, repeat = (1, 3) if device.type == "cpu" else (3, 10)
    try:
        baseline = _entry(BASELINE, device, quick, points)
    except ImportError:
        baseline = None  # spconv missing: rows without a baseline
    rows = []
    for part in ("backbone3d", "detector"):
        base_name, base_ms = None, None
        if baseline is not None:
            base_fn, base_params = baseline[part]
            base_name = f"spconv {baseline['label']} {part} ({base_params / 1e6:.2f}M params)"
            base_ms = median_ms(base_fn, device, warmup, repeat)
        for name in CANDIDATES:
            entry = _entry(name, device, quick, points)
            fn, params = entry[part]
            row = compare(
                f"{entry['label']} {part} ({params / 1e6:.2f}M params)",
                f"{num_points // 1000}k pts, {entry['voxels']} voxels",
                device,
                fn,
                warmup=warmup,
                repeat=repeat,
            )
            row.baseline, row.baseline_ms = base_name, base_ms
            rows.append(row)
    return rows
