"""The CenterPoint box coder: the one owner of the regression layout (code size, channel order, encode, decode).

BEV cell of a point (x, y): column = (x - x0) / (vx * stride), row = (y - y0) / (vy * stride), where (x0, y0)
is the point-cloud range's minimum corner, (vx, vy) the voxel size and ``stride`` the BEV feature stride in
voxels.

Code of a box supervised at cell (column, row), in channel order: ``reg`` (2: centre minus the cell's corner, in
cells; in [0, 1) at the centre cell), ``height`` (1: centre z), ``dim`` (3: log dx, dy, dz), ``rot`` (2: sin yaw,
cos yaw; or cos, sin with ``rot_order="cos_sin"``, OpenPCDet's order), then ``vel`` (2: vx, vy) with velocities
and ``axis`` (2: sin 2 yaw, cos 2 yaw) with a heading axis.

Why the heading axis: a car seen from the side looks nearly the same both ways round, and an L1 fit of
(sin, cos) to two opposite headings shrinks the vector towards zero, where its angle is noise. The axis code
(sin 2 yaw, cos 2 yaw) is the same for both, so it stays sharp; the decoded yaw is the axis angle, turned by
pi when (sin, cos) points the other way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate

import torch

from voxformer.errors import ConfigError
from voxformer.structures import wrap_angle

ROT_ORDERS = ("sin_cos", "cos_sin")
MAX_LOG_DIM = 10.0  # decoded log sizes are clamped here so that exp() stays finite


class CenterPointBoxCoder:
    """Boxes (N, 7 [+2 velocity]) <-> regression codes (N, ``code_size``) at BEV cells (module docstring).

    Args:
        point_cloud_range, voxel_size: the detector's grid.
        feature_stride: BEV stride of the head's map in voxels.
        with_velocity, with_heading_axis: add the ``vel`` and ``axis`` codes.
        rot_order: ``"sin_cos"`` or ``"cos_sin"``, the order of the two ``rot`` channels.
        zero_missing_velocity: encode (0, 0) velocities for boxes without (vx, vy) columns instead of failing
            (mmdet3d's Waymo recipe: a velocity branch trained with code weight 0).
    """

    def __init__(
        self,
        point_cloud_range: Sequence[float],
        voxel_size: Sequence[float],
        feature_stride: int = 1,
        with_velocity: bool = False,
        with_heading_axis: bool = False,
        rot_order: str = "sin_cos",
        zero_missing_velocity: bool = False,
    ):
        if rot_order not in ROT_ORDERS:
            raise ConfigError(f"head.box_coder.rot_order must be one of {ROT_ORDERS}, got {rot_order!r}")
        self.point_cloud_range = list(point_cloud_range)
        self.voxel_size = list(voxel_size)
        self.feature_stride = int(feature_stride)
        self.with_velocity = with_velocity
        self.with_heading_axis = with_heading_axis
        self.rot_order = rot_order
        self.zero_missing_velocity = zero_missing_velocity
        self.layout = dict(reg=2, height=1, dim=3, rot=2)
        if with_velocity:
            self.layout["vel"] = 2
        if with_heading_axis:
            self.layout["axis"] = 2
        self.code_size = sum(self.layout.values())
        offsets = list(accumulate(self.layout.values(), initial=0))
        self.slices = {name: slice(offsets[i], offsets[i + 1]) for i, name in enumerate(self.layout)}
        self._sin, self._cos = (6, 7) if rot_order == "sin_cos" else (7, 6)

    @property
    def cell_size(self) -> tuple[float, float]:
        """(x, y) size of one BEV cell in metres."""
        return self.voxel_size[0] * self.feature_stride, self.voxel_size[1] * self.feature_stride

    def cell_coordinates(self, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous (column, row) coordinates of points ``xy`` (..., 2) on the BEV map."""
        cell_x, cell_y = self.cell_size
        return (xy[..., 0] - self.point_cloud_range[0]) / cell_x, (xy[..., 1] - self.point_cloud_range[1]) / cell_y

    def encode(self, boxes: torch.Tensor, column: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """Codes (N, ``code_size``) of ``boxes`` (N, 7+) supervised at cells (column, row) (N,)."""
        if self.with_velocity and boxes.shape[1] < 9 and not self.zero_missing_velocity:
            raise ValueError("box coder: with_velocity needs boxes with (vx, vy) columns (box_dim >= 9)")
        if len(boxes) == 0:
            return boxes.new_zeros(0, self.code_size)
        fx, fy = self.cell_coordinates(boxes[:, :2])
        yaw = boxes[:, 6:7]
        rot = [yaw.sin(), yaw.cos()] if self.rot_order == "sin_cos" else [yaw.cos(), yaw.sin()]
        offset = [(fx - column).unsqueeze(1), (fy - row).unsqueeze(1)]
        parts = [*offset, boxes[:, 2:3], boxes[:, 3:6].clamp(min=1e-3).log(), *rot]
        if self.with_velocity:
            parts.append(boxes[:, 7:9] if boxes.shape[1] >= 9 else boxes.new_zeros(len(boxes), 2))
        if self.with_heading_axis:
            parts += [(2 * yaw).sin(), (2 * yaw).cos()]
        return torch.cat(parts, dim=1)

    def decode(self, code: torch.Tensor, column: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """Boxes (..., 7, or 9 with velocities) from codes (..., ``code_size``) predicted at cells (column, row)."""
        cell_x, cell_y = self.cell_size
        x = (column.to(code.dtype) + code[..., 0]) * cell_x + self.point_cloud_range[0]
        y = (row.to(code.dtype) + code[..., 1]) * cell_y + self.point_cloud_range[1]
        dims = code[..., 3:6].clamp(max=MAX_LOG_DIM).exp()
        sin, cos = code[..., self._sin], code[..., self._cos]
        yaw = torch.atan2(sin, cos)
        if self.with_heading_axis:
            axis_code = code[..., self.slices["axis"]]
            axis = 0.5 * torch.atan2(axis_code[..., 0], axis_code[..., 1])
            backwards = axis.cos() * cos + axis.sin() * sin < 0
            yaw = axis + math.pi * backwards.to(axis.dtype)
        parts = [x[..., None], y[..., None], code[..., 2:3], dims, wrap_angle(yaw)[..., None]]
        if self.with_velocity:
            parts.append(code[..., self.slices["vel"]])
        return torch.cat(parts, dim=-1)

    def code_from_outputs(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        """The head's branch maps (B, channels, H, W) concatenated in code order: (B, ``code_size``, H, W)."""
        return torch.cat([output[name] for name in self.layout], dim=1)
