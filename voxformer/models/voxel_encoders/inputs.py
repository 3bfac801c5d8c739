"""Input checks shared by the voxel feature encoders."""

from __future__ import annotations

import torch

from voxformer.errors import ConfigError


def check_point_columns(points: torch.Tensor, in_channels: int) -> None:
    """Raise :class:`ConfigError` unless ``points`` (N, C) has ``in_channels`` columns."""
    if points.shape[1] != in_channels:
        raise ConfigError(f"voxel_encoder.in_channels is {in_channels} but points have {points.shape[1]} columns")
