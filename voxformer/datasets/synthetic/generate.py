"""One synthetic frame: scene -> ray cast -> box and point labels. Deterministic per (seed, frame index)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxformer.datasets.synthetic.labels import label_scene
from voxformer.datasets.synthetic.lidar import cast
from voxformer.datasets.synthetic.scene import build_scene
from voxformer.datasets.synthetic.semantics import point_labels
from voxformer.datasets.synthetic.sensors import get_sensor


@dataclass
class SyntheticFrame:
    """``points`` (N, 4) float32 (x, y, z, intensity in [0, 1]) in the LiDAR frame, sensor at the
    origin and the ground near z = -mount height; ``annos`` as in :mod:`voxformer.datasets.infos`;
    ``point_labels`` (N,) uint32 per point, SemanticKITTI ``.label`` layout (:mod:`.semantics`)."""

    points: np.ndarray
    annos: dict
    point_labels: np.ndarray


def generate_frame(
    seed: int, index: int, sensor: str = "hdl64", counts: dict | None = None, mount_height: float | None = None
) -> SyntheticFrame:
    """Frame ``index`` of the dataset with ``seed``: same arguments, same bytes. ``mount_height`` (m)
    replaces the sensor preset's."""
    model = get_sensor(sensor, mount_height)
    rng = np.random.default_rng([seed, index])
    scene = build_scene(rng, model.mount_height, counts)
    raycast = cast(scene, model, rng)
    return SyntheticFrame(raycast.points, label_scene(scene, raycast, model), point_labels(scene, raycast))
