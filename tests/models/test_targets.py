"""CenterPoint targets: Gaussian radius, vectorized heatmap drawing, regression codes."""

import math

import numpy as np
import pytest
import torch

from voxformer.models.heads import CenterPointBoxCoder, assign_targets, draw_gaussians, gaussian_radius

RANGE = [0.0, -6.4, -3.0, 12.8, 6.4, 1.0]
VOXEL = [0.2, 0.2, 4.0]


def _coder(stride=2, **kwargs):
    return CenterPointBoxCoder(RANGE, VOXEL, stride, **kwargs)


def _largest_root(a, b, c):
    return max(np.roots([a, b, c]).real)


@pytest.mark.parametrize("h, w, o", [(12.5, 5.6, 0.1), (2.5, 2.0, 0.1), (30.0, 8.0, 0.3)])
def test_gaussian_radius_matches_cornernet_roots(h, w, o):
    # CornerNet's three cases as quadratics a r^2 + b r + c; the toolboxes' "divide by 2" (not 2a) scales
    # roots 2 and 3 by a, and case 3 uses +b3 where the textbook root has -b3.
    r1 = _largest_root(1, -(h + w), w * h * (1 - o) / (1 + o))
    r2 = 4 * _largest_root(4, -2 * (h + w), (1 - o) * w * h)
    r3 = 4 * o * _largest_root(4 * o, 2 * o * (h + w), (o - 1) * w * h)
    got = gaussian_radius(torch.tensor([h], dtype=torch.float64), torch.tensor([w], dtype=torch.float64), o)
    assert got.item() == pytest.approx(min(r1, r2, r3), rel=1e-9)


def _draw_loop(shape, batch, label, center, radius):
    heatmap = torch.zeros(shape)
    for b, c, (x, y), r in zip(batch.tolist(), label.tolist(), center.tolist(), radius.tolist()):
        sigma = (2 * r + 1) / 6
        for row in range(max(0, y - r), min(shape[2], y + r + 1)):
            for col in range(max(0, x - r), min(shape[3], x + r + 1)):
                value = math.exp(-((col - x) ** 2 + (row - y) ** 2) / (2 * sigma**2))
                if value > torch.finfo(torch.float32).eps:
                    heatmap[b, c, row, col] = max(heatmap[b, c, row, col].item(), value)
    return heatmap


def test_draw_gaussians_matches_a_per_object_loop(rng):
    shape = (2, 3, 17, 23)
    n = 12
    batch = torch.randint(0, 2, (n,), generator=rng)
    label = torch.randint(0, 3, (n,), generator=rng)
    center = torch.stack([torch.randint(0, 23, (n,), generator=rng), torch.randint(0, 17, (n,), generator=rng)], 1)
    center[0] = torch.tensor([0, 0])  # corners and edges clip the square
    center[1] = torch.tensor([22, 16])
    radius = torch.randint(0, 6, (n,), generator=rng)
    got = draw_gaussians(torch.zeros(shape), batch, label, center, radius)
    torch.testing.assert_close(got, _draw_loop(shape, batch, label, center, radius), rtol=1e-6, atol=1e-6)


def test_draw_gaussians_no_objects_leaves_heatmap():
    heatmap = torch.zeros(1, 2, 4, 4)
    empty = torch.zeros(0, dtype=torch.long)
    assert draw_gaussians(heatmap, empty, empty, torch.zeros(0, 2, dtype=torch.long), empty).sum() == 0


def _boxes():
    return [
        torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4], [9.0, -4.0, -0.8, 0.8, 0.6, 1.7, -2.5]]),
        torch.tensor([[20.0, 0.0, -1.0, 4.0, 1.8, 1.5, 0.0], [6.1, 5.9, -1.2, 1.8, 0.6, 1.7, 3.0]]),
    ]


def test_assign_targets_peaks_codes_and_drops_outside():
    labels = [torch.tensor([0, 1]), torch.tensor([0, -1])]  # second sample: outside, other task
    t = assign_targets(_boxes(), labels, 2, (32, 32), _coder())
    assert t.heatmap.shape == (2, 2, 32, 32)
    assert len(t.batch) == 2 and t.batch.tolist() == [0, 0]
    for b, cell, label in zip(t.batch, t.cell, t.label):
        assert t.heatmap[b, label].flatten()[cell] == 1.0
    assert int((t.heatmap == 1).sum()) == 2
    column, row = t.cell % 32, t.cell // 32
    decoded = _coder().decode(t.code, column, row)
    torch.testing.assert_close(decoded, _boxes()[0], rtol=1e-5, atol=1e-5)


def test_assign_targets_minimum_radius_and_velocity():
    boxes = [torch.tensor([[6.4, 0.0, -1.0, 0.1, 0.1, 1.0, 0.0, 1.5, -0.5]])]
    t = assign_targets(boxes, [torch.tensor([0])], 1, (32, 32), _coder(with_velocity=True), min_radius=2)
    # a tiny box still gets radius 2: the 5 x 5 square around the centre is non-zero
    row, column = divmod(int(t.cell[0]), 32)
    assert (t.heatmap[0, 0, row - 2 : row + 3, column - 2 : column + 3] > 0).all()
    assert t.heatmap[0, 0, row, column + 3] == 0
    torch.testing.assert_close(t.code[0, 8:], torch.tensor([1.5, -0.5]))


def test_assign_targets_empty_batch():
    t = assign_targets([torch.zeros(0, 7)], [torch.zeros(0, dtype=torch.long)], 3, (8, 8), _coder(1))
    assert t.heatmap.sum() == 0 and t.code.shape == (0, 8)


def test_regression_radius_supervises_the_square_around_each_centre():
    boxes = _boxes()
    boxes[1][1, 1] = 6.3  # centre in the map's last row: its square loses a row
    labels = [torch.tensor([0, 1]), torch.tensor([0, 1])]
    centre = assign_targets(boxes, labels, 2, (32, 32), _coder())
    dense = assign_targets(boxes, labels, 2, (32, 32), _coder(), regression_radius=1)
    torch.testing.assert_close(dense.heatmap, centre.heatmap)  # the heatmap does not change
    assert len(dense.cell) == 9 + 9 + 6  # three objects in the map
    # every supervised cell decodes to its own object's box exactly
    decoded = _coder().decode(dense.code, dense.cell % 32, dense.cell // 32)
    torch.testing.assert_close(decoded, dense.boxes[:, :7], rtol=1e-5, atol=1e-5)
    for b, box in [(0, boxes[0][0]), (0, boxes[0][1]), (1, boxes[1][1])]:
        mine = (dense.batch == b) & (dense.boxes[:, :7] == box).all(dim=1)
        rows, cols = dense.cell[mine] // 32, dense.cell[mine] % 32
        assert int(rows.max() - rows.min()) <= 2 and int(cols.max() - cols.min()) <= 2


def test_regression_radius_gives_a_shared_cell_to_the_nearest_centre():
    # two objects 2 cells apart along x: their 5 x 5 squares share three columns
    boxes = [torch.tensor([[3.3, 1.1, -1.0, 0.8, 0.6, 1.7, 0.0], [4.1, 1.1, -1.0, 0.8, 0.6, 1.7, 1.0]])]
    t = assign_targets(boxes, [torch.tensor([0, 0])], 1, (32, 32), _coder(), regression_radius=2)
    assert len(t.cell) == len(t.cell.unique())  # each cell supervised once
    column = (t.cell % 32).float() + 0.5
    x_centre = (torch.tensor([3.3, 4.1]) - RANGE[0]) / 0.4
    nearest = (column[:, None] - x_centre).abs().argmin(dim=1)
    assert torch.equal(t.boxes[:, 6], torch.tensor([0.0, 1.0])[nearest])


@pytest.mark.parametrize("with_velocity", [False, True])
def test_heading_axis_codes_decode_to_the_boxes(with_velocity):
    yaws = torch.tensor([0.0, 0.4, math.pi / 2, -math.pi / 2 + 0.01, 3.1, -3.1, 2.0])
    boxes = torch.zeros(len(yaws), 9)
    boxes[:, 0] = torch.linspace(1.0, 11.0, len(yaws))
    boxes[:, 3:6] = torch.tensor([4.0, 1.8, 1.5])
    boxes[:, 6] = yaws
    boxes[:, 7:9] = torch.tensor([1.5, -0.5])
    boxes = boxes if with_velocity else boxes[:, :7]
    coder = _coder(with_velocity=with_velocity, with_heading_axis=True)
    t = assign_targets([boxes], [torch.zeros(len(yaws), dtype=torch.long)], 1, (32, 32), coder)
    assert t.code.shape == (len(yaws), 10 + 2 * with_velocity)
    torch.testing.assert_close(t.code[:, -2:], torch.stack([(2 * yaws).sin(), (2 * yaws).cos()], dim=1))
    decoded = coder.decode(t.code, t.cell % 32, t.cell // 32)
    torch.testing.assert_close(decoded, t.boxes, rtol=1e-5, atol=1e-5)


def test_heading_axis_sets_the_angle_and_sin_cos_only_the_direction():
    axis = 0.3
    # a weak, blurred (sin, cos) pointing roughly backwards along the axis
    code = torch.zeros(2, 10)
    code[:, 6:8] = torch.tensor([[math.sin(axis + math.pi + 0.5), math.cos(axis + math.pi + 0.5)]]) * 0.1
    code[1, 6:8] *= -1  # and one pointing roughly forwards
    code[:, 8:10] = torch.tensor([math.sin(2 * axis), math.cos(2 * axis)])
    yaw = _coder(with_heading_axis=True).decode(code, torch.zeros(2), torch.zeros(2))[:, 6]
    torch.testing.assert_close(yaw, torch.tensor([axis - math.pi, axis]))
