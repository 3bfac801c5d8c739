"""numba CPU kernels for the box ops in :mod:`voxformer.ops.boxes` (same conventions, float64 arrays).

The rotated-rectangle intersection here is Sutherland-Hodgman clipping (box a clipped by the four
edge half-planes of box b, then the shoelace area), an algorithm independent of the reference's
vertex-collection one, so the two check each other. Boxes are (N, 7) float64 arrays
(x, y, z, dx, dy, dz, yaw); coordinates are taken relative to box a's centre before clipping.

The kernels are single-threaded on purpose: they run inside data-loader workers and evaluation
processes, where a thread pool per process oversubscribes the CPU (measured here: numba's
``parallel=True`` made these kernels 10-100x slower on a loaded 2-core machine).
"""

from __future__ import annotations

import numba
import numpy as np

# Each clip emits at most two vertices per input vertex: 4 -> 8 -> 16 -> 32 -> 64 bounds the polygon
# even when rounding makes a vertex flip sides of a clip edge several times.
MAX_CLIPPED_VERTICES = 64
MAX_GRID_SIDE = 512  # cells along the longer side of the points-in-boxes grid, at most


@numba.njit(cache=True)
def _geometry(boxes):
    """(N, 7) boxes -> (N, 3) cos yaw, sin yaw and circumscribed-circle radius in BEV."""
    out = np.empty((boxes.shape[0], 3))
    out[:, 0] = np.cos(boxes[:, 6])
    out[:, 1] = np.sin(boxes[:, 6])
    out[:, 2] = 0.5 * np.hypot(boxes[:, 3], boxes[:, 4])
    return out


@numba.njit(cache=True)
def _corners(boxes, geometry, m, origin_x, origin_y, out):
    """Counter-clockwise BEV corners of box ``m`` relative to the origin, into ``out`` (4, 2)."""
    half_x, half_y = boxes[m, 3] / 2, boxes[m, 4] / 2
    cos, sin = geometry[m, 0], geometry[m, 1]
    for k in range(4):
        local_x = half_x if k == 0 or k == 3 else -half_x
        local_y = half_y if k < 2 else -half_y
        out[k, 0] = local_x * cos - local_y * sin + boxes[m, 0] - origin_x
        out[k, 1] = local_x * sin + local_y * cos + boxes[m, 1] - origin_y


@numba.njit(cache=True)
def _clip(src, count, start_x, start_y, end_x, end_y, dst):
    """Keep the part of polygon ``src[:count]`` left of (or on) the line start -> end; returns the new count."""
    edge_x, edge_y = end_x - start_x, end_y - start_y
    out = 0
    prev_x, prev_y = src[count - 1, 0], src[count - 1, 1]
    prev_side = edge_x * (prev_y - start_y) - edge_y * (prev_x - start_x)
    for i in range(count):
        cur_x, cur_y = src[i, 0], src[i, 1]
        cur_side = edge_x * (cur_y - start_y) - edge_y * (cur_x - start_x)
        if (prev_side >= 0) != (cur_side >= 0):
            t = prev_side / (prev_side - cur_side)
            dst[out, 0] = prev_x + t * (cur_x - prev_x)
            dst[out, 1] = prev_y + t * (cur_y - prev_y)
            out += 1
        if cur_side >= 0:
            dst[out, 0] = cur_x
            dst[out, 1] = cur_y
            out += 1
        prev_x, prev_y, prev_side = cur_x, cur_y, cur_side
    return out


@numba.njit(cache=True)
def _intersection_area(quad_a, quad_b, buf_a, buf_b):
    """Area of the intersection of two counter-clockwise quads (4, 2), using two scratch buffers."""
    count = 4
    buf_a[:4] = quad_a
    src, dst = buf_a, buf_b
    for k in range(4):
        nxt = (k + 1) % 4
        count = _clip(src, count, quad_b[k, 0], quad_b[k, 1], quad_b[nxt, 0], quad_b[nxt, 1], dst)
        if count < 3:
            return 0.0
        src, dst = dst, src
    twice_area = 0.0
    for i in range(count):
        j = (i + 1) % count
        twice_area += src[i, 0] * src[j, 1] - src[i, 1] * src[j, 0]
    return max(twice_area / 2, 0.0)


@numba.njit(cache=True)
def _pair_iou(a, geometry_a, i, b, geometry_b, j, volume, quad_a, quad_b, buf_a, buf_b):
    """IoU (BEV, or upright 3D when ``volume``) of boxes a[i] and b[j]; 0 when either has no area/volume."""
    box_a, box_b = a[i], b[j]
    size_a, size_b = box_a[3] * box_a[4], box_b[3] * box_b[4]
    height = 1.0
    if volume:
        top = min(box_a[2] + box_a[5] / 2, box_b[2] + box_b[5] / 2)
        bottom = max(box_a[2] - box_a[5] / 2, box_b[2] - box_b[5] / 2)
        height = top - bottom
        size_a *= box_a[5]
        size_b *= box_b[5]
    if size_a <= 0 or size_b <= 0 or height <= 0:
        return 0.0
    _corners(a, geometry_a, i, box_a[0], box_a[1], quad_a)
    _corners(b, geometry_b, j, box_a[0], box_a[1], quad_b)
    inter = min(_intersection_area(quad_a, quad_b, buf_a, buf_b), box_a[3] * box_a[4], box_b[3] * box_b[4])
    inter *= height
    return inter / (size_a + size_b - inter)


@numba.njit(cache=True)
def _circles_meet(a, geometry_a, i, b, geometry_b, j):
    """True when the circumscribed circles of a[i] and b[j] meet (a cheap test before clipping)."""
    gap_x, gap_y = a[i, 0] - b[j, 0], a[i, 1] - b[j, 1]
    reach = (geometry_a[i, 2] + geometry_b[j, 2]) * (1 + 1e-9)
    return gap_x * gap_x + gap_y * gap_y <= reach * reach


@numba.njit(cache=True)
def _scratch():
    """Buffers for one pair at a time: two (4, 2) quads and two clipping buffers."""
    return (
        np.empty((4, 2)),
        np.empty((4, 2)),
        np.empty((MAX_CLIPPED_VERTICES, 2)),
        np.empty((MAX_CLIPPED_VERTICES, 2)),
    )


@numba.njit(cache=True)
def iou_matrix(a, b, volume):
    """(N, 7) x (M, 7) -> (N, M) IoU, BEV or upright 3D (``volume``)."""
    iou = np.zeros((a.shape[0], b.shape[0]))
    geometry_a, geometry_b = _geometry(a), _geometry(b)
    quad_a, quad_b, buf_a, buf_b = _scratch()
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            if _circles_meet(a, geometry_a, i, b, geometry_b, j):
                iou[i, j] = _pair_iou(a, geometry_a, i, b, geometry_b, j, volume, quad_a, quad_b, buf_a, buf_b)
    return iou


@numba.njit(cache=True)
def iou_aligned(a, b, volume):
    """(N, 7) and (N, 7) -> (N,) IoU of a[i] with b[i]."""
    iou = np.zeros(a.shape[0])
    geometry_a, geometry_b = _geometry(a), _geometry(b)
    quad_a, quad_b, buf_a, buf_b = _scratch()
    for i in range(a.shape[0]):
        iou[i] = _pair_iou(a, geometry_a, i, b, geometry_b, i, volume, quad_a, quad_b, buf_a, buf_b)
    return iou


@numba.njit(cache=True)
def nms_rotated(boxes, iou_threshold, post_max_size):
    """Greedy NMS over boxes sorted by descending score; returns kept positions (int64).

    IoUs are computed lazily, only between a kept box and the boxes not yet suppressed, and only
    where the circumscribed circles meet. ``post_max_size`` < 0 means no limit.
    """
    num = boxes.shape[0]
    geometry = _geometry(boxes)
    quad_a, quad_b, buf_a, buf_b = _scratch()
    suppressed = np.zeros(num, dtype=np.bool_)
    keep = np.empty(num, dtype=np.int64)
    kept = 0
    for i in range(num):
        if suppressed[i]:
            continue
        keep[kept] = i
        kept += 1
        if kept == post_max_size:
            break
        for j in range(i + 1, num):
            if suppressed[j] or not _circles_meet(boxes, geometry, i, boxes, geometry, j):
                continue
            iou = _pair_iou(boxes, geometry, i, boxes, geometry, j, False, quad_a, quad_b, buf_a, buf_b)
            if iou > iou_threshold:
                suppressed[j] = True
    return keep[:kept]


@numba.njit(cache=True)
def circle_nms(centers, distance_threshold, post_max_size):
    """Greedy NMS by centre distance (<= threshold suppresses) over centres sorted by descending score."""
    num = centers.shape[0]
    limit = distance_threshold * distance_threshold
    suppressed = np.zeros(num, dtype=np.bool_)
    keep = np.empty(num, dtype=np.int64)
    kept = 0
    for i in range(num):
        if suppressed[i]:
            continue
        keep[kept] = i
        kept += 1
        if kept == post_max_size:
            break
        for j in range(i + 1, num):
            gap_x, gap_y = centers[i, 0] - centers[j, 0], centers[i, 1] - centers[j, 1]
            if gap_x * gap_x + gap_y * gap_y <= limit:
                suppressed[j] = True
    return keep[:kept]


@numba.njit(cache=True)
def _box_grid(boxes, reach_x, reach_y):
    """Bin boxes by their BEV bounding boxes into a uniform grid about one box wide.

    Returns (origin_x, origin_y, cell, size_x, size_y, offsets, members): the boxes whose bounding
    box meets cell (ix, iy) are ``members[offsets[c]:offsets[c + 1]]`` with c = iy * size_x + ix,
    in ascending box order.
    """
    low_x, high_x = np.min(boxes[:, 0] - reach_x), np.max(boxes[:, 0] + reach_x)
    low_y, high_y = np.min(boxes[:, 1] - reach_y), np.max(boxes[:, 1] + reach_y)
    span = max(high_x - low_x, high_y - low_y)
    cell = max(span / MAX_GRID_SIDE, np.mean(np.maximum(reach_x, reach_y)), 1e-9)
    size_x, size_y = int((high_x - low_x) / cell) + 1, int((high_y - low_y) / cell) + 1
    first_x = np.minimum(((boxes[:, 0] - reach_x - low_x) / cell).astype(np.int64), size_x - 1)
    last_x = np.minimum(((boxes[:, 0] + reach_x - low_x) / cell).astype(np.int64), size_x - 1)
    first_y = np.minimum(((boxes[:, 1] - reach_y - low_y) / cell).astype(np.int64), size_y - 1)
    last_y = np.minimum(((boxes[:, 1] + reach_y - low_y) / cell).astype(np.int64), size_y - 1)
    offsets = np.zeros(size_x * size_y + 1, dtype=np.int64)
    for m in range(boxes.shape[0]):
        for iy in range(first_y[m], last_y[m] + 1):
            for ix in range(first_x[m], last_x[m] + 1):
                offsets[iy * size_x + ix + 1] += 1
    offsets = np.cumsum(offsets)
    fill = offsets[:-1].copy()
    members = np.empty(offsets[-1], dtype=np.int64)
    for m in range(boxes.shape[0]):
        for iy in range(first_y[m], last_y[m] + 1):
            for ix in range(first_x[m], last_x[m] + 1):
                members[fill[iy * size_x + ix]] = m
                fill[iy * size_x + ix] += 1
    return low_x, low_y, cell, size_x, size_y, offsets, members


@numba.njit(cache=True)
def points_in_boxes(points, boxes, first_only):
    """Points (N, 3) x boxes (M, 7), inclusive boundaries.

    Returns (first, counts): ``first`` (N,) int64 index of the first box containing each point or
    -1; ``counts`` (M,) int64 points per box. With ``first_only`` the scan of a point stops at its
    first box and ``counts`` is left zero. A point is tested only against the boxes listed in its
    cell of a BEV grid (see :func:`_box_grid`).
    """
    cos, sin = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    # half extents of the BEV bounding boxes, widened so that rounding never drops a boundary point
    reach_x = 0.5 * (np.abs(boxes[:, 3] * cos) + np.abs(boxes[:, 4] * sin)) * (1 + 1e-9) + 1e-12
    reach_y = 0.5 * (np.abs(boxes[:, 3] * sin) + np.abs(boxes[:, 4] * cos)) * (1 + 1e-9) + 1e-12
    low_x, low_y, cell, size_x, size_y, offsets, members = _box_grid(boxes, reach_x, reach_y)
    first = np.full(points.shape[0], -1, dtype=np.int64)
    counts = np.zeros(boxes.shape[0], dtype=np.int64)
    for n in range(points.shape[0]):
        cell_x, cell_y = (points[n, 0] - low_x) / cell, (points[n, 1] - low_y) / cell
        if not (0 <= cell_x < size_x and 0 <= cell_y < size_y):
            continue
        c = int(cell_y) * size_x + int(cell_x)
        for k in range(offsets[c], offsets[c + 1]):
            m = members[k]
            dx = points[n, 0] - boxes[m, 0]
            dy = points[n, 1] - boxes[m, 1]
            dz = points[n, 2] - boxes[m, 2]
            local_x = dx * cos[m] + dy * sin[m]
            local_y = dy * cos[m] - dx * sin[m]
            if abs(local_x) <= boxes[m, 3] / 2 and abs(local_y) <= boxes[m, 4] / 2 and abs(dz) <= boxes[m, 5] / 2:
                if first[n] < 0:
                    first[n] = m
                if first_only:
                    break
                counts[m] += 1
    return first, counts
