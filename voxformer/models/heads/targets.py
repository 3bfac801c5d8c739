"""CenterPoint training targets, vectorized over objects (no per-object Python loop).

Heatmaps are (B, num_classes, H, W) with H rows along y and W columns along x; cells and regression codes are
those of :class:`~voxformer.models.heads.box_coder.CenterPointBoxCoder`. With ``regression_radius`` r > 0 every
cell of the (2r+1)^2 square around the centre cell is supervised with the same box (its own offsets); a cell
claimed by several objects goes to the nearest centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .box_coder import CenterPointBoxCoder


def gaussian_radius(height: torch.Tensor, width: torch.Tensor, min_overlap: float = 0.1) -> torch.Tensor:
    """CornerNet radius (in cells) such that corners moved by it keep IoU >= ``min_overlap`` with the box.

    The three roots are divided by 2 (not by 2a), as CenterPoint, OpenPCDet and MMDetection3D do.
    """
    o = min_overlap
    b1 = height + width
    c1 = width * height * (1 - o) / (1 + o)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - o) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * o
    b3 = -2 * o * (height + width)
    c3 = (o - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def draw_gaussians(
    heatmap: torch.Tensor,
    batch: torch.Tensor,
    label: torch.Tensor,
    center: torch.Tensor,
    radius: torch.Tensor,
) -> torch.Tensor:
    """Draw one Gaussian per object into a non-negative ``heatmap`` (B, C, H, W) by element-wise max, in place.

    ``batch``, ``label`` (N,) int64; ``center`` (N, 2) int64 cell (column, row); ``radius`` (N,) int64.
    Each Gaussian covers the (2r+1)^2 square around its centre with sigma = (2r+1)/6 and peak 1.
    """
    if batch.numel() == 0:
        return heatmap
    _, _, rows, cols = heatmap.shape
    dx, dy, x, y, inside = _square_cells(center[:, 0], center[:, 1], int(radius.max()), rows, cols)
    sigma = (2 * radius.to(heatmap.dtype) + 1) / 6
    value = torch.exp(-(dx**2 + dy**2).to(heatmap.dtype) / (2 * sigma[:, None] ** 2))
    keep = (
        inside
        & (dx.abs() <= radius[:, None])
        & (dy.abs() <= radius[:, None])
        & (value > torch.finfo(heatmap.dtype).eps)
    )
    plane = (batch * heatmap.shape[1] + label)[:, None].expand_as(x)
    flat_index = torch.where(keep, (plane * rows + y) * cols + x, 0)
    # Cells outside a Gaussian add amax(., 0) at cell 0, a no-op on a non-negative heatmap (no masked
    # selection, which would size its output on the host).
    flat = heatmap.view(-1)
    flat.scatter_reduce_(0, flat_index.flatten(), torch.where(keep, value, 0).flatten(), reduce="amax")
    return heatmap


@dataclass
class CenterTargets:
    """Targets of one task for a batch.

    ``heatmap`` (B, num_classes, H, W); per supervised cell (N of them; one per object when the
    regression radius is 0): ``batch`` (N,), ``cell`` (N,) flat index row * W + column, ``label`` (N,)
    class index within the task, ``code`` (N, D) regression target, ``boxes`` (N, 7+) the cell's
    ground-truth box.
    """

    heatmap: torch.Tensor
    batch: torch.Tensor
    cell: torch.Tensor
    label: torch.Tensor
    code: torch.Tensor
    boxes: torch.Tensor


def assign_targets(
    gt_boxes: Sequence[torch.Tensor],
    gt_labels: Sequence[torch.Tensor],
    num_classes: int,
    grid_hw: tuple[int, int],
    coder: CenterPointBoxCoder,
    min_overlap: float = 0.1,
    min_radius: int = 2,
    regression_radius: int = 0,
) -> CenterTargets:
    """Heatmaps and regression targets of one task, coded by ``coder``.

    ``gt_boxes[b]`` (N_b, 7+) boxes of sample b; ``gt_labels[b]`` (N_b,) labels within the task, -1 for
    boxes of other tasks (ignored). Objects whose centre falls outside the grid are dropped.
    """
    rows, cols = grid_hw
    device = gt_boxes[0].device if len(gt_boxes) else torch.device("cpu")
    heatmap = torch.zeros(len(gt_boxes), num_classes, rows, cols, device=device)
    boxes = torch.cat([b[:, :9] if coder.with_velocity else b[:, :7] for b in gt_boxes], dim=0).float()
    labels = torch.cat(list(gt_labels)).long()
    batch = torch.cat([torch.full((len(b),), i, dtype=torch.long, device=device) for i, b in enumerate(gt_boxes)])

    fx, fy = coder.cell_coordinates(boxes[:, :2])
    column, row = fx.floor().long(), fy.floor().long()
    keep = (labels >= 0) & (column >= 0) & (column < cols) & (row >= 0) & (row < rows)
    kept = keep.nonzero().squeeze(1)  # the one host sync of the filter: how many objects the task keeps
    boxes, labels, batch = boxes[kept], labels[kept], batch[kept]
    fx, fy, column, row = fx[kept], fy[kept], column[kept], row[kept]

    cell_x, cell_y = coder.cell_size
    radius = gaussian_radius(boxes[:, 4] / cell_y, boxes[:, 3] / cell_x, min_overlap)
    radius = radius.floor().long().clamp(min=min_radius)
    draw_gaussians(heatmap, batch, labels, torch.stack([column, row], dim=1), radius)

    obj, column, row = _regression_cells(batch, column, row, fx, fy, rows, cols, regression_radius)
    boxes, labels, batch = boxes[obj], labels[obj], batch[obj]
    code = coder.encode(boxes, column, row)
    return CenterTargets(heatmap, batch, row * cols + column, labels, code, boxes)


def _regression_cells(batch, column, row, fx, fy, rows: int, cols: int, radius: int):
    """Supervised cells as (object index, column, row): the in-map cells of the (2r+1)^2 square around
    each object's centre cell; a cell claimed twice keeps the object whose centre (fx, fy) is nearest."""
    obj = torch.arange(len(batch), device=batch.device)
    if radius == 0 or len(batch) == 0:
        return obj, column, row
    _, _, column, row, inside = _square_cells(column, row, radius, rows, cols)
    cell = inside.flatten().nonzero().squeeze(1)  # one host sync: how many cells lie in the map
    obj, column, row = cell // inside.shape[1], column.flatten()[cell], row.flatten()[cell]
    distance = (fx[obj] - column - 0.5) ** 2 + (fy[obj] - row - 0.5) ** 2
    key = (batch[obj] * rows + row) * cols + column
    by_distance = distance.argsort(stable=True)
    order = by_distance[key[by_distance].argsort(stable=True)]
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    return obj[keep], column[keep], row[keep]


def _square_cells(column: torch.Tensor, row: torch.Tensor, radius: int, rows: int, cols: int):
    """The (2r+1)^2 cells around each of N cells: offsets ``dx``, ``dy`` (1, K), cells ``x``, ``y`` (N, K)
    and ``inside`` (N, K), whether each lies in the rows x cols map."""
    steps = torch.arange(-radius, radius + 1, device=column.device)
    dy, dx = (d.reshape(1, -1) for d in torch.meshgrid(steps, steps, indexing="ij"))
    x, y = column[:, None] + dx, row[:, None] + dy
    inside = (x >= 0) & (x < cols) & (y >= 0) & (y < rows)
    return dx, dy, x, y, inside
