"""Augmentations of the points alone, for models that must hold up on another sensor: intensity scale and density.

Both draw from NumPy's global generator, once per sample (see :class:`RandomTransform`).
"""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.transforms.base import RandomTransform, select_points
from voxformer.registry import TRANSFORMS


@TRANSFORMS.register_module()
class IntensityJitter(RandomTransform):
    """Multiply the intensity column (``column``, default 3) by one factor ~ U(``scale_range``) per sample
    and clip it to [0, ``max_value``]: sensors differ in gain and calibration, so the absolute intensity
    does not transfer from one to another while its contrasts do."""

    def __init__(self, scale_range=(0.5, 1.5), column: int = 3, max_value: float = 1.0):
        self.scale_range = tuple(scale_range)
        self.column = int(column)
        self.max_value = float(max_value)

    def transform(self, results: dict) -> dict:
        points = results["points"].clone()
        scale = float(np.random.uniform(*self.scale_range))
        points[:, self.column] = (points[:, self.column] * scale).clamp(0.0, self.max_value)
        results["points"] = points
        return results


@TRANSFORMS.register_module()
class RandomPointDrop(RandomTransform):
    """Keep each point with one probability ~ U(``keep_range``) drawn per sample (and every per-point
    label with it): the density varies with the sensor, its range and its ray drop."""

    def __init__(self, keep_range=(0.7, 1.0)):
        self.keep_range = tuple(keep_range)

    def transform(self, results: dict) -> dict:
        keep = float(np.random.uniform(*self.keep_range))
        mask = np.random.random_sample(len(results["points"])) < keep
        select_points(results, torch.from_numpy(mask))
        return results
