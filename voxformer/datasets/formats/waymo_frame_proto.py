"""The subset of the Waymo Open Dataset v1 ``Frame`` proto that LiDAR detection needs, defined here.

The field numbers and types follow the published ``dataset.proto`` and ``label.proto`` of the
Waymo Open Dataset (package ``waymo.open_dataset``), so real records parse with these classes;
fields left out (camera images, projected labels, maps, ...) are kept as unknown fields and
ignored. The messages are built at run time from a descriptor in a private pool with the plain
``protobuf`` runtime: no ``protoc``, no TensorFlow, no clash with other definitions of the same names.

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

PACKAGE = "voxformer.waymo_v1"

# (field name, number, type, label, message or enum type name or None); label "optional" | "repeated".
_MESSAGES: dict[str, list[tuple]] = {
    "MatrixShape": [("dims", 1, "int32", "repeated", None)],
    "MatrixFloat": [("data", 1, "float", "packed", None), ("shape", 2, "message", "optional", "MatrixShape")],
    "Transform": [("transform", 1, "double", "repeated", None)],
    "LaserCalibration": [
        ("name", 1, "enum", "optional", "LaserName"),
        ("beam_inclinations", 2, "double", "repeated", None),
        ("beam_inclination_min", 3, "double", "optional", None),
        ("beam_inclination_max", 4, "double", "optional", None),
        ("extrinsic", 5, "message", "optional", "Transform"),
    ],
    "Stats": [
        ("time_of_day", 2, "string", "optional", None),
        ("location", 3, "string", "optional", None),
        ("weather", 4, "string", "optional", None),
    ],
    "Context": [
        ("name", 1, "string", "optional", None),
        ("laser_calibrations", 3, "message", "repeated", "LaserCalibration"),
        ("stats", 4, "message", "optional", "Stats"),
    ],
    "RangeImage": [
        ("range_image_compressed", 2, "bytes", "optional", None),
        ("camera_projection_compressed", 3, "bytes", "optional", None),
        ("range_image_pose_compressed", 4, "bytes", "optional", None),
    ],
    "Laser": [
        ("name", 1, "enum", "optional", "LaserName"),
        ("ri_return1", 2, "message", "optional", "RangeImage"),
        ("ri_return2", 3, "message", "optional", "RangeImage"),
    ],
    "Box": [
        ("center_x", 1, "double", "optional", None),
        ("center_y", 2, "double", "optional", None),
        ("center_z", 3, "double", "optional", None),
        ("width", 4, "double", "optional", None),
        ("length", 5, "double", "optional", None),
        ("height", 6, "double", "optional", None),
        ("heading", 7, "double", "optional", None),
    ],
    "Metadata": [
        ("speed_x", 1, "double", "optional", None),
        ("speed_y", 2, "double", "optional", None),
        ("accel_x", 3, "double", "optional", None),
        ("accel_y", 4, "double", "optional", None),
        ("speed_z", 5, "double", "optional", None),
        ("accel_z", 6, "double", "optional", None),
    ],
    "Label": [
        ("box", 1, "message", "optional", "Box"),
        ("metadata", 2, "message", "optional", "Metadata"),
        ("type", 3, "enum", "optional", "LabelType"),
        ("id", 4, "string", "optional", None),
        ("detection_difficulty_level", 5, "enum", "optional", "DifficultyLevel"),
        ("tracking_difficulty_level", 6, "enum", "optional", "DifficultyLevel"),
        ("num_lidar_points_in_box", 7, "int32", "optional", None),
        ("num_top_lidar_points_in_box", 13, "int32", "optional", None),
    ],
    "Frame": [
        ("context", 1, "message", "optional", "Context"),
        ("timestamp_micros", 2, "int64", "optional", None),
        ("pose", 3, "message", "optional", "Transform"),
        ("lasers", 5, "message", "repeated", "Laser"),
        ("laser_labels", 6, "message", "repeated", "Label"),
    ],
}

# Enums of the published protos (top-level here; the wire format carries only the numbers).
LASER_NAMES = {0: "UNKNOWN", 1: "TOP", 2: "FRONT", 3: "SIDE_LEFT", 4: "SIDE_RIGHT", 5: "REAR"}
LABEL_TYPES = {0: "TYPE_UNKNOWN", 1: "TYPE_VEHICLE", 2: "TYPE_PEDESTRIAN", 3: "TYPE_SIGN", 4: "TYPE_CYCLIST"}
DIFFICULTY_LEVELS = {0: "UNKNOWN", 1: "LEVEL_1", 2: "LEVEL_2"}
_ENUMS = {"LaserName": LASER_NAMES, "LabelType": LABEL_TYPES, "DifficultyLevel": DIFFICULTY_LEVELS}


def _file_descriptor():
    from google.protobuf import descriptor_pb2

    field = descriptor_pb2.FieldDescriptorProto
    scalar_types = {
        "double": field.TYPE_DOUBLE,
        "float": field.TYPE_FLOAT,
        "int32": field.TYPE_INT32,
        "int64": field.TYPE_INT64,
        "string": field.TYPE_STRING,
        "bytes": field.TYPE_BYTES,
        "message": field.TYPE_MESSAGE,
        "enum": field.TYPE_ENUM,
    }
    proto = descriptor_pb2.FileDescriptorProto(name="voxformer/waymo_v1_frame.proto", package=PACKAGE, syntax="proto2")
    for enum_name, values in _ENUMS.items():
        enum = proto.enum_type.add(name=enum_name)
        for number, value_name in values.items():
            enum.value.add(name=f"{enum_name.upper()}_{value_name}", number=number)
    for message_name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=message_name)
        for name, number, kind, label, type_name in fields:
            entry = message.field.add(name=name, number=number, type=scalar_types[kind])
            entry.label = field.LABEL_OPTIONAL if label == "optional" else field.LABEL_REPEATED
            if label == "packed":
                entry.options.packed = True
            if type_name is not None:
                entry.type_name = f".{PACKAGE}.{type_name}"
    return proto


@functools.cache
def frame_messages() -> dict:
    """Message classes by name (``"Frame"``, ``"Label"``, ``"MatrixFloat"``, ...), built once per process."""
    try:
        from google.protobuf import descriptor_pool, message_factory
    except ImportError as error:
        from voxformer.errors import VoxformerError

        raise VoxformerError("reading Waymo records needs protobuf: pip install 'voxformer[waymo]'") from error
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}")) for name in _MESSAGES
    }
