"""The Waymo Open Dataset ``label.proto`` messages, as a :mod:`voxformer.utils.proto` schema.

``Box`` (centre, width, length along the heading, height, heading CCW from +x, vehicle frame),
``Metadata`` (speed and acceleration) and ``Label``, with the published field numbers and enum
numbers. Both the ``Frame`` reader (``voxformer.datasets.formats.waymo_frame_proto``) and the
``metrics.Objects`` files (``voxformer.evaluation.waymo_proto``) extend this schema with their own
messages, so the two never drift apart.
"""

from __future__ import annotations

from voxformer.utils.proto import Field

LABEL_TYPES = {0: "TYPE_UNKNOWN", 1: "TYPE_VEHICLE", 2: "TYPE_PEDESTRIAN", 3: "TYPE_SIGN", 4: "TYPE_CYCLIST"}
DIFFICULTY_LEVELS = {0: "UNKNOWN", 1: "LEVEL_1", 2: "LEVEL_2"}

LABEL_ENUMS = {"LabelType": LABEL_TYPES, "DifficultyLevel": DIFFICULTY_LEVELS}

LABEL_MESSAGES: dict[str, list[Field]] = {
    "Box": [
        ("center_x", 1, "double", "optional"),
        ("center_y", 2, "double", "optional"),
        ("center_z", 3, "double", "optional"),
        ("width", 4, "double", "optional"),
        ("length", 5, "double", "optional"),
        ("height", 6, "double", "optional"),
        ("heading", 7, "double", "optional"),
    ],
    "Metadata": [
        ("speed_x", 1, "double", "optional"),
        ("speed_y", 2, "double", "optional"),
        ("accel_x", 3, "double", "optional"),
        ("accel_y", 4, "double", "optional"),
        ("speed_z", 5, "double", "optional"),
        ("accel_z", 6, "double", "optional"),
    ],
    "Label": [
        ("box", 1, "Box", "optional"),
        ("metadata", 2, "Metadata", "optional"),
        ("type", 3, "LabelType", "optional"),
        ("id", 4, "string", "optional"),
        ("detection_difficulty_level", 5, "DifficultyLevel", "optional"),
        ("tracking_difficulty_level", 6, "DifficultyLevel", "optional"),
        ("num_lidar_points_in_box", 7, "int32", "optional"),
        ("num_top_lidar_points_in_box", 13, "int32", "optional"),
    ],
}
