"""``seg_backbones`` suite: training step time (forward + backward) of the SphereFormer segmentation backbone per
scan, next to the sparse-convolution U-Net baseline on the same voxels, measured in the same run.

One 360-degree HDL-64-like scan (:func:`~voxformer.benchmark.scans.benchmark_scan`) is voxelized and encoded by
the candidate's own voxel encoder once; each timed call builds fresh voxels (so the SphereFormer partitions are
rebuilt, as in training) and back-propagates the sum of the output features. ``quick`` times the synthetic
quick configs (0.2 m voxels, the ones `make quickstart TASK=seg` trains); the full run adds the published
SemanticKITTI configs (0.05 m voxels, [32..256] wide). Needs spconv.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .scans import benchmark_scan
from .timing import Row, median_ms

SUITE = "seg_backbones"
CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
PAIRS = (  # (baseline, candidate)
    ("segmentation/unet_synthetic_quick.py", "sphereformer/sphereformer_synthetic_quick.py"),
    ("segmentation/unet_semantickitti.py", "sphereformer/sphereformer_semantickitti.py"),
)


def _step(name: str, device: torch.device, points: torch.Tensor):
    """(training-step closure of the config's 3D backbone on the scan's voxels, voxel count, parameters)."""
    from mmengine.config import Config

    from voxformer.registry import MODELS
    from voxformer.structures import SparseVoxels

    model = MODELS.build(Config.fromfile(CONFIG_ROOT / name).model).to(device).train()
    channels = model.voxel_encoder.in_channels
    data = dict(inputs=dict(points=[points[:, :channels].to(device)]), data_samples=None)
    with torch.no_grad():
        inputs = model.data_preprocessor(data)["inputs"]
        voxels = model.voxel_encoder(inputs["points"], inputs["point_to_voxel"], inputs["coords"], inputs["batch_size"])
    backbone = model.backbone3d

    def step():
        features = voxels.features.detach().requires_grad_()
        fresh = SparseVoxels(features, voxels.coords, voxels.sparse_shape, voxels.batch_size, xyz=voxels.xyz)
        backbone(fresh).features.sum().backward()
        backbone.zero_grad(set_to_none=True)

    return step, len(voxels), sum(p.numel() for p in backbone.parameters())


def run(device: torch.device, quick: bool) -> list[Row]:
    points, source = benchmark_scan()
    warmup, repeat = (1, 3) if device.type == "cpu" else (3, 10)
    rows = []
    for baseline, candidate in PAIRS[:1] if quick else PAIRS:
        base_fn, _, base_params = _step(baseline, device, points)
        base_ms = median_ms(base_fn, device, warmup, repeat)
        fn, num_voxels, params = _step(candidate, device, points)
        time_ms = median_ms(fn, device, warmup, repeat)
        base_name = f"{Path(baseline).stem} backbone3d fwd+bwd ({base_params / 1e6:.2f}M params)"
        rows.append(Row(
            f"{Path(candidate).stem} backbone3d fwd+bwd ({params / 1e6:.2f}M params)",
            f"{source}, {len(points) // 1000}k pts, {num_voxels} voxels", str(device), time_ms, base_name, base_ms,
        ))
    return rows
