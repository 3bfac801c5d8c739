"""One training step (forward in ``loss`` mode + backward) of each Waymo detector on a Waymo-size frame.

    python tools/device_forward.py [CONFIG ...] [--device cuda] [--points 180000] [--json FILE] [--check]

CONFIG paths are relative to ``configs/`` (default: the configs of the ``models`` benchmark suite). Each
config runs ``--steps`` steps (default 2: the first includes kernel compilation, the last is the steady
time); a row per config holds its status (``passed``, ``failed`` or ``skipped`` with the missing package),
the times of the first and the last step, the voxel count, the loss and the peak CUDA memory.
``--check`` only loads and builds every model on the CPU (no step), to check that everything imports.
Needs mmengine (the configs and the registry); a config whose model needs a package that is not installed
(spconv for CenterPoint) is skipped. Exit code 1 when a config failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from voxformer.benchmark.models import BASELINE, CANDIDATES, CONFIG_ROOT
from voxformer.benchmark.scans import waymo_size_scan

# (x, y, z, dx, dy, dz, yaw) of the ground-truth boxes, one per class in turn, inside every Waymo range.
BOXES = (
    (12.0, 4.0, 0.0, 4.5, 1.9, 1.6, 0.3),
    (8.0, -6.0, 0.0, 0.8, 0.8, 1.8, 0.0),
    (-15.0, 10.0, 0.0, 1.8, 0.7, 1.7, 1.2),
)


def build(config: str, device: torch.device):
    from mmengine.config import Config

    from voxformer.registry import MODELS

    return MODELS.build(Config.fromfile(CONFIG_ROOT / config).model).to(device)


def frame(model, points: torch.Tensor) -> dict:
    """One sample: ``points`` (N, 4) padded with zero channels to the model's input width, and BOXES."""
    from mmengine.structures import InstanceData

    from voxformer.structures import Boxes3D
    from voxformer.structures.det3d_sample import Det3DSample

    channels = model.voxel_encoder.in_channels
    extra = points.new_zeros(len(points), max(channels - points.shape[1], 0))
    velocity = [0.0, 0.0] if model.head.with_velocity else []
    gt = InstanceData()
    gt.bboxes_3d = Boxes3D(torch.tensor([[*box, *velocity] for box in BOXES]))
    gt.labels_3d = torch.arange(len(BOXES)) % len(model.head.class_names)
    sample = Det3DSample()
    sample.gt_instances_3d = gt
    return dict(inputs=dict(points=[torch.cat([points, extra], dim=1)[:, :channels]]), data_samples=[sample])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_steps(config: str, device: torch.device, points: torch.Tensor, steps: int) -> dict:
    """Build ``config`` on ``device`` and time ``steps`` forward + backward passes on one frame."""
    torch.manual_seed(0)
    model = build(config, device).train()
    data = frame(model, points)
    times, loss, voxels = [], None, None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(steps):
        model.zero_grad(set_to_none=True)
        _synchronize(device)
        start = time.perf_counter()
        batch = model.data_preprocessor(data, True)
        total = sum(model(**batch, mode="loss").values())
        total.backward()
        _synchronize(device)
        times.append(time.perf_counter() - start)
        loss, voxels = float(total.detach()), len(batch["inputs"]["coords"])
    if not torch.isfinite(torch.tensor(loss)):
        raise FloatingPointError(f"the loss is {loss}")
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return dict(first_s=times[0], last_s=times[-1], voxels=voxels, loss=loss, peak_gib=peak)


def run_config(config: str, device: torch.device, points: torch.Tensor, steps: int, check: bool) -> dict:
    row = dict(config=config, status="passed")
    try:
        if check:
            build(config, torch.device("cpu"))
            row["status"] = "built"
        else:
            row.update(train_steps(config, device, points, steps))
    except Exception as error:  # one detector's failure is recorded and the others still run
        package = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
        if package and not package.startswith("voxformer"):
            row.update(status="skipped", reason=f"needs {package}, which is not installed")
        else:
            row.update(status="failed", reason=f"{type(error).__name__}: {error}")
    return row


def _line(row: dict) -> str:
    if row["status"] != "passed" or "first_s" not in row:
        return f"{row['config']:40s} {row['status']}" + (f": {row['reason']}" if "reason" in row else "")
    peak = f", peak {row['peak_gib']:.2f} GiB" if row["peak_gib"] is not None else ""
    return (
        f"{row['config']:40s} passed: first step {row['first_s'] * 1e3:.1f} ms, last {row['last_s'] * 1e3:.1f} ms, "
        f"{row['voxels']} voxels, loss {row['loss']:.3f}{peak}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=[BASELINE, *CANDIDATES], help="configs, relative to configs/")
    parser.add_argument("--device", default="cuda", help="torch device of the steps (default cuda)")
    parser.add_argument("--points", type=int, default=180_000, help="points of the frame (default 180000)")
    parser.add_argument("--steps", type=int, default=2, help="forward + backward passes per config (default 2)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--check", action="store_true", help="only build every model on the CPU")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [c for c in args.configs if not (CONFIG_ROOT / c).is_file()]
    if missing or args.steps < 1:
        print(f"device_forward: no config {missing[0]} under {CONFIG_ROOT}" if missing else "--steps must be >= 1")
        return 2
    device = torch.device(args.device)
    if not args.check and device.type == "cuda" and not torch.cuda.is_available():
        print("device_forward: --device cuda but no CUDA device is available (use --check on a CPU)")
        return 2
    points = waymo_size_scan(args.points).to(device) if not args.check else None
    rows = []
    for config in args.configs:
        rows.append(run_config(config, device, points, args.steps, args.check))
        print(_line(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return int(any(row["status"] == "failed" for row in rows))


if __name__ == "__main__":
    sys.exit(main())
