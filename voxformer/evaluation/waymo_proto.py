"""Waymo ``metrics.Objects`` files (the detection-metric tool's input) without protoc or TensorFlow.

The messages are ``Box`` and ``Label`` of the Waymo Open Dataset's ``label.proto``
(:mod:`voxformer.utils.waymo_label_proto`) and the subset of ``metrics.proto`` that detection
metrics read, with the published field numbers, so real files parse and files written here are read
by the official tool. They are built at run time by :mod:`voxformer.utils.proto` (plain ``protobuf``
runtime, private descriptor pool). The metrics messages, as proto2::

    message Object   { optional Label object = 1; optional float score = 2; optional bool overlap_with_nlz = 3;
                       optional string context_name = 4; optional int64 frame_timestamp_micros = 5; }
    message Objects  { repeated Object objects = 1; }

Boxes are in the vehicle frame: centre (gravity), length along the heading, heading CCW from +x.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError
from voxformer.utils.proto import Field, build_messages
from voxformer.utils.waymo_label_proto import LABEL_ENUMS, LABEL_MESSAGES, LABEL_TYPES

PACKAGE = "voxformer.waymo_metrics"
TYPE_NAMES = tuple(LABEL_TYPES.values())  # by type number

# (field name, number, scalar type or enum/message name, label): the schema of voxformer.utils.proto
_MESSAGES: dict[str, list[Field]] = {
    **LABEL_MESSAGES,
    "Object": [
        ("object", 1, "Label", "optional"),
        ("score", 2, "float", "optional"),
        ("overlap_with_nlz", 3, "bool", "optional"),
        ("context_name", 4, "string", "optional"),
        ("frame_timestamp_micros", 5, "int64", "optional"),
    ],
    "Objects": [("objects", 1, "Object", "repeated")],
}


@functools.cache
def message_classes() -> dict[str, type]:
    """Message name -> generated class (``Box``, ``Label``, ``Object``, ``Objects``)."""
    return build_messages(PACKAGE, LABEL_ENUMS, _MESSAGES)


@dataclass
class WaymoObjects:
    """Objects of a ``metrics.Objects`` file as arrays (one row per object).

    ``boxes`` (N, 7) float64 = (x, y, z, length, width, height, heading); ``types`` (N,) int64 (1
    vehicle, 2 pedestrian, 3 sign, 4 cyclist); ``scores`` (N,) float64; ``difficulty`` (N,) int64
    (0 unknown, 1 LEVEL_1, 2 LEVEL_2); ``num_points`` (N,) int64; ``overlap_with_nlz`` (N,) bool;
    ``frames`` (N,) int64 frame index into ``frame_keys`` ((context_name, timestamp) pairs).
    """

    boxes: np.ndarray
    types: np.ndarray
    scores: np.ndarray
    difficulty: np.ndarray
    num_points: np.ndarray
    overlap_with_nlz: np.ndarray
    frames: np.ndarray
    frame_keys: list[tuple[str, int]]

    def __len__(self) -> int:
        return len(self.boxes)


def read_objects(path: str | Path, frame_keys: list[tuple[str, int]] | None = None) -> WaymoObjects:
    """Parse a serialized ``metrics.Objects`` file. Frames are numbered in order of first
    appearance, continuing ``frame_keys`` when given (so GT and predictions share frame numbers).
    A missing or malformed file raises :class:`VoxformerError` naming it."""
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: Waymo objects file not found")
    objects = message_classes()["Objects"]()
    try:
        objects.ParseFromString(path.read_bytes())
    except DecodeError as error:
        raise VoxformerError(f"{path}: not a serialized metrics.Objects proto ({error})") from None
    keys = list(frame_keys or [])
    index = {key: i for i, key in enumerate(keys)}
    rows, frames = [], []
    for obj in objects.objects:
        key = (obj.context_name, obj.frame_timestamp_micros)
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        frames.append(index[key])
        label, box = obj.object, obj.object.box
        rows.append(
            (
                box.center_x,
                box.center_y,
                box.center_z,
                box.length,
                box.width,
                box.height,
                box.heading,
                label.type,
                obj.score,
                label.detection_difficulty_level,
                label.num_lidar_points_in_box,
                obj.overlap_with_nlz,
            )
        )
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 12)
    return WaymoObjects(
        boxes=table[:, :7].copy(),
        types=table[:, 7].astype(np.int64),
        scores=table[:, 8].copy(),
        difficulty=table[:, 9].astype(np.int64),
        num_points=table[:, 10].astype(np.int64),
        overlap_with_nlz=table[:, 11].astype(bool),
        frames=np.asarray(frames, dtype=np.int64),
        frame_keys=keys,
    )


def write_objects(path: str | Path, objects: WaymoObjects) -> None:
    """Write ``objects`` as a serialized ``metrics.Objects`` file (inverse of :func:`read_objects`)."""
    classes = message_classes()
    message = classes["Objects"]()
    for i in range(len(objects)):
        obj = message.objects.add()
        context, timestamp = objects.frame_keys[int(objects.frames[i])]
        obj.context_name, obj.frame_timestamp_micros = context, int(timestamp)
        obj.score = float(objects.scores[i])
        obj.overlap_with_nlz = bool(objects.overlap_with_nlz[i])
        label = obj.object
        label.type = int(objects.types[i])
        label.detection_difficulty_level = int(objects.difficulty[i])
        label.num_lidar_points_in_box = int(objects.num_points[i])
        box = label.box
        (box.center_x, box.center_y, box.center_z, box.length, box.width, box.height, box.heading) = (
            float(v) for v in objects.boxes[i]
        )
    Path(path).write_bytes(message.SerializeToString())
