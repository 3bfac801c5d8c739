"""Box ops: every backend against the reference, the reference against exact rational geometry,
analytic cases, brute-force NMS loops and real nuScenes point counts."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from voxformer.ops import (
    batched_circle_nms,
    batched_nms_rotated,
    boxes_iou3d,
    boxes_iou_aligned,
    boxes_iou_bev,
    boxes_torch,
    circle_nms,
    count_points_in_boxes,
    nms_rotated,
    points_in_boxes,
)
from voxformer.ops.backends import numba_available

BACKENDS = ["reference", "torch"] + (["numba"] if numba_available() else [])
FAST_BACKENDS = [name for name in BACKENDS if name != "reference"]
HYPOTHESIS = settings(max_examples=40, deadline=None)


# -- strategies and independent oracles ----------------------------------------------------------
def box_strategy(extent: float = 4.0, min_size: float = 0.05, max_size: float = 4.0):
    coord = st.floats(-extent, extent, allow_nan=False)
    size = st.floats(min_size, max_size, allow_nan=False)
    yaw = st.floats(-math.pi, math.pi, allow_nan=False, exclude_max=True)
    return st.tuples(coord, coord, coord, size, size, size, yaw)


def boxes_strategy(min_count=1, max_count=12, **kwargs):
    return st.lists(box_strategy(**kwargs), min_size=min_count, max_size=max_count).map(
        lambda rows: torch.tensor(rows, dtype=torch.float64)
    )


def random_boxes(num: int, extent: float, seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    boxes = torch.rand(num, 7, generator=gen, dtype=torch.float64)
    boxes[:, :3] = (boxes[:, :3] * 2 - 1) * extent
    boxes[:, 3:6] = boxes[:, 3:6] * 3 + 0.2
    boxes[:, 6] = (boxes[:, 6] * 2 - 1) * math.pi
    return boxes.to(dtype)


def exact_corners(box) -> list[tuple[Fraction, Fraction]]:
    """Counter-clockwise BEV corners as exact fractions of the float64 values math gives."""
    x, y, _, dx, dy, _, yaw = (float(v) for v in box)
    cos, sin = math.cos(yaw), math.sin(yaw)
    corners = []
    for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        lx, ly = sx * dx / 2, sy * dy / 2
        corners.append((Fraction(lx * cos - ly * sin + x), Fraction(lx * sin + ly * cos + y)))
    return corners


def exact_polygon_area(polygon) -> Fraction:
    return abs(sum(p[0] * q[1] - p[1] * q[0] for p, q in zip(polygon, polygon[1:] + polygon[:1]))) / 2


def exact_intersection_area(box_a, box_b) -> Fraction:
    """Sutherland-Hodgman clipping in rational arithmetic: the exact area of the two rectangles' overlap."""
    polygon = exact_corners(box_a)
    clip = exact_corners(box_b)
    for start, end in zip(clip, clip[1:] + clip[:1]):
        if not polygon:
            break

        def side(p, start=start, end=end):
            return (end[0] - start[0]) * (p[1] - start[1]) - (end[1] - start[1]) * (p[0] - start[0])

        clipped = []
        for prev, cur in zip(polygon[-1:] + polygon[:-1], polygon):
            if (side(prev) >= 0) != (side(cur) >= 0):
                t = side(prev) / (side(prev) - side(cur))
                clipped.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if side(cur) >= 0:
                clipped.append(cur)
        polygon = clipped
    return exact_polygon_area(polygon) if len(polygon) >= 3 else Fraction(0)


def exact_iou(box_a, box_b, mode: str) -> float:
    inter = exact_intersection_area(box_a, box_b)
    size_a, size_b = exact_polygon_area(exact_corners(box_a)), exact_polygon_area(exact_corners(box_b))
    if mode == "3d":
        za, zb, ha, hb = (Fraction(float(v)) for v in (box_a[2], box_b[2], box_a[5], box_b[5]))
        overlap = max(Fraction(0), min(za + ha / 2, zb + hb / 2) - max(za - ha / 2, zb - hb / 2))
        inter, size_a, size_b = inter * overlap, size_a * ha, size_b * hb
    return float(inter / (size_a + size_b - inter))


def brute_force_nms(overlap, scores: torch.Tensor, pre_max_size=None, post_max_size=None) -> list[int]:
    """Textbook greedy NMS: ``overlap(i, j)`` True when kept box i suppresses box j."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    if pre_max_size is not None:
        order = order[:pre_max_size]
    kept: list[int] = []
    for i in order:
        if post_max_size is not None and len(kept) >= post_max_size:
            break
        if not any(overlap(k, i) for k in kept):
            kept.append(i)
    return kept


def brute_force_inside(point, box) -> bool:
    x, y, z, dx, dy, dz, yaw = (float(v) for v in box[:7])
    px, py, pz = (float(v) - c for v, c in zip(point[:3], (x, y, z)))
    local_x = px * math.cos(yaw) + py * math.sin(yaw)
    local_y = py * math.cos(yaw) - px * math.sin(yaw)
    return abs(local_x) <= dx / 2 and abs(local_y) <= dy / 2 and abs(pz) <= dz / 2


# -- IoU -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["bev", "3d"])
@HYPOTHESIS
@given(a=boxes_strategy(max_count=4), b=boxes_strategy(max_count=4))
def test_iou_matches_exact_rational_clipping(backend, mode, a, b):
    fn = boxes_iou_bev if mode == "bev" else boxes_iou3d
    iou = fn(a, b, backend=backend)
    expected = torch.tensor([[exact_iou(box_a, box_b, mode) for box_b in b] for box_a in a], dtype=torch.float64)
    torch.testing.assert_close(iou, expected, atol=1e-7, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@HYPOTHESIS
@given(a=boxes_strategy(), b=boxes_strategy())
def test_iou_symmetric_bounded_and_self_one(backend, a, b):
    for fn in (boxes_iou_bev, boxes_iou3d):
        ab, ba = fn(a, b, backend=backend), fn(b, a, backend=backend)
        torch.testing.assert_close(ab, ba.T, atol=1e-9, rtol=0)
        assert ((ab >= 0) & (ab <= 1 + 1e-12)).all()
        torch.testing.assert_close(fn(a, a, backend=backend).diagonal(), torch.ones(len(a), dtype=a.dtype))


@pytest.mark.parametrize("backend", BACKENDS)
@HYPOTHESIS
@given(boxes=boxes_strategy())
def test_box_turned_by_pi_is_the_same_box(backend, boxes):
    turned = boxes.clone()
    turned[:, 6] += math.pi
    for mode in ("bev", "3d"):
        torch.testing.assert_close(
            boxes_iou_aligned(boxes, turned, mode=mode, backend=backend), torch.ones(len(boxes), dtype=boxes.dtype)
        )
    torch.testing.assert_close(
        boxes_iou_bev(turned, boxes, backend=backend), boxes_iou_bev(boxes, boxes, backend=backend), atol=1e-9, rtol=0
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_iou_analytic_cases(backend):
    unit = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    shifted = unit + torch.tensor([[0.5, 0, 0, 0, 0, 0, 0]])
    diamond = unit + torch.tensor([[0, 0, 0, 0, 0, 0, math.pi / 4]])
    lifted = unit + torch.tensor([[0, 0, 0.5, 0, 0, 0, 0]])
    above = unit + torch.tensor([[0.1, 0.2, 1.5, 0, 0, 0, 0.3]])
    # overlap 0.5, union 1.5
    torch.testing.assert_close(boxes_iou_bev(unit, shifted, backend=backend), torch.tensor([[1 / 3]]))
    # the overlap of a unit square with itself turned 45 degrees is a regular octagon of area 2 (sqrt 2 - 1)
    octagon = 2 * (math.sqrt(2) - 1)
    torch.testing.assert_close(boxes_iou_bev(unit, diamond, backend=backend), torch.tensor([[octagon / (2 - octagon)]]))
    torch.testing.assert_close(boxes_iou3d(unit, diamond, backend=backend), torch.tensor([[octagon / (2 - octagon)]]))
    # same footprint, half the height shared: 0.5 / 1.5
    torch.testing.assert_close(boxes_iou3d(unit, lifted, backend=backend), torch.tensor([[1 / 3]]))
    torch.testing.assert_close(boxes_iou_bev(unit, lifted, backend=backend), torch.tensor([[1.0]]))
    # overlapping footprints, disjoint heights
    assert boxes_iou_bev(unit, above, backend=backend).item() > 0
    assert boxes_iou3d(unit, above, backend=backend).item() == 0
    # a 2 x 1 box and a 1 x 2 box crossing at the same centre: overlap 1, union 3
    long = torch.tensor([[3.0, -2.0, 1.0, 2.0, 1.0, 1.0, 0.0]])
    wide = torch.tensor([[3.0, -2.0, 1.0, 1.0, 2.0, 1.0, 0.0]])
    torch.testing.assert_close(boxes_iou_bev(long, wide, backend=backend), torch.tensor([[1 / 3]]))
    turned = long + torch.tensor([[0, 0, 0, 0, 0, 0, math.pi / 2]])
    torch.testing.assert_close(boxes_iou_bev(wide, turned, backend=backend), torch.tensor([[1.0]]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_iou_touching_and_far_boxes_are_zero(backend):
    unit = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    others = torch.tensor(
        [
            [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0],
            [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0],
            [50.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.3],
        ],
        dtype=torch.float64,
    )
    assert boxes_iou_bev(unit, others, backend=backend).abs().max().item() < 1e-12
    assert boxes_iou3d(unit, others, backend=backend).abs().max().item() < 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_degenerate_boxes_have_zero_iou_without_nan(backend):
    boxes = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7],  # a point
            [0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.3],  # a segment in BEV
            [0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0],  # flat: area but no volume
            [0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 1.0],
        ]
    )
    bev = boxes_iou_bev(boxes, boxes, backend=backend)
    iou3d = boxes_iou3d(boxes, boxes, backend=backend)
    assert torch.isfinite(bev).all() and torch.isfinite(iou3d).all()
    assert (bev[:2] == 0).all() and (bev[:, :2] == 0).all()
    assert (iou3d[:3] == 0).all() and (iou3d[:, :3] == 0).all()
    assert bev[2, 2] == pytest.approx(1.0) and iou3d[3, 3] == pytest.approx(1.0)
    aligned = boxes_iou_aligned(boxes, boxes, mode="3d", backend=backend)
    assert torch.isfinite(aligned).all() and aligned[:3].eq(0).all()


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_iou_backend_matches_reference_on_a_crowded_scene(backend, dtype):
    a, b = random_boxes(150, 6.0, seed=1, dtype=dtype), random_boxes(90, 6.0, seed=2, dtype=dtype)
    b[:20] = a[:20] + 0.05  # near duplicates
    atol = 1e-6 if dtype == torch.float32 else 1e-10
    for fn in (boxes_iou_bev, boxes_iou3d):
        expected = fn(a, b, backend="reference")
        assert (expected > 0).sum() > 100, "the scene should have many overlapping pairs"
        got = fn(a, b, backend=backend)
        assert got.dtype == dtype
        torch.testing.assert_close(got, expected, atol=atol, rtol=0)
    for mode in ("bev", "3d"):
        torch.testing.assert_close(
            boxes_iou_aligned(a[:90], b, mode=mode, backend=backend),
            boxes_iou_aligned(a[:90], b, mode=mode, backend="reference"),
            atol=atol,
            rtol=0,
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_iou_far_from_origin_keeps_precision(backend):
    box = torch.tensor([[70.0, -65.0, 1.0, 4.2, 1.9, 1.6, 0.4]])
    nudged = box + torch.tensor([[0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    near_origin = nudged - torch.tensor([[70.0, -65.0, 0, 0, 0, 0, 0]])
    expected = boxes_iou_bev(box - torch.tensor([[70.0, -65.0, 0, 0, 0, 0, 0]]), near_origin, backend=backend)
    torch.testing.assert_close(boxes_iou_bev(box, nudged, backend=backend), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(boxes_iou_bev(box, box, backend=backend), torch.ones(1, 1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_extra_columns_are_ignored(backend):
    boxes = random_boxes(6, 2.0, seed=3)
    with_velocity = torch.cat([boxes, torch.randn(6, 2, dtype=boxes.dtype)], dim=1)
    torch.testing.assert_close(boxes_iou_bev(with_velocity, boxes, backend=backend), boxes_iou_bev(boxes, boxes))


# -- NMS -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@HYPOTHESIS
@given(
    boxes=boxes_strategy(max_count=25, extent=3.0),
    data=st.data(),
    threshold=st.floats(0.05, 0.9),
)
def test_nms_rotated_matches_brute_force(backend, boxes, data, threshold):
    num = len(boxes)
    scores = torch.tensor(data.draw(st.lists(st.sampled_from([0.1, 0.5, 0.7, 0.9]) | st.floats(0, 1), min_size=num,
                                             max_size=num)), dtype=torch.float64)  # fmt: skip
    pre = data.draw(st.none() | st.integers(0, num + 2))
    post = data.draw(st.none() | st.integers(0, num + 2))
    iou = boxes_iou_bev(boxes, boxes, backend="reference")
    assume(((iou - threshold).abs() > 1e-6).all())  # no pair on the threshold, where rounding decides
    expected = brute_force_nms(lambda i, j: iou[i, j] > threshold, scores, pre, post)
    kept = nms_rotated(boxes, scores, threshold, pre_max_size=pre, post_max_size=post, backend=backend)
    assert kept.dtype == torch.int64
    assert kept.tolist() == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_nms_rotated_keeps_the_first_of_tied_duplicates(backend):
    box = torch.tensor([[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3]])
    boxes = torch.cat([box, box + 10, box, box], dim=0)
    scores = torch.tensor([0.5, 0.5, 0.5, 0.9])
    assert nms_rotated(boxes, scores, 0.5, backend=backend).tolist() == [3, 1]
    assert nms_rotated(boxes, torch.full((4,), 0.5), 0.5, backend=backend).tolist() == [0, 1]
    assert nms_rotated(boxes, scores, 0.5, post_max_size=1, backend=backend).tolist() == [3]
    assert nms_rotated(boxes, scores, 0.5, pre_max_size=2, backend=backend).tolist() == [3]  # 3 and 0 take part
    assert nms_rotated(boxes, scores, 0.5, pre_max_size=3, backend=backend).tolist() == [3, 1]


@pytest.mark.parametrize("backend", BACKENDS)
@HYPOTHESIS
@given(
    centers=st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=30),
    data=st.data(),
    distance=st.floats(0.0, 2.0),
)
def test_circle_nms_matches_brute_force(backend, centers, data, distance):
    centers = torch.tensor(centers, dtype=torch.float64)
    num = len(centers)
    scores = torch.tensor(data.draw(st.lists(st.floats(0, 1), min_size=num, max_size=num)), dtype=torch.float64)
    post = data.draw(st.none() | st.integers(0, num + 1))
    gaps = torch.cdist(centers, centers)
    assume(((gaps - distance).abs() > 1e-9).all())

    def overlap(i, j):
        return math.hypot(*(centers[i] - centers[j]).tolist()) <= distance

    expected = brute_force_nms(overlap, scores, None, post)
    assert circle_nms(centers, scores, distance, post_max_size=post, backend=backend).tolist() == expected


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_nms_backend_matches_reference_on_many_boxes(backend):
    boxes = random_boxes(600, 15.0, seed=4, dtype=torch.float32)
    boxes[300:] = boxes[:300] + 0.1 * torch.randn(300, 7, generator=torch.Generator().manual_seed(5))
    scores = torch.rand(600, generator=torch.Generator().manual_seed(6))
    for threshold in (0.1, 0.5):
        expected = nms_rotated(boxes, scores, threshold, pre_max_size=500, post_max_size=200, backend="reference")
        got = nms_rotated(boxes, scores, threshold, pre_max_size=500, post_max_size=200, backend=backend)
        assert torch.equal(got, expected)
    expected = circle_nms(boxes[:, :2], scores, 1.0, backend="reference")
    assert torch.equal(circle_nms(boxes[:, :2], scores, 1.0, backend=backend), expected)


def per_group_nms(op, items, scores, groups, thresholds, pre, post, backend="reference") -> list[int]:
    """The batched result built from one single-group call per group (ids outside [0, G) take no part)."""
    kept = []
    for group in range(len(thresholds)):
        members = (groups == group).nonzero().squeeze(1)
        if op is nms_rotated:
            keep = op(items[members], scores[members], thresholds[group], pre[group], post[group], backend=backend)
        else:
            order = torch.sort(scores[members], descending=True, stable=True).indices[: pre[group]]
            members = members[order]
            keep = op(items[members], scores[members], thresholds[group], post[group], backend=backend)
        kept += members[keep].tolist()
    return kept


def crowded_groups(num: int, num_groups: int, seed: int):
    """Jittered copies of a few objects, spread over ``num_groups`` groups (plus ids -1 and G: no part),
    with scores drawn from a few values so that ties are common."""
    gen = torch.Generator().manual_seed(seed)
    objects = random_boxes(12, 5.0, seed=seed)
    boxes = objects[torch.randint(0, 12, (num,), generator=gen)]
    boxes[:, :2] += 0.3 * torch.randn(num, 2, generator=gen, dtype=torch.float64)
    boxes[:, 6] += 0.2 * torch.randn(num, generator=gen, dtype=torch.float64)
    boxes[: num // 10] = boxes[num // 10 : 2 * (num // 10)]  # exact duplicates
    boxes[-3:, 3:5] = 0  # zero-size boxes
    scores = torch.randint(0, 6, (num,), generator=gen).double() / 5
    groups = torch.randint(-1, num_groups + 1, (num,), generator=gen)
    return boxes, scores, groups


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["rotate", "circle"])
def test_batched_nms_equals_one_call_per_group(backend, kind):
    boxes, scores, groups = crowded_groups(400, 9, seed=10)
    if kind == "rotate":
        op, batched, items, thresholds = nms_rotated, batched_nms_rotated, boxes, [0.05 * (g + 1) for g in range(9)]
    else:
        op, batched, items, thresholds = circle_nms, batched_circle_nms, boxes[:, :2], [0.2 * g for g in range(9)]
    pre = [None, 3, 50, 0, 7, None, 1, 20, 100]
    post = [None, 2, 10, 5, None, 0, 1, 4, 30]
    expected = per_group_nms(op, items, scores, groups, thresholds, pre, post)
    assert len(expected) > 30
    got = batched(items, scores, groups, thresholds, pre_max_sizes=pre, post_max_sizes=post, backend=backend)
    assert got.dtype == torch.int64 and got.tolist() == expected
    assert torch.equal(batched(items, scores, groups, thresholds, pre, post, backend=backend), got)  # deterministic


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_nms_small_and_degenerate_inputs(backend):
    box = torch.tensor([[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3]])
    one = torch.zeros(1, dtype=torch.int64)
    assert batched_nms_rotated(box, torch.ones(1), one, [0.5], backend=backend).tolist() == [0]
    assert batched_nms_rotated(box, torch.ones(1), one - 1, [0.5], backend=backend).tolist() == []
    assert batched_nms_rotated(torch.zeros(0, 7), torch.zeros(0), one[:0], [0.5], backend=backend).shape == (0,)
    # identical boxes with tied scores in two groups: the first of each group survives
    boxes, groups = box.repeat(6, 1), torch.tensor([1, 0, 1, 0, 1, 0])
    assert batched_nms_rotated(boxes, torch.ones(6), groups, [0.5, 0.5], backend=backend).tolist() == [1, 0]
    assert batched_circle_nms(boxes[:, :2], torch.ones(6), groups, [0.0, 0.0], backend=backend).tolist() == [1, 0]
    # zero-size boxes overlap nothing, not even each other
    flat = boxes.clone()
    flat[:, 3] = 0
    assert batched_nms_rotated(flat, torch.ones(6), groups, [0.0, 0.0], backend=backend).tolist() == [1, 3, 5, 0, 2, 4]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: batched_nms_rotated(torch.zeros(3, 7), torch.zeros(3), torch.zeros(2), [0.5]), "groups: expected"),
        (lambda: batched_nms_rotated(torch.zeros(3, 7), torch.zeros(3), torch.zeros(3), [0.5]), "integer"),
        (lambda: batched_circle_nms(torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, dtype=torch.long), [0.5],
                                    post_max_sizes=[1, 2]), "post_max_size: expected one value per group"),
    ],
)  # fmt: skip
def test_batched_nms_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


class HostSyncs:
    """Counts the tensor calls that wait for the device: item, tolist, cpu, numpy, nonzero, bool-mask indexing."""

    NAMES = ("item", "tolist", "cpu", "numpy", "nonzero", "__bool__")

    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        for name in self.NAMES:
            monkeypatch.setattr(torch.Tensor, name, self._counted(name, getattr(torch.Tensor, name)))
        getitem = torch.Tensor.__getitem__

        def masked_getitem(tensor, index):
            parts = index if isinstance(index, tuple) else (index,)
            if any(torch.is_tensor(part) and part.dtype == torch.bool for part in parts):
                self.calls.append("mask indexing")
            return getitem(tensor, index)

        monkeypatch.setattr(torch.Tensor, "__getitem__", masked_getitem)

    def _counted(self, name, method):
        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_torch_backend_has_no_host_sync_but_the_output_size(monkeypatch):
    boxes, scores, groups = crowded_groups(200, 5, seed=11)
    thresholds = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=torch.float64)
    syncs = HostSyncs(monkeypatch)
    boxes_torch.iou_matrix(boxes, boxes[:50], "3d")
    boxes_torch.grouped_nms(
        boxes_torch.rotated_overlaps, boxes, groups.sort().values.clamp(0, 5), thresholds, torch.full((5,), 9), 200
    )
    assert syncs.calls == []
    batched_nms_rotated(boxes, scores, groups, thresholds, pre_max_sizes=[100] * 5, backend="torch")
    batched_circle_nms(boxes[:, :2], scores, groups, thresholds, backend="torch")
    assert syncs.calls == ["item", "mask indexing"] * 2  # the largest group's size, the number of kept boxes


# -- points in boxes -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@HYPOTHESIS
@given(boxes=boxes_strategy(max_count=6, extent=2.0), data=st.data())
def test_points_in_boxes_match_brute_force(backend, boxes, data):
    points = torch.tensor(
        data.draw(st.lists(st.tuples(*[st.floats(-4, 4)] * 3), min_size=1, max_size=40)), dtype=torch.float64
    )
    inside = [[brute_force_inside(p, b) for b in boxes] for p in points]
    expected_first = [row.index(True) if any(row) else -1 for row in inside]
    expected_counts = [sum(row[m] for row in inside) for m in range(len(boxes))]
    assert points_in_boxes(points, boxes, backend=backend).tolist() == expected_first
    assert count_points_in_boxes(points, boxes, backend=backend).tolist() == expected_counts


@pytest.mark.parametrize("backend", BACKENDS)
def test_points_in_boxes_boundaries_are_inclusive_and_boxes_independent(backend):
    boxes = torch.tensor([[0.0, 0.0, 0.0, 2.0, 4.0, 6.0, 0.0], [1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]])
    points = torch.tensor(
        [
            [1.0, 2.0, 3.0],  # a corner of box 0
            [-1.0, 0.0, 0.0],  # a face of box 0
            [1.0, 0.0, 0.0],  # in both: first is 0, both count it
            [1.5, 0.5, 0.5],  # only in box 1
            [1.0, 2.0, 3.001],  # just above box 0
            [2.0001, 0.0, 0.0],  # just beyond box 1
        ]
    )
    assert points_in_boxes(points, boxes, backend=backend).tolist() == [0, 0, 0, 1, -1, -1]
    assert count_points_in_boxes(points, boxes, backend=backend).tolist() == [3, 2]
    with_intensity = torch.cat([points, torch.rand(len(points), 2)], dim=1)
    assert points_in_boxes(with_intensity, boxes, backend=backend).tolist() == [0, 0, 0, 1, -1, -1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_points_in_rotated_box(backend):
    box = torch.tensor([[5.0, 5.0, 0.0, 4.0, 1.0, 1.0, math.pi / 2]])  # long along +y after the turn
    points = torch.tensor([[5.0, 6.9, 0.0], [6.9, 5.0, 0.0], [5.4, 5.0, 0.0], [5.6, 5.0, 0.0]])
    assert points_in_boxes(points, box, backend=backend).tolist() == [0, -1, 0, -1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_points_in_degenerate_and_far_apart_boxes(backend):
    boxes = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.4],  # a point: contains only itself
            [1e5, -1e5, 0.0, 2.0, 2.0, 2.0, 0.0],  # far away: a sparse grid
            [0.0, 0.0, 0.0, 300.0, 0.5, 1.0, 0.2],  # long and thin, over many cells
        ],
        dtype=torch.float64,
    )
    points = torch.tensor(
        [[0.0, 0.0, 0.0], [1e5 + 1, -1e5 - 1, 1.0], [100 * math.cos(0.2), 100 * math.sin(0.2), 0.0], [5e4, 0.0, 0.0],
         [float("nan"), 0.0, 0.0]],
        dtype=torch.float64,
    )  # fmt: skip
    inside = [[brute_force_inside(p, b) for b in boxes] for p in points]
    assert inside[0] == [True, False, True] and inside[1] == [False, True, False] and inside[2] == [False, False, True]
    assert points_in_boxes(points, boxes, backend=backend).tolist() == [0, 1, 2, -1, -1]
    assert count_points_in_boxes(points, boxes, backend=backend).tolist() == [1, 1, 2]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_points_in_boxes_backend_matches_reference_on_a_scan(backend):
    gen = torch.Generator().manual_seed(7)
    points = (torch.rand(20_000, 4, generator=gen) * 2 - 1) * torch.tensor([20.0, 20.0, 2.0, 1.0])
    boxes = random_boxes(60, 18.0, seed=8, dtype=torch.float32)
    boxes[:, 2] = 0
    expected = points_in_boxes(points, boxes, backend="reference")
    assert (expected >= 0).sum() > 100
    assert torch.equal(points_in_boxes(points, boxes, backend=backend), expected)
    assert torch.equal(
        count_points_in_boxes(points, boxes, backend=backend), count_points_in_boxes(points, boxes, backend="reference")
    )


def test_points_in_boxes_match_nuscenes_point_counts(real_data):
    """The 69 annotated boxes of a real nuScenes keyframe against the devkit's ``num_lidar_pts``:
    the data notes record that 994 of the 1009 points it counts fall inside the gravity-centred boxes."""
    folder = real_data / "nuscenes"
    record = json.loads((folder / "LIDAR_TOP_1532402927647951_boxes.json").read_text())
    points = torch.from_numpy(np.fromfile(folder / record["lidar_file"], dtype=np.float32).reshape(-1, 5))
    boxes = torch.tensor([b["box"] for b in record["boxes"]], dtype=torch.float32)
    devkit = torch.tensor([b["num_lidar_pts"] for b in record["boxes"]])
    for backend in BACKENDS:
        counts = count_points_in_boxes(points, boxes, backend=backend)
        assert counts.sum().item() == 994
        assert (counts == devkit).float().mean() > 0.8
        first = points_in_boxes(points, boxes, backend=backend)
        assert (first >= 0).sum().item() <= counts.sum().item()
        assert torch.equal(torch.bincount(first[first >= 0], minlength=len(boxes)) > 0, counts > 0)


# -- empty and bad inputs ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs_give_empty_outputs(backend):
    none = torch.zeros(0, 7)
    some = random_boxes(3, 1.0, seed=9, dtype=torch.float32)
    assert boxes_iou_bev(none, some, backend=backend).shape == (0, 3)
    assert boxes_iou3d(some, none, backend=backend).shape == (3, 0)
    assert boxes_iou_aligned(none, none, backend=backend).shape == (0,)
    for kept in (
        nms_rotated(none, torch.zeros(0), 0.5, backend=backend),
        nms_rotated(some, torch.rand(3), 0.5, pre_max_size=0, backend=backend),
        circle_nms(torch.zeros(0, 2), torch.zeros(0), 1.0, backend=backend),
    ):
        assert kept.shape == (0,) and kept.dtype == torch.int64
    first = points_in_boxes(torch.rand(4, 3), none, backend=backend)
    assert first.tolist() == [-1] * 4 and first.dtype == torch.int64
    assert points_in_boxes(torch.zeros(0, 3), some, backend=backend).shape == (0,)
    assert count_points_in_boxes(torch.zeros(0, 3), some, backend=backend).tolist() == [0, 0, 0]
    assert count_points_in_boxes(torch.rand(4, 3), none, backend=backend).shape == (0,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: boxes_iou_bev(torch.zeros(3, 6), torch.zeros(2, 7)), r"a: expected a \(N, 7\+\)"),
        (lambda: boxes_iou3d(torch.zeros(3, 7), torch.zeros(7)), r"b: expected a \(N, 7\+\)"),
        (lambda: boxes_iou_bev(torch.zeros(3, 7, dtype=torch.int64), torch.zeros(2, 7)), "a: expected"),
        (lambda: boxes_iou_aligned(torch.zeros(3, 7), torch.zeros(2, 7)), r"b: expected \(3, 7\+\)"),
        (lambda: boxes_iou_aligned(torch.zeros(3, 7), torch.zeros(3, 7), mode="2d"), "mode"),
        (lambda: nms_rotated(torch.zeros(3, 7), torch.zeros(2), 0.5), r"scores: expected a \(3,\)"),
        (lambda: nms_rotated(torch.zeros(3, 7), torch.zeros(3), 0.5, pre_max_size=-1), "pre_max_size"),
        (lambda: nms_rotated(torch.zeros(3, 7), torch.zeros(3), 0.5, post_max_size=1.5), "post_max_size"),
        (lambda: circle_nms(torch.zeros(3, 3), torch.zeros(3), 1.0), r"centers: expected a \(N, 2\)"),
        (lambda: points_in_boxes(torch.zeros(3, 2), torch.zeros(1, 7)), r"points: expected a \(N, 3\+\)"),
        (lambda: count_points_in_boxes(torch.zeros(3, 3), torch.zeros(1, 5)), r"boxes: expected a \(N, 7\+\)"),
        (lambda: points_in_boxes(torch.zeros(3, 3), [[0.0] * 7]), "boxes: expected"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_forcing_a_missing_backend_says_so():
    with pytest.raises(RuntimeError, match="triton"):
        boxes_iou_bev(torch.zeros(1, 7), torch.zeros(1, 7), backend="triton")
