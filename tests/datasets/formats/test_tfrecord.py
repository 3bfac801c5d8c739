"""TFRecord framing: CRC32-C, round trips, and corrupt or truncated files reported by file and offset."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxformer.datasets.formats.tfrecord import (
    TFRecordError,
    crc32c,
    iter_tfrecord,
    masked_crc32c,
    read_tfrecord,
    write_tfrecord,
)
from voxformer.errors import VoxformerError


def bitwise_crc32c(data: bytes) -> int:
    """CRC32-C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"123456789", 0xE3069283),  # the CRC catalogue's check value for CRC-32C
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4 test vectors
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
        (b"", 0x0),
    ],
)
def test_crc32c_known_values(data, expected):
    assert crc32c(data) == expected


def test_crc32c_matches_bitwise_definition():
    rng = np.random.default_rng(0)
    for size in (1, 7, 8, 9, 255, 1000, 4099):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert crc32c(data) == bitwise_crc32c(data)


def test_masked_crc_is_rotation_plus_delta():
    crc = crc32c(b"voxformer")
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    assert masked_crc32c(b"voxformer") == (rotated + 0xA282EAD8) % 2**32


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_round_trip(tmp_path_factory, payloads):
    path = tmp_path_factory.mktemp("rt") / "records.tfrecord"
    write_tfrecord(path, payloads)
    assert list(read_tfrecord(path)) == payloads
    offsets = [offset for offset, _ in iter_tfrecord(path)]
    expected = np.cumsum([0] + [len(p) + 16 for p in payloads])[: len(payloads)].tolist()
    assert offsets == expected
    assert path.stat().st_size == sum(len(p) + 16 for p in payloads)


def _three_records(tmp_path):
    path = tmp_path / "three.tfrecord"
    write_tfrecord(path, [b"first record", b"second record, a bit longer", b"third"])
    return path, 12 + 16  # the second record starts after the first (payload + 16 framing bytes)


def test_flipped_payload_byte_names_file_and_offset(tmp_path):
    path, second = _three_records(tmp_path)
    data = bytearray(path.read_bytes())
    data[second + 12 + 3] ^= 0x01
    path.write_bytes(bytes(data))
    records = iter_tfrecord(path)
    assert next(records)[1] == b"first record"
    with pytest.raises(TFRecordError, match=rf"three\.tfrecord: record at offset {second}: payload CRC"):
        next(records)
    assert issubclass(TFRecordError, VoxformerError)
    assert len(list(read_tfrecord(path, verify=False))) == 3  # verification can be switched off


def test_flipped_length_byte_is_caught_by_length_crc(tmp_path):
    path, second = _three_records(tmp_path)
    data = bytearray(path.read_bytes())
    data[second] ^= 0x02
    path.write_bytes(bytes(data))
    with pytest.raises(TFRecordError, match=rf"record at offset {second}: length CRC"):
        list(read_tfrecord(path))


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_truncated_file_names_file_and_offset(tmp_path, cut):
    path, second = _three_records(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    third = second + len(b"second record, a bit longer") + 16
    with pytest.raises(TFRecordError, match=rf"three\.tfrecord: record at offset {third}: .*truncated"):
        list(read_tfrecord(path))


def test_header_cut_short(tmp_path):
    path = tmp_path / "header.tfrecord"
    write_tfrecord(path, [b"abc"])
    path.write_bytes(path.read_bytes() + struct.pack("<Q", 5)[:6])
    with pytest.raises(TFRecordError, match=r"record at offset 19: file ends inside the record header"):
        list(read_tfrecord(path))


@pytest.mark.parametrize("name", ["one_frame_labels_no_points.tfrecord", "truncated_frame.tfrecord"])
def test_real_records_pass_crc_checks(real_data, name):
    records = list(iter_tfrecord(real_data / "waymo" / name))
    assert len(records) == 1 and records[0][0] == 0 and len(records[0][1]) > 1000


def test_real_record_corrupted_and_cut_short(real_data, tmp_path):
    original = (real_data / "waymo" / "truncated_frame.tfrecord").read_bytes()
    flipped = bytearray(original * 2)  # two records; corrupt the second one's payload
    flipped[len(original) + 100] ^= 0x40
    (tmp_path / "flipped.tfrecord").write_bytes(bytes(flipped))
    with pytest.raises(TFRecordError, match=rf"flipped\.tfrecord: record at offset {len(original)}: payload CRC"):
        list(read_tfrecord(tmp_path / "flipped.tfrecord"))
    (tmp_path / "cut.tfrecord").write_bytes(original[: len(original) // 2])
    with pytest.raises(TFRecordError, match=r"cut\.tfrecord: record at offset 0: .*truncated"):
        list(read_tfrecord(tmp_path / "cut.tfrecord"))
