"""Benchmark rows for the partition ops (called by the ``ops`` suite).

Input: 0.32 m pillars of :func:`voxformer.benchmark.scans.benchmark_scan` on the Waymo-style 468 x 468
grid, rotated copies stacked as a batch until about 20k pillars. Baselines are written here in the
style of the public implementations: DSVT (``torch.unique``, a sort per set order, float64 division,
a dense window table) and FlatFormer (a Python loop over the batch building padding maps, one sort
per order).
"""

from __future__ import annotations

import math

import torch

from voxformer.ops.partition import dsvt_sets, flat_groups, window_partition

from .scans import benchmark_scan
from .timing import Row, compare

PILLAR = 0.32
HALF_EXTENT = 74.88
GRID = 468
SPARSE_SHAPE = (1, GRID, GRID)
TARGET_PILLARS = 20_000
DSVT_CONFIGS = (((1, 12, 12), (0, 0, 0)), ((1, 24, 24), (0, 6, 6)))
SET_SIZE = 36
FLAT_WINDOW = (1, 13, 13)
GROUP_SIZE = 144


def pillar_batch(device: torch.device) -> tuple[torch.Tensor, int, str]:
    """(coords (M, 4) int32, batch size, source) of rotated copies of the benchmark scan."""
    points, source = benchmark_scan()
    xy = points[:, :2].double()
    coords, batch_size, total = [], 0, 0
    while total < TARGET_PILLARS:
        angle = 2 * math.pi * batch_size / 3
        rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        cells = torch.floor((xy @ rotation.T.double() + HALF_EXTENT) / PILLAR).long()
        cells = cells[((cells >= 0) & (cells < GRID)).all(1)]
        flat = torch.unique(cells[:, 1] * GRID + cells[:, 0])
        column = torch.full_like(flat, batch_size)
        coords.append(torch.stack([column, torch.zeros_like(flat), flat // GRID, flat % GRID], 1))
        batch_size += 1
        total += len(flat)
    return torch.cat(coords).int().to(device), batch_size, source


def dsvt_style_sets(coords: torch.Tensor, window_shape, shift, set_size: int):
    """Window partition and both rotated set partitions the way DSVT's input layer computes them."""
    c = coords.long()
    grid = [math.ceil(s / w) + 1 for s, w in zip(SPARSE_SHAPE, window_shape)]
    shifted = c[:, 1:] + torch.tensor(shift, device=c.device)
    size = torch.tensor(window_shape, device=c.device)
    window, inner = shifted // size, shifted % size
    # flat id b * W_max + wx * (Ny * Nz) + wy * Nz + wz, as in DSVT
    max_windows = grid[0] * grid[1] * grid[2]
    window_id = c[:, 0] * max_windows + (window[:, 2] * grid[1] + window[:, 1]) * grid[0] + window[:, 0]
    _, contiguous, counts = torch.unique(window_id, return_inverse=True, return_counts=True)
    sets_per_window = torch.ceil(counts.double() / set_size).long()
    num_sets = int(sets_per_window.sum().item())
    set_window = torch.repeat_interleave(torch.arange(len(counts), device=c.device), sets_per_window)
    first_set = torch.cumsum(sets_per_window, 0) - sets_per_window
    local = (torch.arange(num_sets, device=c.device) - first_set[set_window]).double()
    n = counts[set_window].double()[:, None]
    s = sets_per_window[set_window].double()[:, None]
    slots = local[:, None] * set_size + torch.arange(set_size, device=c.device).double()
    slot_rank = torch.floor(slots * n / (s * set_size)).long()
    window_start = torch.cumsum(counts, 0) - counts
    volume = window_shape[0] * window_shape[1] * window_shape[2]
    partitions = []
    for inner_key in (
        (inner[:, 1] * window_shape[2] + inner[:, 2]) * window_shape[0] + inner[:, 0],  # y-major
        (inner[:, 2] * window_shape[1] + inner[:, 1]) * window_shape[0] + inner[:, 0],  # x-major
    ):
        order = torch.argsort(contiguous * volume + inner_key)
        rank = torch.arange(len(order), device=c.device) - window_start[contiguous[order]]
        table = torch.full((len(counts), volume), -1, dtype=torch.long, device=c.device)
        table[contiguous[order], rank] = order
        index = table[set_window[:, None], slot_rank]
        mask = torch.zeros_like(index, dtype=torch.bool)
        mask[:, 1:] = index[:, 1:] == index[:, :-1]
        partitions.append((index, mask))
    return partitions


def flatformer_style_groups(coords: torch.Tensor, window_shape, group_size: int, batch_size: int):
    """The four FlatFormer orders (x, x shifted, y, y shifted) cut into padded groups."""
    c = coords.long()
    counts = torch.bincount(c[:, 0], minlength=batch_size)
    padded_maps, start = [], 0
    for b in range(batch_size):  # per-sample padding maps, one host sync each
        n = int(counts[b].item())
        padded = math.ceil(n / group_size) * group_size
        slots = torch.arange(padded, device=c.device)
        source = torch.where(slots < n, slots, slots - group_size).clamp(min=0)
        padded_maps.append(source + start)
        start += n
    pad_index = torch.cat(padded_maps)
    results = []
    for axis in ("x", "y"):
        for shift in (0, window_shape[1] // 2):
            y, x = (c[:, 2], c[:, 3]) if axis == "x" else (c[:, 3], c[:, 2])
            wy, wx = (y + shift) // window_shape[1], (x + shift) // window_shape[2]
            iy, ix = (y + shift) % window_shape[1], (x + shift) % window_shape[2]
            windows = math.ceil(GRID / window_shape[1]) + 1
            wx = torch.where(wy % 2 == 0, wx, windows - 1 - wx)
            ix = torch.where(wy % 2 == 0, ix, window_shape[2] - 1 - ix)
            iy = torch.where(ix % 2 == 0, iy, window_shape[1] - 1 - iy)
            key = c[:, 0] * (GRID * GRID * 10) + ((wy * windows + wx) * window_shape[2] + ix) * window_shape[1] + iy
            order = torch.argsort(key)
            index = order[pad_index].view(-1, group_size)
            results.append((index, order))
    return results


def rows(device: torch.device | str, quick: bool) -> list[Row]:
    """Partition rows: DSVT window + set partitions for both hybrid configs, FlatFormer's four orders."""
    device = torch.device(device)
    coords, batch_size, source = pillar_batch(device)
    shape = f"{len(coords)} pillars, B={batch_size} ({source})"
    timing = {"warmup": 1, "repeat": 3} if quick else {"warmup": 2, "repeat": 7}
    result = []
    for window_shape, shift in DSVT_CONFIGS:

        def ours(window_shape=window_shape, shift=shift):
            part = window_partition(coords, SPARSE_SHAPE, window_shape, shift, batch_size)
            return [dsvt_sets(part, coords, SET_SIZE, axis) for axis in ("y", "x")]

        def baseline(window_shape=window_shape, shift=shift):
            return dsvt_style_sets(coords, window_shape, shift, SET_SIZE)

        name = f"dsvt_sets {window_shape[1]}x{window_shape[2]} shift {shift[1]} tau {SET_SIZE} (x+y)"
        result.append(compare(name, shape, device, ours, "DSVT-style torch", baseline, **timing))

    def flat_ours():
        return [
            flat_groups(coords, SPARSE_SHAPE, FLAT_WINDOW, GROUP_SIZE, axis, shifted, batch_size)
            for axis in ("x", "y")
            for shifted in (False, True)
        ]

    def flat_baseline():
        return flatformer_style_groups(coords, FLAT_WINDOW, GROUP_SIZE, batch_size)

    name = f"flat_groups 13x13 G={GROUP_SIZE} (4 orders)"
    result.append(compare(name, shape, device, flat_ours, "FlatFormer-style torch", flat_baseline, **timing))
    return result
