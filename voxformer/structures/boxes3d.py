r"""3D boxes in the LiDAR frame.

Convention (docs/design.md §Boxes, OpenPCDet's)::

    LiDAR frame: x forward, y left, z up, metres.

                 x (forward)                      corners, seen from above (z up):
                 ^                                       0 ------- 3       front (+x along heading)
                 |   yaw (CCW from +x)                   |         |
      y <--------+                                       |    c    |       c = (x, y, z) gravity centre
            (z out of the page)                          |         |
                                                         1 ------- 2       rear
                                                    left (+y)    right (-y)

A box is a row (x, y, z, dx, dy, dz, yaw[, vx, vy, ...]): (x, y, z) is the **gravity centre**,
dx the length along the heading, dy the width, dz the height, yaw the heading angle
counter-clockwise from +x, wrapped to [-pi, pi).

Corner order (``Boxes3D.corners``): 0-3 on the bottom face, 4-7 the same corners on the top face;
in the box's own frame 0 = (+dx/2, +dy/2), 1 = (-dx/2, +dy/2), 2 = (-dx/2, -dy/2), 3 = (+dx/2, -dy/2),
so the bottom face runs counter-clockwise seen from above, starting at the front-left corner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

BOX_DIM = 7
_UNIT_CORNERS = torch.tensor(
    [
        [0.5, 0.5, -0.5],
        [-0.5, 0.5, -0.5],
        [-0.5, -0.5, -0.5],
        [0.5, -0.5, -0.5],
        [0.5, 0.5, 0.5],
        [-0.5, 0.5, 0.5],
        [-0.5, -0.5, 0.5],
        [0.5, -0.5, 0.5],
    ]
)


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Wrap angles to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def rotation_z(angle: torch.Tensor) -> torch.Tensor:
    """(N,) angles -> (N, 3, 3) rotations about +z (counter-clockwise seen from above)."""
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1).reshape(-1, 3, 3)


class Boxes3D:
    """N boxes as a (N, 7+) float tensor in the convention of the module docstring.

    Behaves like a tensor where it helps: ``len``, indexing (returns ``Boxes3D``), ``.to()``,
    ``Boxes3D.cat``. Augmentation methods (``rotate``, ``translate``, ``flip``, ``scale``) change
    the boxes in place and return ``self``.
    """

    def __init__(self, tensor: torch.Tensor | np.ndarray | Sequence, box_dim: int | None = None):
        tensor = torch.as_tensor(tensor, dtype=torch.float32 if not torch.is_tensor(tensor) else None)
        if not tensor.is_floating_point():
            tensor = tensor.float()
        if tensor.numel() == 0:
            tensor = tensor.reshape(0, box_dim or BOX_DIM)
        if tensor.dim() != 2 or tensor.shape[1] < BOX_DIM:
            raise ValueError(f"boxes: expected a (N, >=7) tensor, got shape {tuple(tensor.shape)}")
        self.tensor = tensor

    # -- tensor-like behaviour -------------------------------------------------------------
    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, item) -> Boxes3D:
        return Boxes3D(self.tensor[item].reshape(-1, self.box_dim))

    def __repr__(self) -> str:
        return f"Boxes3D(n={len(self)}, box_dim={self.box_dim}, device={self.device})"

    def to(self, *args, **kwargs) -> Boxes3D:
        return Boxes3D(self.tensor.to(*args, **kwargs))

    def clone(self) -> Boxes3D:
        return Boxes3D(self.tensor.clone())

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    @property
    def box_dim(self) -> int:
        return self.tensor.shape[1]

    @staticmethod
    def cat(boxes: Sequence[Boxes3D]) -> Boxes3D:
        if not boxes:
            return Boxes3D(torch.zeros(0, BOX_DIM))
        return Boxes3D(torch.cat([b.tensor for b in boxes], dim=0))

    # -- geometry --------------------------------------------------------------------------
    @property
    def center(self) -> torch.Tensor:
        """(N, 3) gravity centres."""
        return self.tensor[:, :3]

    @property
    def dims(self) -> torch.Tensor:
        """(N, 3) sizes (dx, dy, dz)."""
        return self.tensor[:, 3:6]

    @property
    def yaw(self) -> torch.Tensor:
        return self.tensor[:, 6]

    @property
    def bottom_center(self) -> torch.Tensor:
        """(N, 3) centres of the bottom faces."""
        bottom = self.center.clone()
        bottom[:, 2] -= self.tensor[:, 5] / 2
        return bottom

    @property
    def volume(self) -> torch.Tensor:
        return self.dims.prod(dim=1)

    @property
    def corners(self) -> torch.Tensor:
        """(N, 8, 3) corners in the order of the module docstring."""
        unit = _UNIT_CORNERS.to(self.tensor)
        local = unit[None] * self.dims[:, None, :]
        return local @ rotation_z(self.yaw).transpose(1, 2) + self.center[:, None, :]

    @property
    def bev_polygons(self) -> torch.Tensor:
        """(N, 4, 2) bird's-eye-view corners (x, y), counter-clockwise seen from above."""
        return self.corners[:, :4, :2]

    def wrap_yaw(self) -> Boxes3D:
        self.tensor[:, 6] = wrap_angle(self.tensor[:, 6])
        return self

    # -- augmentation (in place) ---------------------------------------------------------------
    def rotate(self, angle: float) -> Boxes3D:
        """Rotate about the LiDAR origin's z axis by ``angle`` (CCW); velocities rotate too."""
        rot = rotation_z(torch.tensor([angle], dtype=self.tensor.dtype, device=self.device))[0]
        self.tensor[:, :3] = self.tensor[:, :3] @ rot.T
        if self.box_dim >= 9:
            self.tensor[:, 7:9] = self.tensor[:, 7:9] @ rot[:2, :2].T
        self.tensor[:, 6] = wrap_angle(self.tensor[:, 6] + angle)
        return self

    def translate(self, offset: Sequence[float] | torch.Tensor) -> Boxes3D:
        self.tensor[:, :3] += torch.as_tensor(offset, dtype=self.tensor.dtype, device=self.device)
        return self

    def flip(self, axis: str) -> Boxes3D:
        """Mirror across the x axis (``axis='x'``: y -> -y) or the y axis (``axis='y'``: x -> -x)."""
        if axis == "x":
            self.tensor[:, 1] = -self.tensor[:, 1]
            self.tensor[:, 6] = -self.tensor[:, 6]
            if self.box_dim >= 9:
                self.tensor[:, 8] = -self.tensor[:, 8]
        elif axis == "y":
            self.tensor[:, 0] = -self.tensor[:, 0]
            self.tensor[:, 6] = math.pi - self.tensor[:, 6]
            if self.box_dim >= 9:
                self.tensor[:, 7] = -self.tensor[:, 7]
        else:
            raise ValueError(f"flip: axis must be 'x' or 'y', got {axis!r}")
        return self.wrap_yaw()

    def scale(self, factor: float) -> Boxes3D:
        """Scale positions, sizes and velocities about the origin."""
        self.tensor[:, :6] *= factor
        if self.box_dim >= 9:
            self.tensor[:, 7:9] *= factor
        return self

    # -- conversions -----------------------------------------------------------------------
    @classmethod
    def from_bottom_center(cls, tensor: torch.Tensor) -> Boxes3D:
        """From rows whose (x, y, z) is the bottom-face centre (MMDetection3D's LiDAR boxes)."""
        boxes = torch.as_tensor(tensor, dtype=torch.float32).clone()
        boxes[:, 2] += boxes[:, 5] / 2
        return cls(boxes)

    def to_bottom_center(self) -> torch.Tensor:
        boxes = self.tensor.clone()
        boxes[:, 2] -= boxes[:, 5] / 2
        return boxes

    @classmethod
    def from_kitti_camera(cls, location, dimensions_hwl, rotation_y, calib) -> Boxes3D:
        """From KITTI camera labels: bottom-centre ``location`` (N, 3) in the rectified camera
        frame, ``dimensions_hwl`` (N, 3) as (h, w, l), ``rotation_y`` (N,), and a
        :class:`KittiCalib` (or anything with ``rect_to_lidar``)."""
        location = torch.as_tensor(np.asarray(location, dtype=np.float64).reshape(-1, 3))
        hwl = torch.as_tensor(np.asarray(dimensions_hwl, dtype=np.float64).reshape(-1, 3))
        ry = torch.as_tensor(np.asarray(rotation_y, dtype=np.float64).reshape(-1))
        bottom = torch.as_tensor(calib.rect_to_lidar(location.numpy()))
        h, w, length = hwl[:, 0], hwl[:, 1], hwl[:, 2]
        center = bottom.clone()
        center[:, 2] += h / 2
        yaw = wrap_angle(-ry - math.pi / 2)
        tensor = torch.cat([center, torch.stack([length, w, h, yaw], dim=1)], dim=1)
        return cls(tensor.float())

    def to_kitti_camera(self, calib) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inverse of :meth:`from_kitti_camera`: (location (N, 3), dims (h, w, l) (N, 3), rotation_y (N,))."""
        boxes = self.tensor.double()
        bottom = boxes[:, :3].clone()
        bottom[:, 2] -= boxes[:, 5] / 2
        location = torch.as_tensor(calib.lidar_to_rect(bottom.numpy()))
        hwl = torch.stack([boxes[:, 5], boxes[:, 4], boxes[:, 3]], dim=1)
        ry = wrap_angle(-boxes[:, 6] - math.pi / 2)
        return location.float(), hwl.float(), ry.float()
