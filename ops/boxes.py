r"""Box ops: rotated bird's-eye-view IoU, upright 3D IoU, rotated and circle NMS, points in boxes.

Boxes are (N, 7+) float tensors in the docs/design.md §Boxes convention: (x, y, z, dx, dy, dz, yaw[, ...]) with
(x, y, z) the gravity centre, dx the length along the heading, dy the width, dz the height and yaw
counter-clockwise from +x. Extra columns are ignored. Sizes are expected to be non-negative; a box
with zero BEV area (or zero volume, for 3D) has IoU 0 with everything, itself included.

- BEV IoU is the exact area of intersection of the two rotated rectangles (convex polygon
  intersection) over the area of their union. 3D IoU is that area times the overlap of the z
  extents, over the union of the volumes (boxes stand upright: yaw turns about z only).
- Points in boxes use **inclusive** boundaries: a point p is in a box when, in the box's frame,
  |p_x| <= dx / 2, |p_y| <= dy / 2 and |p_z| <= dz / 2 (up to float rounding of the rotation).
- NMS visits boxes by descending score (ties by index), keeps a box unless an already kept box
  overlaps it with IoU **greater than** the threshold, and returns indices into the input.

NMS runs in many groups at once (``batched_nms_rotated``, ``batched_circle_nms``): boxes of different
groups (e.g. classes of different samples) never suppress each other, and the size limits apply per group.

The reference implementations are vectorized PyTorch on any device and compute in float64; pairs
whose circumscribed circles do not meet are skipped; reference NMS loops over groups and boxes on the
host. ``numba`` (CPU) backends compute the same quantities with an independent algorithm
(Sutherland-Hodgman clipping). The ``torch`` backends (``ops/boxes_torch.py``, picked for CUDA tensors)
are fixed-shape device code without host copies; for aligned IoU and points in boxes the reference
already is, and serves as the ``torch`` backend.
"""

from __future__ import annotations

import numpy as np
import torch

from .backends import Backend, select

BOX_MIN_DIM = 7
IOU_MODES = ("bev", "3d")
PAIRS_PER_CHUNK = 1 << 15  # pairs whose polygon intersection is computed at once (~100 MB of float64 temporaries)
CELLS_PER_CHUNK = 1 << 22  # entries of a (rows x columns) mask built at once


# -- input checks ---------------------------------------------------------------------------------
def _check_boxes(name: str, boxes) -> torch.Tensor:
    if not torch.is_tensor(boxes):
        raise ValueError(f"{name}: expected a (N, 7+) float tensor of boxes, got {type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[1] < BOX_MIN_DIM or not boxes.is_floating_point():
        raise ValueError(
            f"{name}: expected a (N, 7+) float tensor of boxes (x, y, z, dx, dy, dz, yaw), "
            f"got shape {tuple(boxes.shape)} dtype {boxes.dtype}"
        )
    return boxes


def _check_same_device(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.device != b.device:
        raise ValueError(f"{name_a} is on {a.device} but {name_b} is on {b.device}; put both on one device")


def _check_mode(mode: str) -> str:
    if mode not in IOU_MODES:
        raise ValueError(f"mode: expected one of {IOU_MODES}, got {mode!r}")
    return mode


def _check_scores(scores, num: int, name: str = "scores") -> torch.Tensor:
    if not torch.is_tensor(scores) or scores.dim() != 1 or scores.shape[0] != num:
        shape = tuple(scores.shape) if torch.is_tensor(scores) else type(scores).__name__
        raise ValueError(f"{name}: expected a ({num},) tensor, one score per box, got {shape}")
    return scores


def _check_max_size(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative int or None, got {value!r}")
    return value


def _output_dtype(*tensors: torch.Tensor) -> torch.dtype:
    dtype = tensors[0].dtype
    for tensor in tensors[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype


# -- reference geometry (float64, vectorized over pairs) ------------------------------------------
def _cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """z component of the 2D cross product over the last axis (size 2)."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _bev_corners(boxes: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """(P, 7+) boxes -> (P, 4, 2) BEV corners, relative to ``origin`` (P, 2): counter-clockwise from the
    front-left one, (dx, dy) times (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5), turned by yaw."""
    corner = torch.arange(4, device=boxes.device)  # built on the device: no host copy per call
    signs = 0.5 - torch.stack([(corner == 1) | (corner == 2), corner >= 2], dim=1).to(boxes.dtype)
    local = signs * boxes[:, None, 3:5]
    cos, sin = torch.cos(boxes[:, 6:7]), torch.sin(boxes[:, 6:7])
    x = local[..., 0] * cos - local[..., 1] * sin + (boxes[:, 0:1] - origin[:, 0:1])
    y = local[..., 0] * sin + local[..., 1] * cos + (boxes[:, 1:2] - origin[:, 1:2])
    return torch.stack([x, y], dim=-1)


def _quad_intersection_area(quad_a: torch.Tensor, quad_b: torch.Tensor) -> torch.Tensor:
    """Area of the intersection of two convex counter-clockwise quadrilaterals, (P, 4, 2) each -> (P,).

    The intersection polygon's vertices are the corners of each quad inside the other plus the
    crossings of their edges; sorted by angle around their mean they bound a convex polygon whose
    area is the shoelace sum. Containment and crossing tests are inclusive with a tolerance
    relative to the coordinates' scale, so touching and coincident edges are handled.
    """
    num = quad_a.shape[0]
    scale = torch.maximum(quad_a.abs().amax(dim=(1, 2)), quad_b.abs().amax(dim=(1, 2)))
    tol = (1e-9 * scale * scale)[:, None, None]
    edges_a = quad_a.roll(-1, dims=1) - quad_a
    edges_b = quad_b.roll(-1, dims=1) - quad_b

    # corner i of one quad is inside the other when it is left of (or on) every edge k
    a_in_b = (_cross(edges_b[:, None], quad_a[:, :, None] - quad_b[:, None]) >= -tol).all(dim=2)
    b_in_a = (_cross(edges_a[:, None], quad_b[:, :, None] - quad_a[:, None]) >= -tol).all(dim=2)

    # edge i of a (p + t r) crosses edge k of b (q + u s) at 0 <= t, u <= 1
    p, r = quad_a[:, :, None], edges_a[:, :, None]
    q, s = quad_b[:, None], edges_b[:, None]
    denom = _cross(r, s)
    crossing = denom.abs() > tol
    safe = torch.where(crossing, denom, torch.ones_like(denom))
    t = _cross(q - p, s) / safe
    u = _cross(q - p, r) / safe
    crossing &= (t >= -1e-9) & (t <= 1 + 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
    crossings = (p + t[..., None] * r).reshape(num, 16, 2)

    points = torch.cat([quad_a, quad_b, crossings], dim=1)
    valid = torch.cat([a_in_b, b_in_a, crossing.reshape(num, 16)], dim=1)
    count = valid.sum(dim=1)
    centre = (points * valid[..., None]).sum(dim=1) / count.clamp(min=1)[:, None]
    rel = points - centre[:, None]
    angle = torch.where(valid, torch.atan2(rel[..., 1], rel[..., 0]), torch.full_like(rel[..., 0], 10.0))
    order = angle.argsort(dim=1)
    rel = rel.gather(1, order[..., None].expand(-1, -1, 2))
    valid = valid.gather(1, order)
    rel = torch.where(valid[..., None], rel, rel[:, :1])  # pad with the first vertex: adds no area
    area = 0.5 * _cross(rel, rel.roll(-1, dims=1)).sum(dim=1)
    return torch.where(count >= 3, area, torch.zeros_like(area))


def _iou_pairs_reference(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    """IoU of row i of ``a`` with row i of ``b``, (P, 7+) float64 each -> (P,) float64."""
    parts = []
    for start in range(0, a.shape[0], PAIRS_PER_CHUNK):
        ca, cb = a[start : start + PAIRS_PER_CHUNK], b[start : start + PAIRS_PER_CHUNK]
        origin = ca[:, :2]
        area_a, area_b = ca[:, 3] * ca[:, 4], cb[:, 3] * cb[:, 4]
        inter = _quad_intersection_area(_bev_corners(ca, origin), _bev_corners(cb, origin))
        inter = torch.minimum(inter.clamp(min=0), torch.minimum(area_a, area_b))
        if mode == "3d":
            top = torch.minimum(ca[:, 2] + ca[:, 5] / 2, cb[:, 2] + cb[:, 5] / 2)
            bottom = torch.maximum(ca[:, 2] - ca[:, 5] / 2, cb[:, 2] - cb[:, 5] / 2)
            inter = inter * (top - bottom).clamp(min=0)
            area_a, area_b = area_a * ca[:, 5], area_b * cb[:, 5]
        union = area_a + area_b - inter
        positive = (union > 0) & (area_a > 0) & (area_b > 0)
        parts.append(torch.where(positive, inter / torch.where(positive, union, torch.ones_like(union)), 0.0))
    if not parts:
        return a.new_zeros(0)
    return torch.cat(parts)


def _bev_radius(boxes: torch.Tensor) -> torch.Tensor:
    """Radius of each box's circumscribed circle in BEV."""
    return 0.5 * torch.hypot(boxes[:, 3], boxes[:, 4])


def _candidate_pairs(a: torch.Tensor, b: torch.Tensor, mode: str):
    """Yield (rows, cols) of pairs whose circumscribed circles (and, in 3D, z extents) meet."""
    radius_a, radius_b = _bev_radius(a), _bev_radius(b)
    rows_per_chunk = max(1, CELLS_PER_CHUNK // max(1, b.shape[0]))
    for start in range(0, a.shape[0], rows_per_chunk):
        chunk = slice(start, start + rows_per_chunk)
        near = torch.cdist(a[chunk, :2], b[:, :2]) <= (radius_a[chunk, None] + radius_b[None]) * (1 + 1e-9)
        if mode == "3d":
            top = torch.minimum(a[chunk, 2:3] + a[chunk, 5:6] / 2, (b[:, 2] + b[:, 5] / 2)[None])
            bottom = torch.maximum(a[chunk, 2:3] - a[chunk, 5:6] / 2, (b[:, 2] - b[:, 5] / 2)[None])
            near &= top > bottom
        rows, cols = near.nonzero(as_tuple=True)
        yield rows + start, cols


def _iou_matrix_reference(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    a, b = a.double(), b.double()
    iou = a.new_zeros(a.shape[0], b.shape[0])
    for rows, cols in _candidate_pairs(a, b, mode):
        iou[rows, cols] = _iou_pairs_reference(a[rows], b[cols], mode)
    return iou


def _iou_aligned_reference(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    return _iou_pairs_reference(a.double(), b.double(), mode)


# -- reference NMS -------------------------------------------------------------------------------
def _greedy_keep(overlaps: np.ndarray, post_max_size: int | None) -> np.ndarray:
    """Greedy suppression over boxes already in score order; ``overlaps[i, j]`` True when i suppresses j."""
    suppressed = np.zeros(overlaps.shape[0], dtype=bool)
    keep = []
    for i in range(overlaps.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        if post_max_size is not None and len(keep) >= post_max_size:
            break
        suppressed |= overlaps[i]
    return np.asarray(keep, dtype=np.int64)


def _nms_rotated_reference(sorted_boxes: torch.Tensor, iou_threshold: float, post_max_size: int | None):
    overlaps = (_iou_matrix_reference(sorted_boxes, sorted_boxes, "bev") > iou_threshold).cpu().numpy()
    return _greedy_keep(overlaps, post_max_size)


def _circle_nms_reference(sorted_centers: torch.Tensor, distance_threshold: float, post_max_size: int | None):
    gap = sorted_centers.double()[:, None] - sorted_centers.double()[None]
    overlaps = (torch.hypot(gap[..., 0], gap[..., 1]) <= distance_threshold).cpu().numpy()
    return _greedy_keep(overlaps, post_max_size)


def _host_grouped(single):
    """The batched NMS contract (see ``_batched_nms``) from a one-group NMS, looping over groups on the host."""

    def run(items, groups, thresholds, post_max_sizes, width):
        keep = torch.zeros(items.shape[0], dtype=torch.bool, device=items.device)
        for group in groups[groups < thresholds.shape[0]].unique().tolist():
            members = (groups == group).nonzero().squeeze(1)
            kept = single(items[members], float(thresholds[group]), int(post_max_sizes[group]))
            keep[members[torch.as_tensor(kept, dtype=torch.int64, device=items.device)]] = True
        return keep

    return run


# -- reference points in boxes -------------------------------------------------------------------
def _inside_mask(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(n, 3+) float64 points x (M, 7+) float64 boxes -> (n, M) bool, inclusive boundaries."""
    dx = points[:, None, 0] - boxes[None, :, 0]
    dy = points[:, None, 1] - boxes[None, :, 1]
    dz = points[:, None, 2] - boxes[None, :, 2]
    cos, sin = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    local_x = dx * cos + dy * sin
    local_y = dy * cos - dx * sin
    return (local_x.abs() <= boxes[:, 3] / 2) & (local_y.abs() <= boxes[:, 4] / 2) & (dz.abs() <= boxes[:, 5] / 2)


def _point_chunks(points: torch.Tensor, boxes: torch.Tensor):
    step = max(1, CELLS_PER_CHUNK // max(1, boxes.shape[0]))
    for start in range(0, points.shape[0], step):
        yield _inside_mask(points[start : start + step].double(), boxes.double())


def _points_in_boxes_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    parts = []
    for inside in _point_chunks(points, boxes):
        first = inside.to(torch.uint8).argmax(dim=1)
        parts.append(torch.where(inside.any(dim=1), first, torch.full_like(first, -1)))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64, device=points.device)


def _count_points_in_boxes_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    counts = torch.zeros(boxes.shape[0], dtype=torch.int64, device=boxes.device)
    for inside in _point_chunks(points, boxes):
        counts += inside.sum(dim=0)
    return counts


# -- numba wrappers (tensor <-> array; the kernels live in ops/cpu/boxes_numba.py) ---------------
def _numba_kernels():
    from .cpu import boxes_numba

    return boxes_numba


def _as_f64(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float64)


def _iou_matrix_numba(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    iou = _numba_kernels().iou_matrix(_as_f64(a[:, :7]), _as_f64(b[:, :7]), mode == "3d")
    return torch.from_numpy(iou)


def _iou_aligned_numba(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    return torch.from_numpy(_numba_kernels().iou_aligned(_as_f64(a[:, :7]), _as_f64(b[:, :7]), mode == "3d"))


def _nms_rotated_numba(sorted_boxes: torch.Tensor, iou_threshold: float, post_max_size: int | None):
    limit = -1 if post_max_size is None else post_max_size
    return _numba_kernels().nms_rotated(_as_f64(sorted_boxes[:, :7]), float(iou_threshold), limit)


def _circle_nms_numba(sorted_centers: torch.Tensor, distance_threshold: float, post_max_size: int | None):
    limit = -1 if post_max_size is None else post_max_size
    return _numba_kernels().circle_nms(_as_f64(sorted_centers), float(distance_threshold), limit)


def _points_in_boxes_numba(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    first, _ = _numba_kernels().points_in_boxes(_as_f64(points[:, :3]), _as_f64(boxes[:, :7]), True)
    return torch.from_numpy(first)


def _count_points_in_boxes_numba(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    _, counts = _numba_kernels().points_in_boxes(_as_f64(points[:, :3]), _as_f64(boxes[:, :7]), False)
    return torch.from_numpy(counts)


# -- torch wrappers (device-side; the code lives in ops/boxes_torch.py) ----------------------------
def _torch_kernels():
    from . import boxes_torch

    return boxes_torch


def _iou_matrix_torch(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    return _torch_kernels().iou_matrix(a, b, mode)


def _nms_rotated_torch(items, groups, thresholds, post_max_sizes, width):
    kernels = _torch_kernels()
    return kernels.grouped_nms(kernels.rotated_overlaps, items, groups, thresholds, post_max_sizes, width)


def _circle_nms_torch(items, groups, thresholds, post_max_sizes, width):
    kernels = _torch_kernels()
    return kernels.grouped_nms(kernels.circle_overlaps, items, groups, thresholds, post_max_sizes, width)


GPU = ("cuda",)
IOU_MATRIX_BACKENDS = (
    Backend.vectorized(_iou_matrix_torch, GPU),
    Backend.numba(_iou_matrix_numba),
    Backend.reference(_iou_matrix_reference),
)
IOU_ALIGNED_BACKENDS = (
    Backend.vectorized(_iou_aligned_reference, GPU),
    Backend.numba(_iou_aligned_numba),
    Backend.reference(_iou_aligned_reference),
)
NMS_ROTATED_BACKENDS = (
    Backend.vectorized(_nms_rotated_torch, GPU),
    Backend.numba(_host_grouped(_nms_rotated_numba)),
    Backend.reference(_host_grouped(_nms_rotated_reference)),
)
CIRCLE_NMS_BACKENDS = (
    Backend.vectorized(_circle_nms_torch, GPU),
    Backend.numba(_host_grouped(_circle_nms_numba)),
    Backend.reference(_host_grouped(_circle_nms_reference)),
)
POINTS_IN_BOXES_BACKENDS = (
    Backend.vectorized(_points_in_boxes_reference, GPU),
    Backend.numba(_points_in_boxes_numba),
    Backend.reference(_points_in_boxes_reference),
)
COUNT_POINTS_BACKENDS = (
    Backend.vectorized(_count_points_in_boxes_reference, GPU),
    Backend.numba(_count_points_in_boxes_numba),
    Backend.reference(_count_points_in_boxes_reference),
)


# -- public API ----------------------------------------------------------------------------------
def _iou_matrix(op: str, a, b, mode: str, backend: str | None) -> torch.Tensor:
    a, b = _check_boxes("a", a), _check_boxes("b", b)
    _check_same_device("a", a, "b", b)
    dtype = _output_dtype(a, b)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return a.new_zeros(a.shape[0], b.shape[0], dtype=dtype)
    fn = select(op, IOU_MATRIX_BACKENDS, a.device, backend)
    return fn(a, b, mode).to(device=a.device, dtype=dtype)


def boxes_iou_bev(a: torch.Tensor, b: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """Rotated bird's-eye-view IoU of every box in ``a`` (N, 7+) with every box in ``b`` (M, 7+) -> (N, M)."""
    return _iou_matrix("boxes_iou_bev", a, b, "bev", backend)


def boxes_iou3d(a: torch.Tensor, b: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """Upright 3D IoU (rotated BEV intersection x z overlap / union volume), (N, 7+) x (M, 7+) -> (N, M)."""
    return _iou_matrix("boxes_iou3d", a, b, "3d", backend)


def boxes_iou_aligned(a: torch.Tensor, b: torch.Tensor, mode: str = "bev", backend: str | None = None) -> torch.Tensor:
    """IoU of ``a[i]`` with ``b[i]``: (N, 7+) and (N, 7+) -> (N,); ``mode`` is "bev" or "3d"."""
    a, b = _check_boxes("a", a), _check_boxes("b", b)
    _check_same_device("a", a, "b", b)
    _check_mode(mode)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"b: expected ({a.shape[0]}, 7+) boxes, one per box of a, got {tuple(b.shape)}")
    dtype = _output_dtype(a, b)
    if a.shape[0] == 0:
        return a.new_zeros(0, dtype=dtype)
    fn = select("boxes_iou_aligned", IOU_ALIGNED_BACKENDS, a.device, backend)
    return fn(a, b, mode).to(device=a.device, dtype=dtype)


def _check_centers(centers) -> torch.Tensor:
    if not torch.is_tensor(centers) or centers.dim() != 2 or centers.shape[1] != 2 or not centers.is_floating_point():
        shape = tuple(centers.shape) if torch.is_tensor(centers) else type(centers).__name__
        raise ValueError(f"centers: expected a (N, 2) float tensor of BEV centres (x, y), got {shape}")
    return centers


def _per_group_sizes(name: str, values, num_groups: int, unlimited: int) -> list[int]:
    """None or one int-or-None per group -> one int per group (None -> ``unlimited``)."""
    if values is None:
        return [unlimited] * num_groups
    if len(values) != num_groups:
        raise ValueError(f"{name}: expected one value per group ({num_groups}), got {len(values)}")
    sizes = [_check_max_size(name, int(v) if torch.is_tensor(v) else v) for v in values]
    return [unlimited if size is None else size for size in sizes]


def _batched_nms(
    op: str, backends, name: str, items, scores, groups, thresholds, pre_max_sizes, post_max_sizes, backend
):
    """Shared driver of the NMS ops; ``items`` are the boxes or centres (argument ``name``), already checked.

    Orders the boxes by (group, descending score, index), drops those past their group's
    ``pre_max_size`` and hands the backend the contract of ``boxes_torch.grouped_nms``: items in that
    order, their group ids (G for boxes that take no part, sorted last), per-group thresholds (G,)
    float64 and post sizes (G,) int64, and the size of the largest group. Returns the kept indices.
    """
    scores = _check_scores(scores, items.shape[0])
    _check_same_device(name, items, "scores", scores)
    if not torch.is_tensor(groups) or groups.shape != (items.shape[0],) or groups.is_floating_point():
        shape = tuple(groups.shape) if torch.is_tensor(groups) else type(groups).__name__
        raise ValueError(f"groups: expected a ({items.shape[0]},) integer tensor, one group id per box, got {shape}")
    _check_same_device(name, items, "groups", groups)
    device, num = items.device, items.shape[0]
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64, device=device).reshape(-1)
    num_groups = thresholds.shape[0]
    pre = _per_group_sizes("pre_max_size", pre_max_sizes, num_groups, num)
    post = _per_group_sizes("post_max_size", post_max_sizes, num_groups, num)
    pre = [size if limit > 0 else 0 for size, limit in zip(pre, post)]  # a group that keeps none takes no part
    if num == 0 or max(pre, default=0) == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)

    groups = groups.long()
    groups = torch.where((groups >= 0) & (groups < num_groups), groups, num_groups)
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[torch.sort(groups[order], stable=True).indices]
    sorted_groups = groups[order]
    rank = torch.arange(num, device=device) - torch.searchsorted(sorted_groups, sorted_groups)
    limits = torch.tensor(pre + [0] + post, dtype=torch.int64, device=device)  # one host-to-device copy
    pre_limit, post_limit = limits[: num_groups + 1], limits[num_groups + 1 :]
    taking_part = rank < pre_limit[sorted_groups]
    regroup = torch.sort(torch.where(taking_part, sorted_groups, num_groups), stable=True)
    order, sorted_groups = order[regroup.indices], regroup.values

    # host sync 1 of 2: the largest group, which sizes the backends' work (``grouped_nms``: G x W x W pairs)
    width = int(torch.where(taking_part, rank + 1, 0).max().item())
    if width == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    fn = select(op, backends, device, backend)
    keep = fn(items[order], sorted_groups, thresholds, post_limit, width)
    return order[keep]  # host sync 2 of 2: the number of kept boxes


def batched_nms_rotated(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    iou_thresholds,
    pre_max_sizes=None,
    post_max_sizes=None,
    backend: str | None = None,
) -> torch.Tensor:
    """Rotated NMS in every group at once: boxes (N, 7+), scores (N,), group ids (N,) int -> kept (K,) int64.

    ``iou_thresholds`` holds one threshold per group (G values, a sequence or tensor); ids outside
    [0, G) take no part. ``pre_max_sizes`` / ``post_max_sizes`` are None or one int-or-None per group.
    Within a group this is :func:`nms_rotated`; boxes of different groups never suppress each other.
    The kept indices are ordered by group id, then by descending score (ties by index).
    """
    boxes = _check_boxes("boxes", boxes)
    return _batched_nms(
        "nms_rotated", NMS_ROTATED_BACKENDS, "boxes", boxes, scores, groups, iou_thresholds, pre_max_sizes,
        post_max_sizes, backend,
    )  # fmt: skip


def batched_circle_nms(
    centers: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    distance_thresholds,
    pre_max_sizes=None,
    post_max_sizes=None,
    backend: str | None = None,
) -> torch.Tensor:
    """Circle NMS in every group at once: centres (N, 2), scores (N,), group ids (N,) -> kept (K,) int64.

    Arguments and output order as :func:`batched_nms_rotated`, with one distance threshold (metres)
    per group; within a group this is :func:`circle_nms` on the ``pre_max_size`` best-scored boxes.
    """
    centers = _check_centers(centers)
    return _batched_nms(
        "circle_nms", CIRCLE_NMS_BACKENDS, "centers", centers, scores, groups, distance_thresholds, pre_max_sizes,
        post_max_sizes, backend,
    )  # fmt: skip


def _one_group(items: torch.Tensor) -> torch.Tensor:
    return torch.zeros(items.shape[0], dtype=torch.int64, device=items.device)


def nms_rotated(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    pre_max_size: int | None = None,
    post_max_size: int | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """Greedy NMS on rotated BEV IoU. Boxes (N, 7+), scores (N,) -> kept indices (K,) int64 in score order.

    Only the ``pre_max_size`` best-scored boxes take part; at most ``post_max_size`` are kept. A box
    is dropped when a kept, better-scored box has BEV IoU > ``iou_threshold`` with it.
    """
    boxes = _check_boxes("boxes", boxes)
    pre_max_size = _check_max_size("pre_max_size", pre_max_size)
    post_max_size = _check_max_size("post_max_size", post_max_size)
    return batched_nms_rotated(
        boxes, scores, _one_group(boxes), [float(iou_threshold)], [pre_max_size], [post_max_size], backend
    )


def circle_nms(
    centers: torch.Tensor,
    scores: torch.Tensor,
    distance_threshold: float,
    post_max_size: int | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """Greedy NMS by BEV centre distance. Centres (N, 2), scores (N,) -> kept indices (K,) int64 in score order.

    A box is dropped when a kept, better-scored box's centre is within ``distance_threshold``
    metres (inclusive). MMDetection3D's ``circle_nms`` compares its ``min_radius`` with the
    *squared* distance; pass ``sqrt(min_radius)`` here to reproduce it.
    """
    centers = _check_centers(centers)
    post_max_size = _check_max_size("post_max_size", post_max_size)
    return batched_circle_nms(
        centers, scores, _one_group(centers), [float(distance_threshold)], None, [post_max_size], backend
    )


def _check_points_and_boxes(points, boxes) -> tuple[torch.Tensor, torch.Tensor]:
    if not torch.is_tensor(points) or points.dim() != 2 or points.shape[1] < 3 or not points.is_floating_point():
        shape = tuple(points.shape) if torch.is_tensor(points) else type(points).__name__
        raise ValueError(f"points: expected a (N, 3+) float tensor (x, y, z, ...), got {shape}")
    boxes = _check_boxes("boxes", boxes)
    _check_same_device("points", points, "boxes", boxes)
    return points, boxes


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """Index of the first box containing each point (inclusive boundaries), or -1: (N, 3+), (M, 7+) -> (N,) int64."""
    points, boxes = _check_points_and_boxes(points, boxes)
    if points.shape[0] == 0 or boxes.shape[0] == 0:
        return torch.full((points.shape[0],), -1, dtype=torch.int64, device=points.device)
    fn = select("points_in_boxes", POINTS_IN_BOXES_BACKENDS, points.device, backend)
    return fn(points, boxes).to(points.device)


def count_points_in_boxes(points: torch.Tensor, boxes: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """Number of points inside each box, every box counted independently: (N, 3+), (M, 7+) -> (M,) int64."""
    points, boxes = _check_points_and_boxes(points, boxes)
    if points.shape[0] == 0 or boxes.shape[0] == 0:
        return torch.zeros(boxes.shape[0], dtype=torch.int64, device=points.device)
    fn = select("count_points_in_boxes", COUNT_POINTS_BACKENDS, points.device, backend)
    return fn(points, boxes).to(points.device)
