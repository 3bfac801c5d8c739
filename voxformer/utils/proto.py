"""Protocol-buffer message classes built at run time from a table of fields, without ``protoc``.

A schema is a proto2 package name, its enums and its messages::

    enums    {enum name: {number: value name}}
    messages {message name: [(field name, field number, kind, label), ...]}

``kind`` is a scalar type (``double``, ``float``, ``int32``, ``int64``, ``bool``, ``string``,
``bytes``) or the name of one of the schema's enums or messages; ``label`` is ``optional``,
``repeated`` or ``packed`` (a repeated scalar written packed). Enums and messages live at the
top level of the package; proto2 scoping puts enum values beside them, so value names must be
unique across the schema's enums. The classes come from a private descriptor pool: they never
clash with other definitions of the same names (the official protos, another schema here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Field = tuple[str, int, str, str]

SCALAR_KINDS = ("double", "float", "int32", "int64", "bool", "string", "bytes")
LABELS = ("optional", "repeated", "packed")


def file_descriptor(package: str, enums: Mapping[str, Mapping[int, str]], messages: Mapping[str, Sequence[Field]]):
    """The ``FileDescriptorProto`` of the schema; raises ``ValueError`` naming a field of unknown kind or label."""
    from google.protobuf import descriptor_pb2

    proto_field = descriptor_pb2.FieldDescriptorProto
    scalar_types = {kind: getattr(proto_field, f"TYPE_{kind.upper()}") for kind in SCALAR_KINDS}
    file = descriptor_pb2.FileDescriptorProto(name=f"{package.replace('.', '/')}.proto", package=package)
    file.syntax = "proto2"
    for enum_name, values in enums.items():
        enum = file.enum_type.add(name=enum_name)
        for number, value_name in values.items():
            enum.value.add(name=value_name, number=number)
    for message_name, fields in messages.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, label in fields:
            if label not in LABELS:
                raise ValueError(f"{package}.{message_name}.{name}: label {label!r} is not one of {LABELS}")
            entry = message.field.add(name=name, number=number)
            entry.label = proto_field.LABEL_OPTIONAL if label == "optional" else proto_field.LABEL_REPEATED
            if label == "packed":
                entry.options.packed = True
            if kind in scalar_types:
                entry.type = scalar_types[kind]
            elif kind in enums or kind in messages:
                entry.type = proto_field.TYPE_ENUM if kind in enums else proto_field.TYPE_MESSAGE
                entry.type_name = f".{package}.{kind}"
            else:
                raise ValueError(
                    f"{package}.{message_name}.{name}: kind {kind!r} is neither a scalar type nor an enum or "
                    "message of the schema"
                )
    return file


def build_messages(
    package: str, enums: Mapping[str, Mapping[int, str]], messages: Mapping[str, Sequence[Field]]
) -> dict[str, type]:
    """Message name -> generated message class, for every message of the schema."""
    try:
        from google.protobuf import descriptor_pool, message_factory
    except ImportError as error:
        from voxformer.errors import VoxformerError

        raise VoxformerError(f"the {package} messages need protobuf: pip install 'protobuf>=4.21'") from error
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor(package, enums, messages))
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in messages}
