"""Benchmark rows for the box ops (called by the ``ops`` suite).

Scenes are generated: car-sized boxes spread over a ±50 m LiDAR range, and CenterPoint-like
detections for NMS (several jittered, differently scored copies of each object). Each row times
the op's automatic backend; the baseline is the plain-PyTorch reference on the same device, or,
on CUDA (where the reference is the automatic choice), the automatic CPU backend.
"""

from __future__ import annotations

import math

import torch

from voxformer.ops import boxes_iou_bev, count_points_in_boxes, nms_rotated, points_in_boxes

from .scans import benchmark_scan
from .timing import Row, compare

WARMUP, REPEAT = 1, 3  # the references take seconds at these sizes on a CPU

SCENE_EXTENT = 50.0
CROWDED_EXTENT = 8.0
CAR_SIZE = (4.2, 1.9, 1.6)
NMS_THRESHOLD = 0.7  # OpenPCDet's Waymo CenterPoint setting


def scene_boxes(num: int, seed: int = 0, extent: float = SCENE_EXTENT) -> torch.Tensor:
    """(num, 7) float32 car-like boxes (sizes jittered ±30 %) with random headings over ±extent metres."""
    gen = torch.Generator().manual_seed(seed)
    centres = (torch.rand(num, 2, generator=gen) * 2 - 1) * extent
    z = torch.full((num, 1), -1.0) + 0.2 * torch.randn(num, 1, generator=gen)
    sizes = torch.tensor(CAR_SIZE) * (0.7 + 0.6 * torch.rand(num, 3, generator=gen))
    yaw = (torch.rand(num, 1, generator=gen) * 2 - 1) * math.pi
    return torch.cat([centres, z, sizes, yaw], dim=1)


def detections(num: int, num_objects: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``num`` detections of ``num_objects`` objects: each a jittered copy (0.3 m, 0.1 rad) of one object."""
    gen = torch.Generator().manual_seed(seed)
    objects = scene_boxes(num_objects, seed)
    boxes = objects[torch.randint(0, num_objects, (num,), generator=gen)].clone()
    boxes[:, :3] += 0.3 * torch.randn(num, 3, generator=gen)
    boxes[:, 6] += 0.1 * torch.randn(num, generator=gen)
    return boxes, torch.rand(num, generator=gen)


def _row(name: str, shape: str, device: torch.device, op, *args, **kwargs) -> Row:
    """Time ``op(*args, **kwargs)`` with its automatic backend next to the baseline of the module docstring."""
    if device.type == "cuda":
        cpu_args = [arg.cpu() if torch.is_tensor(arg) else arg for arg in args]
        baseline_name, baseline = "automatic backend on CPU", lambda: op(*cpu_args, **kwargs)
    else:
        baseline_name, baseline = "reference", lambda: op(*args, backend="reference", **kwargs)
    return compare(name, shape, device, lambda: op(*args, **kwargs), baseline_name, baseline, WARMUP, REPEAT)


def rows(device: torch.device | str, quick: bool) -> list[Row]:
    device = torch.device(device)
    out = []

    num = 100 if quick else 500
    for extent, note in ((SCENE_EXTENT, ""), (CROWDED_EXTENT, " (crowded: every box meets dozens)")):
        a, b = scene_boxes(num, seed=1, extent=extent).to(device), scene_boxes(num, seed=2, extent=extent).to(device)
        shape = f"{num} x {num} boxes over ±{extent:.0f} m{note}"
        out.append(_row("boxes_iou_bev", shape, device, boxes_iou_bev, a, b))

    num, num_objects = (512, 30) if quick else (4096, 200)
    boxes, scores = detections(num, num_objects)
    shape = f"{num} detections of {num_objects} objects, IoU {NMS_THRESHOLD}, post 500"
    out.append(
        _row("nms_rotated", shape, device, nms_rotated, boxes.to(device), scores.to(device), NMS_THRESHOLD,
             post_max_size=500)
    )  # fmt: skip

    points, source = benchmark_scan()
    if quick:
        points = points[:20_000]
    points, boxes = points.to(device), scene_boxes(100, seed=3, extent=40.0).to(device)
    shape = f"{len(points)} pts ({source}) x 100 boxes"
    out.append(_row("points_in_boxes", shape, device, points_in_boxes, points, boxes))
    out.append(_row("count_points_in_boxes", shape, device, count_points_in_boxes, points, boxes))
    return out
