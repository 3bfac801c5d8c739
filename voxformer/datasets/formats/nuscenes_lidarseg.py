"""nuScenes-lidarseg labels: the 32 raw classes, the 16-class learning map, ``_lidarseg.bin`` files.

A label file ``lidarseg/v1.0-*/<sample_data_token>_lidarseg.bin`` holds one uint8 raw class index
per point of the keyframe LIDAR_TOP scan, in the scan's point order. The learning map (the
lidarseg challenge's 16 classes) merges bendy and rigid buses into bus and the adult, child, police
officer and construction worker pedestrians into pedestrian; noise, animal, personal mobility,
stroller, wheelchair, debris, pushable/pullable, bicycle rack, ambulance, police vehicle,
static.other and the ego vehicle are ignored (:data:`IGNORE_INDEX`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

IGNORE_INDEX = 255
RAW_CLASSES = (
    "noise", "animal", "human.pedestrian.adult", "human.pedestrian.child",
    "human.pedestrian.construction_worker", "human.pedestrian.personal_mobility",
    "human.pedestrian.police_officer", "human.pedestrian.stroller", "human.pedestrian.wheelchair",
    "movable_object.barrier", "movable_object.debris", "movable_object.pushable_pullable",
    "movable_object.trafficcone", "static_object.bicycle_rack", "vehicle.bicycle", "vehicle.bus.bendy",
    "vehicle.bus.rigid", "vehicle.car", "vehicle.construction", "vehicle.emergency.ambulance",
    "vehicle.emergency.police", "vehicle.motorcycle", "vehicle.trailer", "vehicle.truck",
    "flat.driveable_surface", "flat.other", "flat.sidewalk", "flat.terrain", "static.manmade",
    "static.other", "static.vegetation", "vehicle.ego",
)  # fmt: skip
CLASSES = (
    "barrier", "bicycle", "bus", "car", "construction_vehicle", "motorcycle", "pedestrian", "traffic_cone",
    "trailer", "truck", "driveable_surface", "other_flat", "sidewalk", "terrain", "manmade", "vegetation",
)  # fmt: skip
_LEARNT_AS = {
    "movable_object.barrier": "barrier",
    "vehicle.bicycle": "bicycle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.car": "car",
    "vehicle.construction": "construction_vehicle",
    "vehicle.motorcycle": "motorcycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "movable_object.trafficcone": "traffic_cone",
    "vehicle.trailer": "trailer",
    "vehicle.truck": "truck",
    "flat.driveable_surface": "driveable_surface",
    "flat.other": "other_flat",
    "flat.sidewalk": "sidewalk",
    "flat.terrain": "terrain",
    "static.manmade": "manmade",
    "static.vegetation": "vegetation",
}
LEARNING_MAP = {
    raw: CLASSES.index(_LEARNT_AS[name]) if name in _LEARNT_AS else IGNORE_INDEX for raw, name in enumerate(RAW_CLASSES)
}
# RGB per class (the devkit's colours of each class's main raw category)
PALETTE = (
    (112, 128, 144), (220, 20, 60), (255, 69, 0), (255, 158, 0), (233, 150, 70), (255, 61, 99),
    (0, 0, 230), (47, 79, 79), (255, 140, 0), (255, 99, 71), (0, 207, 191), (175, 0, 75),
    (75, 0, 75), (112, 180, 60), (222, 184, 135), (0, 175, 0),
)  # fmt: skip
_LOOKUP = np.array([LEARNING_MAP[raw] for raw in range(len(RAW_CLASSES))], np.int64)


def seg_metainfo() -> dict:
    """The dataset metainfo of the nuScenes-lidarseg label space."""
    return {
        "seg_classes": CLASSES,
        "ignore_index": IGNORE_INDEX,
        "seg_palette": PALETTE,
        "label_format": "nuscenes",
    }


def read_lidarseg(path: str | Path, num_points: int | None = None) -> np.ndarray:
    """(N,) uint8 raw class indices of a ``_lidarseg.bin``; errors name the file (missing, wrong length)."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: lidarseg label file not found")
    labels = np.fromfile(path, dtype=np.uint8)
    if num_points is not None and len(labels) != num_points:
        raise VoxformerError(f"{path}: {len(labels)} labels but its scan has {num_points} points")
    return labels


def to_learning(raw: np.ndarray, path: str | Path = "labels") -> np.ndarray:
    """(N,) raw lidarseg indices -> (N,) int64 learning classes; an index >= 32 raises naming ``path``."""
    raw = np.asarray(raw, np.int64)
    unknown = (raw < 0) | (raw >= len(RAW_CLASSES))
    if unknown.any():
        raise VoxformerError(f"{path}: unknown nuScenes-lidarseg label id(s) {sorted(set(raw[unknown].tolist()))[:5]}")
    return _LOOKUP[raw]
