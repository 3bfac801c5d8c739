"""Benchmark rows for the box ops (called by the ``ops`` suite).

Scenes are generated: car-sized boxes spread over a ±50 m LiDAR range, and CenterPoint-like
detections for NMS (several jittered, differently scored copies of each object). Each row times
the op's automatic backend; the baseline is the plain-PyTorch reference on the same device, or,
on CUDA, the automatic CPU backend. The batched NMS rows time one call for a batch of detections of
many classes against one call per class per sample, as a detector head made before: with the
automatic backend, and the ``torch`` backend (the CUDA path) against the reference loop (the CUDA
path before it).
"""

from __future__ import annotations

import math

import torch

from voxformer.ops import batched_nms_rotated, boxes_iou_bev, count_points_in_boxes, nms_rotated, points_in_boxes

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


def batch_detections(batch: int, num_classes: int, per_sample: int, seed: int = 0):
    """``batch`` samples of ``per_sample`` detections (see :func:`detections`) with random labels ->
    boxes (B * per_sample, 7), scores, labels and the NMS group of each box (sample * classes + label)."""
    gen = torch.Generator().manual_seed(seed)
    parts = [detections(per_sample, max(1, per_sample // 12), seed + b) for b in range(batch)]
    boxes, scores = (torch.cat(p) for p in zip(*parts))
    labels = torch.randint(0, num_classes, (batch * per_sample,), generator=gen)
    groups = torch.arange(batch).repeat_interleave(per_sample) * num_classes + labels
    return boxes, scores, labels, groups


def _per_class_loop(boxes, scores, groups, num_groups: int, backend: str | None) -> list[torch.Tensor]:
    """One ``nms_rotated`` call per (sample, class) group: the loop that one batched call replaces."""
    kept = []
    for group in range(num_groups):
        members = (groups == group).nonzero().squeeze(1)
        kept.append(members[nms_rotated(boxes[members], scores[members], NMS_THRESHOLD, backend=backend)])
    return kept


def _batched_nms_rows(device: torch.device, quick: bool) -> list[Row]:
    batch, num_classes, per_sample = (2, 3, 120) if quick else (4, 10, 500)
    boxes, scores, _, groups = (t.to(device) for t in batch_detections(batch, num_classes, per_sample))
    num_groups = batch * num_classes
    thresholds = [NMS_THRESHOLD] * num_groups
    shape = f"{batch} samples x {per_sample} detections, {num_classes} classes, IoU {NMS_THRESHOLD}"
    out = []
    for backend, loop_backend in ((None, None), ("torch", "reference")):

        def batched(backend=backend):
            return batched_nms_rotated(boxes, scores, groups, thresholds, backend=backend)

        def loop(backend=loop_backend):
            return _per_class_loop(boxes, scores, groups, num_groups, backend)

        name = "batched_nms_rotated" + (f" ({backend})" if backend else "")
        baseline = f"per-class loop ({loop_backend or 'automatic'})"
        out.append(compare(name, shape, device, batched, baseline, loop, WARMUP, REPEAT))
    return out


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
    out += _batched_nms_rows(device, quick)

    points, source = benchmark_scan()
    if quick:
        points = points[:20_000]
    points, boxes = points.to(device), scene_boxes(100, seed=3, extent=40.0).to(device)
    shape = f"{len(points)} pts ({source}) x 100 boxes"
    out.append(_row("points_in_boxes", shape, device, points_in_boxes, points, boxes))
    out.append(_row("count_points_in_boxes", shape, device, count_points_in_boxes, points, boxes))
    return out
