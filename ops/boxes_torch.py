"""Device-side box ops for CUDA tensors (the ``torch`` backend of :mod:`voxformer.ops.boxes`).

Fixed-shape tensor code whose loops run over chunks and NMS ranks, never over boxes, and which never
copies to the host: every shape follows from the input shapes and the host-side arguments.

- IoU: every pair's rectangles are intersected (the reference's batched polygon intersection, float64),
  and pairs whose circumscribed circles do not meet are 0, as in the reference. No candidate list is
  built (that would need a data-dependent size).
- NMS, for many groups at once: the boxes (already ordered by group, then score) are laid out as a
  (G, W) table, W the size of the largest group (the caller's one host sync); the (G, W, W) suppression
  matrix is built on the device (pairs i < j only), and greedy suppression runs rank by rank, W steps for
  all groups together. Rank r is final once ranks < r are, so the result is the sequential greedy one exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .boxes import PAIRS_PER_CHUNK, _bev_radius, _iou_pairs_reference


def _near(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Whether the BEV circumscribed circles of row-aligned boxes meet, (P, 7+) each -> (P,) bool."""
    gap = torch.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
    return gap <= (_bev_radius(a) + _bev_radius(b)) * (1 + 1e-9)


def iou_pairs(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    """IoU of row i of ``a`` with row i of ``b`` (float64): (P, 7+) each -> (P,); far pairs are exactly 0."""
    a, b = a.double(), b.double()
    return torch.where(_near(a, b), _iou_pairs_reference(a, b, mode), 0.0)


def iou_matrix(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    """IoU of every box of ``a`` (N, 7+) with every box of ``b`` (M, 7+) -> (N, M) float64."""
    rows_per_chunk = max(1, PAIRS_PER_CHUNK // b.shape[0])
    parts = []
    for start in range(0, a.shape[0], rows_per_chunk):
        rows = a[start : start + rows_per_chunk]
        pairs_a = rows[:, None].expand(-1, b.shape[0], -1).reshape(-1, a.shape[1])
        pairs_b = b[None].expand(rows.shape[0], -1, -1).reshape(-1, b.shape[1])
        parts.append(iou_pairs(pairs_a, pairs_b, mode).view(rows.shape[0], b.shape[0]))
    return torch.cat(parts)


def rotated_overlaps(a: torch.Tensor, b: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Whether box a[i] suppresses b[i] in rotated NMS: BEV IoU > thresholds[i]."""
    return iou_pairs(a, b, "bev") > thresholds


def circle_overlaps(a: torch.Tensor, b: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Whether centre a[i] suppresses b[i] in circle NMS: distance <= thresholds[i] (float64)."""
    a, b = a.double(), b.double()
    return torch.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) <= thresholds


def grouped_nms(
    overlaps: Callable,
    items: torch.Tensor,
    groups: torch.Tensor,
    thresholds: torch.Tensor,
    post_max_sizes: torch.Tensor,
    width: int,
) -> torch.Tensor:
    """Greedy NMS in every group at once, following the contract of ``ops/boxes.py`` (``_batched_nms``).

    ``items`` (N, D) are sorted by group (ascending) then score; ``groups`` (N,) int64 holds their group
    ids in [0, G], G marking boxes that take no part (sorted last); no group has more than ``width``.
    ``overlaps(a, b, thresholds)`` says, per row, whether a suppresses b. Returns the keep mask (N,) bool.
    """
    num, num_groups = items.shape[0], thresholds.shape[0]
    device = items.device
    position = torch.arange(num, device=device)
    rank = position - torch.searchsorted(groups, groups)
    taking_part = groups < num_groups
    # table slot of each box; boxes that take no part go to distinct slots past the table
    slot = torch.where(taking_part, groups.clamp(max=num_groups - 1) * width + rank, num_groups * width + position)
    table = (num + torch.arange(num_groups * width + num, device=device)).scatter(0, slot, position)
    index = table[: num_groups * width].view(num_groups, width)
    valid = index < num
    padded = torch.cat([items, items.new_zeros(1, items.shape[1])])[index.clamp(max=num)]

    # the suppression matrix, for the pairs i < j of each group only (padding is never alive, so never matters)
    first, second = torch.triu_indices(width, width, 1, device=device)
    per_group = first.shape[0]
    parts = []
    for start in range(0, num_groups * per_group, PAIRS_PER_CHUNK):
        pair = torch.arange(start, min(start + PAIRS_PER_CHUNK, num_groups * per_group), device=device)
        group, within = pair // per_group, pair % per_group
        a, b = padded[group, first[within]], padded[group, second[within]]
        parts.append(overlaps(a, b, thresholds[group]))
    suppresses = torch.zeros(num_groups, width, width, dtype=torch.bool, device=device)
    suppresses[:, first, second] = torch.cat(parts).view(num_groups, per_group) if parts else False

    alive = valid.clone()
    for r in range(width - 1):
        alive[:, r + 1 :] &= ~(suppresses[:, r, r + 1 :] & alive[:, r : r + 1])
    alive &= alive.cumsum(dim=1) <= post_max_sizes[:, None]
    keep = torch.zeros(num + num_groups * width, dtype=torch.bool, device=device)
    return keep.scatter(0, index.flatten(), alive.flatten())[:num]
