"""Global augmentations applied to points and boxes together, and point shuffling."""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.transforms.base import RandomTransform, select_points
from voxformer.registry import TRANSFORMS
from voxformer.structures import rotation_z


@TRANSFORMS.register_module()
class GlobalRotScaleTrans(RandomTransform):
    """Rotate about z by U(rot_range), scale by U(scale_ratio_range), translate by N(0, translation_std)
    per axis, all about the LiDAR origin, for points and boxes alike."""

    def __init__(self, rot_range=(-0.78539816, 0.78539816), scale_ratio_range=(0.95, 1.05), translation_std=(0, 0, 0)):
        self.rot_range = tuple(rot_range)
        self.scale_ratio_range = tuple(scale_ratio_range)
        self.translation_std = tuple(translation_std)

    def transform(self, results: dict) -> dict:
        angle = float(np.random.uniform(*self.rot_range))
        scale = float(np.random.uniform(*self.scale_ratio_range))
        shift = torch.from_numpy(np.random.normal(0, self.translation_std, size=3).astype(np.float32))
        points = results["points"].clone()
        rotation = rotation_z(torch.tensor([angle], dtype=points.dtype))[0]
        points[:, :3] = (points[:, :3] @ rotation.T) * scale + shift
        results["points"] = points
        if "gt_bboxes_3d" in results:
            results["gt_bboxes_3d"] = results["gt_bboxes_3d"].clone().rotate(angle).scale(scale).translate(shift)
        return results


@TRANSFORMS.register_module()
class RandomFlip3D(RandomTransform):
    """Mirror y -> -y with probability ``flip_ratio_bev_horizontal`` and x -> -x with probability
    ``flip_ratio_bev_vertical`` (points and boxes)."""

    def __init__(self, flip_ratio_bev_horizontal: float = 0.5, flip_ratio_bev_vertical: float = 0.0):
        self.flip_ratio_bev_horizontal = flip_ratio_bev_horizontal
        self.flip_ratio_bev_vertical = flip_ratio_bev_vertical

    def transform(self, results: dict) -> dict:
        for axis, column, ratio in (("x", 1, self.flip_ratio_bev_horizontal), ("y", 0, self.flip_ratio_bev_vertical)):
            if np.random.rand() < ratio:
                points = results["points"].clone()
                points[:, column] = -points[:, column]
                results["points"] = points
                if "gt_bboxes_3d" in results:
                    results["gt_bboxes_3d"] = results["gt_bboxes_3d"].clone().flip(axis)
        return results


@TRANSFORMS.register_module()
class PointShuffle(RandomTransform):
    """Random permutation of the points (and of their per-point labels)."""

    def transform(self, results: dict) -> dict:
        select_points(results, torch.from_numpy(np.random.permutation(len(results["points"]))))
        return results
