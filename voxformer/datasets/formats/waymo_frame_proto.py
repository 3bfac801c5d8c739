"""The subset of the Waymo Open Dataset v1 ``Frame`` proto that LiDAR detection needs, defined here.

The field numbers and types follow the published ``dataset.proto`` and ``label.proto`` of the
Waymo Open Dataset (package ``waymo.open_dataset``), so real records parse with these classes;
fields left out (camera images, projected labels, maps, ...) are kept as unknown fields and
ignored. The messages are built at run time by :mod:`voxformer.utils.proto` (plain ``protobuf``
runtime, private descriptor pool): no ``protoc``, no TensorFlow, no clash with other definitions.

Messages (``FRAME_MESSAGES[name]``)::

    Frame            context, timestamp_micros, pose (4x4 vehicle -> world, row-major), lasers, laser_labels
    Context          name, laser_calibrations, stats (time_of_day, location, weather)
    LaserCalibration name, beam_inclinations (radians), beam_inclination_min/max, extrinsic (laser -> vehicle)
    Laser            name, ri_return1, ri_return2 (RangeImage)
    RangeImage       range_image_compressed, camera_projection_compressed, range_image_pose_compressed
    MatrixFloat      data (packed float), shape.dims
    Label            box (centre, length along heading, width, height, heading), metadata (speed, accel),
                     type, id, detection_difficulty_level, num_lidar_points_in_box, num_top_lidar_points_in_box
"""

from __future__ import annotations

import functools

from voxformer.utils.proto import Field, build_messages
from voxformer.utils.waymo_label_proto import LABEL_ENUMS, LABEL_MESSAGES

PACKAGE = "voxformer.waymo_v1"

# (field name, number, scalar type or enum/message name, label): the schema of voxformer.utils.proto
_MESSAGES: dict[str, list[Field]] = {
    **LABEL_MESSAGES,
    "MatrixShape": [("dims", 1, "int32", "repeated")],
    "MatrixFloat": [("data", 1, "float", "packed"), ("shape", 2, "MatrixShape", "optional")],
    "Transform": [("transform", 1, "double", "repeated")],
    "LaserCalibration": [
        ("name", 1, "LaserName", "optional"),
        ("beam_inclinations", 2, "double", "repeated"),
        ("beam_inclination_min", 3, "double", "optional"),
        ("beam_inclination_max", 4, "double", "optional"),
        ("extrinsic", 5, "Transform", "optional"),
    ],
    "Stats": [
        ("time_of_day", 2, "string", "optional"),
        ("location", 3, "string", "optional"),
        ("weather", 4, "string", "optional"),
    ],
    "Context": [
        ("name", 1, "string", "optional"),
        ("laser_calibrations", 3, "LaserCalibration", "repeated"),
        ("stats", 4, "Stats", "optional"),
    ],
    "RangeImage": [
        ("range_image_compressed", 2, "bytes", "optional"),
        ("camera_projection_compressed", 3, "bytes", "optional"),
        ("range_image_pose_compressed", 4, "bytes", "optional"),
    ],
    "Laser": [
        ("name", 1, "LaserName", "optional"),
        ("ri_return1", 2, "RangeImage", "optional"),
        ("ri_return2", 3, "RangeImage", "optional"),
    ],
    "Frame": [
        ("context", 1, "Context", "optional"),
        ("timestamp_micros", 2, "int64", "optional"),
        ("pose", 3, "Transform", "optional"),
        ("lasers", 5, "Laser", "repeated"),
        ("laser_labels", 6, "Label", "repeated"),
    ],
}

# LaserName of the published dataset.proto; its values are prefixed here, as proto2 puts them beside
# those of the label enums (UNKNOWN occurs in both).
LASER_NAMES = {0: "UNKNOWN", 1: "TOP", 2: "FRONT", 3: "SIDE_LEFT", 4: "SIDE_RIGHT", 5: "REAR"}
_ENUMS = {**LABEL_ENUMS, "LaserName": {number: f"LASER_{name}" for number, name in LASER_NAMES.items()}}


@functools.cache
def frame_messages() -> dict:
    """Message classes by name (``"Frame"``, ``"Label"``, ``"MatrixFloat"``, ...), built once per process."""
    return build_messages(PACKAGE, _ENUMS, _MESSAGES)
