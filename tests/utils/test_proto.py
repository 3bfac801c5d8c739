"""Run-time protobuf schemas: wire format, enums, nesting, errors, and separate pools per schema."""

import pytest

from voxformer.utils.proto import build_messages

ENUMS = {"Colour": {0: "COLOUR_NONE", 1: "COLOUR_RED", 7: "COLOUR_BLUE"}}
MESSAGES = {
    "Point": [("x", 1, "double", "optional"), ("tag", 2, "Colour", "optional")],
    "Cloud": [
        ("points", 1, "Point", "repeated"),
        ("ids", 2, "int32", "repeated"),
        ("values", 3, "int32", "packed"),
        ("name", 4, "string", "optional"),
        ("raw", 5, "bytes", "optional"),
        ("valid", 6, "bool", "optional"),
    ],
}


def test_round_trip_with_nested_messages_and_enums():
    classes = build_messages("test.cloud", ENUMS, MESSAGES)
    cloud = classes["Cloud"](name="a", raw=b"\x00\x01", valid=True, ids=[3, 4], values=[5, 6])
    cloud.points.add(x=1.5, tag=7)
    parsed = classes["Cloud"].FromString(cloud.SerializeToString())
    assert parsed == cloud and parsed.points[0].tag == 7 and parsed.points[0].x == 1.5
    assert classes["Point"].DESCRIPTOR.fields_by_name["tag"].enum_type.values_by_number[7].name == "COLOUR_BLUE"


def test_repeated_scalars_are_unpacked_unless_packed():
    classes = build_messages("test.packing", ENUMS, MESSAGES)
    # field 2 unpacked: a (tag 0x10, value) pair per element; field 3 packed: tag 0x1a, length, values
    assert classes["Cloud"](ids=[1, 2]).SerializeToString() == bytes([0x10, 1, 0x10, 2])
    assert classes["Cloud"](values=[1, 2]).SerializeToString() == bytes([0x1A, 2, 1, 2])


def test_same_names_in_two_schemas_do_not_clash():
    first = build_messages("test.same", ENUMS, MESSAGES)["Point"]
    other = build_messages("test.same", {}, {"Point": [("x", 1, "string", "optional")]})["Point"]
    assert first(x=2.0).x == 2.0 and other(x="text").x == "text"


def test_unknown_kind_or_label_is_named():
    with pytest.raises(ValueError, match=r"test.bad.Point.tag: kind 'Shade' is neither"):
        build_messages("test.bad", ENUMS, {"Point": [("tag", 1, "Shade", "optional")]})
    with pytest.raises(ValueError, match=r"test.bad.Point.x: label 'required'"):
        build_messages("test.bad", {}, {"Point": [("x", 1, "double", "required")]})
