"""TFRecord files without TensorFlow: reading with integrity checks, and writing.

A TFRecord file is a sequence of records, each framed as (all little-endian)::

    uint64  length                      payload size in bytes
    uint32  masked_crc32c(length bytes) checks the 8 length bytes
    bytes   payload[length]
    uint32  masked_crc32c(payload)      checks the payload

CRC32-C is the Castagnoli CRC (reflected polynomial 0x82F63B78, initial value and final xor
0xFFFFFFFF). The masked form is ``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` modulo 2**32.
Reading holds one record in memory at a time.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

_CASTAGNOLI_REFLECTED = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


class TFRecordError(VoxformerError):
    """A TFRecord file is corrupt or truncated; the message names the file and the record's byte offset."""


def _crc32c_tables() -> np.ndarray:
    """(8, 256) uint32 tables for slicing-by-8: row 0 is the CRC of each byte value; row k advances
    row k-1 by one more zero byte, so eight bytes are folded in with eight independent lookups."""
    tables = np.zeros((8, 256), dtype=np.uint32)
    row = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        row = np.where(row & 1, (row >> 1) ^ np.uint32(_CASTAGNOLI_REFLECTED), row >> 1).astype(np.uint32)
    tables[0] = row
    for k in range(1, 8):
        tables[k] = (tables[k - 1] >> 8) ^ tables[0][tables[k - 1] & 0xFF]
    return tables


def _crc32c_update(crc, data, tables):
    """Advance ``crc`` (pre-inverted uint32) over ``data`` (uint8 array): 8 bytes per step, then byte by byte."""
    n = data.shape[0]
    head = n - n % 8
    for i in range(0, head, 8):
        low = crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))
        crc = (
            tables[7][low & 0xFF]
            ^ tables[6][(low >> 8) & 0xFF]
            ^ tables[5][(low >> 16) & 0xFF]
            ^ tables[4][(low >> 24) & 0xFF]
            ^ tables[3][data[i + 4]]
            ^ tables[2][data[i + 5]]
            ^ tables[1][data[i + 6]]
            ^ tables[0][data[i + 7]]
        )
    for i in range(head, n):
        crc = tables[0][(crc ^ data[i]) & 0xFF] ^ (crc >> 8)
    return crc


@functools.cache
def _crc32c_kernel():
    """:func:`_crc32c_update` compiled with numba (a core dependency), cached on disk."""
    import numba

    return numba.njit(cache=True, nogil=True)(_crc32c_update)


_TABLES = _crc32c_tables()


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32-C (Castagnoli) of ``data`` as an unsigned 32-bit int; ``crc32c(b"123456789") == 0xE3069283``."""
    array = np.frombuffer(data, dtype=np.uint8)
    return int(_crc32c_kernel()(np.uint32(0xFFFFFFFF), array, _TABLES)) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """The masked CRC32-C that TFRecord stores: rotate right by 15 bits, then add 0xA282EAD8 (mod 2**32)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def iter_tfrecord(path: str | os.PathLike, verify: bool = True) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for each record of ``path``; ``offset`` is the record's first byte.

    With ``verify`` (the default) both CRCs are checked. A bad CRC, a length beyond the end of the
    file or a record cut short raises :class:`TFRecordError` naming the file and the offset; a missing
    file raises it too.
    """
    path = Path(path)
    if not path.is_file():
        raise TFRecordError(f"{path}: TFRecord file not found")
    size = path.stat().st_size
    with open(path, "rb") as stream:
        offset = 0
        while offset < size:
            header = stream.read(_HEADER.size)
            if len(header) < _HEADER.size:
                raise TFRecordError(
                    f"{path}: record at offset {offset}: file ends inside the record header "
                    f"({len(header)} of {_HEADER.size} bytes); the file is truncated"
                )
            length, length_crc = _HEADER.unpack(header)
            if verify and masked_crc32c(header[:8]) != length_crc:
                raise TFRecordError(f"{path}: record at offset {offset}: length CRC mismatch; the file is corrupt")
            end = offset + _HEADER.size + length + _FOOTER.size
            if end > size:
                raise TFRecordError(
                    f"{path}: record at offset {offset}: declares {length} payload bytes but the file ends "
                    f"{end - size} bytes short; the file is truncated"
                )
            payload = stream.read(length)
            (payload_crc,) = _FOOTER.unpack(stream.read(_FOOTER.size))
            if verify and masked_crc32c(payload) != payload_crc:
                raise TFRecordError(f"{path}: record at offset {offset}: payload CRC mismatch; the file is corrupt")
            yield offset, payload
            offset = end


def read_tfrecord(path: str | os.PathLike, verify: bool = True) -> Iterator[bytes]:
    """Yield the payload of each record of ``path`` (see :func:`iter_tfrecord`)."""
    for _, payload in iter_tfrecord(path, verify=verify):
        yield payload


def write_tfrecord(path: str | os.PathLike, payloads: Iterable[bytes]) -> None:
    """Write ``payloads`` as a TFRecord file, atomically (a temporary name in the same folder, then rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            for payload in payloads:
                length = struct.pack("<Q", len(payload))
                stream.write(length + struct.pack("<I", masked_crc32c(length)))
                stream.write(payload)
                stream.write(_FOOTER.pack(masked_crc32c(payload)))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
