import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from voxformer.structures import Boxes3D, KittiCalib, wrap_angle

# A calib in KITTI's layout (values of the form a real one has: camera y down, z forward).
CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0=np.array([[0.9999, 0.0098, -0.0074], [-0.0099, 0.9999, -0.0043], [0.0074, 0.0044, 1.0]]),
    V2C=np.array(
        [[0.0075, -1.0, -0.0006, -0.0041], [0.0148, 0.0007, -0.9999, -0.0763], [0.9999, 0.0075, 0.0148, -0.2718]]
    ),
)


def random_boxes(n: int, seed: int = 0) -> Boxes3D:
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 3, generator=g) * torch.tensor([60.0, 40.0, 2.0]) - torch.tensor([0.0, 20.0, 2.0])
    dims = torch.rand(n, 3, generator=g) * 4 + 0.3
    yaw = torch.rand(n, 1, generator=g) * 2 * math.pi - math.pi
    return Boxes3D(torch.cat([centre, dims, yaw], 1))


def test_corner_order_of_an_axis_aligned_box():
    box = Boxes3D([[1.0, 2.0, 3.0, 4.0, 2.0, 1.0, 0.0]])
    corners = box.corners[0]
    expected_bottom = torch.tensor([[3.0, 3.0], [-1.0, 3.0], [-1.0, 1.0], [3.0, 1.0]])
    torch.testing.assert_close(corners[:4, :2], expected_bottom)
    torch.testing.assert_close(corners[4:, :2], expected_bottom)
    assert torch.all(corners[:4, 2] == 2.5) and torch.all(corners[4:, 2] == 3.5)


def test_bev_polygon_is_counter_clockwise_and_follows_yaw():
    boxes = random_boxes(50)
    poly = boxes.bev_polygons
    x, y = poly[..., 0], poly[..., 1]
    signed_area = 0.5 * (x * y.roll(-1, 1) - x.roll(-1, 1) * y).sum(1)
    torch.testing.assert_close(signed_area, boxes.dims[:, 0] * boxes.dims[:, 1], rtol=1e-4, atol=1e-4)
    # corner 0 minus corner 1 points along the heading
    heading = poly[:, 0] - poly[:, 1]
    angle = torch.atan2(heading[:, 1], heading[:, 0])
    torch.testing.assert_close(wrap_angle(angle - boxes.yaw), torch.zeros(50), atol=1e-4, rtol=0)


def test_yaw_wrapping_lands_in_half_open_interval():
    angles = torch.tensor([-math.pi, math.pi, 3 * math.pi, -3 * math.pi + 0.1, 0.5, 7.0])
    wrapped = wrap_angle(angles)
    assert torch.all(wrapped >= -math.pi) and torch.all(wrapped < math.pi)
    torch.testing.assert_close(torch.cos(wrapped), torch.cos(angles), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.sin(wrapped), torch.sin(angles), atol=1e-5, rtol=0)
    assert wrapped[1].item() == pytest.approx(-math.pi)


def test_volume_and_bottom_centre():
    box = Boxes3D([[0.0, 0.0, 1.0, 4.0, 2.0, 1.5, 0.3]])
    assert box.volume.item() == pytest.approx(12.0)
    torch.testing.assert_close(box.bottom_center, torch.tensor([[0.0, 0.0, 0.25]]))


@given(st.integers(min_value=0, max_value=10_000))
@settings(max_examples=25, deadline=None)
def test_kitti_camera_round_trip(seed):
    boxes = random_boxes(8, seed)
    location, hwl, ry = boxes.to_kitti_camera(CALIB)
    back = Boxes3D.from_kitti_camera(location.double(), hwl.double(), ry.double(), CALIB)
    torch.testing.assert_close(back.tensor[:, :6], boxes.tensor[:, :6], atol=1e-5, rtol=0)
    torch.testing.assert_close(wrap_angle(back.yaw - boxes.yaw), torch.zeros(8), atol=1e-5, rtol=0)


def test_kitti_camera_yaw_convention():
    # A car heading along the camera's +x (rotation_y = 0) heads along LiDAR -y: yaw = -pi/2.
    box = Boxes3D.from_kitti_camera([[0.0, 1.5, 10.0]], [[1.5, 1.6, 4.0]], [0.0], CALIB)
    assert box.yaw.item() == pytest.approx(-math.pi / 2, abs=1e-5)
    assert box.dims[0].tolist() == pytest.approx([4.0, 1.6, 1.5])
    assert box.center[0, 0].item() == pytest.approx(10.0 + 0.27, abs=0.05)  # forward in LiDAR x


def test_bottom_centre_round_trip():
    boxes = random_boxes(20)
    back = Boxes3D.from_bottom_center(boxes.to_bottom_center())
    torch.testing.assert_close(back.tensor, boxes.tensor, atol=1e-5, rtol=0)


def _points_inside(boxes: Boxes3D, seed: int = 1) -> torch.Tensor:
    """One point strictly inside each box, built in the box frame."""
    g = torch.Generator().manual_seed(seed)
    local = (torch.rand(len(boxes), 3, generator=g) - 0.5) * 0.8 * boxes.dims
    c, s = torch.cos(boxes.yaw), torch.sin(boxes.yaw)
    world_x = c * local[:, 0] - s * local[:, 1]
    world_y = s * local[:, 0] + c * local[:, 1]
    return torch.stack([world_x, world_y, local[:, 2]], 1) + boxes.center


def _local(boxes: Boxes3D, points: torch.Tensor) -> torch.Tensor:
    offset = points - boxes.center
    c, s = torch.cos(boxes.yaw), torch.sin(boxes.yaw)
    return torch.stack([c * offset[:, 0] + s * offset[:, 1], -s * offset[:, 0] + c * offset[:, 1], offset[:, 2]], 1)


@pytest.mark.parametrize(
    "augment",
    [
        lambda b: b.rotate(0.7),
        lambda b: b.translate([1.0, -2.0, 0.5]),
        lambda b: b.flip("x"),
        lambda b: b.flip("y"),
        lambda b: b.scale(1.1),
    ],
    ids=["rotate", "translate", "flip_x", "flip_y", "scale"],
)
def test_augmentation_keeps_points_in_box_frame(augment):
    """Moving a box and a point by the same rigid transform keeps the point's box-frame position."""
    boxes = random_boxes(30)
    points = _points_inside(boxes)
    before = _local(boxes, points)
    carrier = Boxes3D(torch.cat([points, torch.ones(30, 3), torch.zeros(30, 1)], 1))
    augment(boxes)
    augment(carrier)
    after = _local(boxes, carrier.center)
    scale = boxes.dims / random_boxes(30).dims
    torch.testing.assert_close(after.abs() / scale, before.abs(), atol=1e-4, rtol=1e-4)
    assert torch.all(boxes.yaw >= -math.pi) and torch.all(boxes.yaw < math.pi)


def test_velocity_follows_rotation_and_flip():
    boxes = Boxes3D([[1.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0, 1.0, 0.0]])
    boxes.rotate(math.pi / 2)
    torch.testing.assert_close(boxes.tensor[0, 7:9], torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    boxes.flip("x")
    torch.testing.assert_close(boxes.tensor[0, 7:9], torch.tensor([0.0, -1.0]), atol=1e-6, rtol=0)


def test_tensor_like_behaviour():
    boxes = random_boxes(5)
    assert len(boxes) == 5
    assert len(boxes[1]) == 1 and len(boxes[-1]) == 1 and len(boxes[1:3]) == 2
    assert len(boxes[boxes.yaw > 0]) == int((boxes.yaw > 0).sum())
    torch.testing.assert_close(boxes[-1].tensor[0], boxes.tensor[4])
    joined = Boxes3D.cat([boxes, boxes[:2]])
    assert len(joined) == 7 and joined.tensor.dtype == torch.float32
    assert boxes.to(torch.float64).tensor.dtype == torch.float64
    assert len(Boxes3D(torch.zeros(0, 7))) == 0 and Boxes3D.cat([]).box_dim == 7


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, >=7\)"):
        Boxes3D(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="axis"):
        random_boxes(2).flip("z")
