"""Malformed point files: every corruption of a valid file of each format either reads as finite
(N, 4) float32 points (or a model's finite (N, C) points) or raises a one-line VoxformerError naming
the file; nothing else escapes."""

import pathlib
import pickle
import struct
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxformer.apis.config import load_config
from voxformer.apis.point_files import EmptyScanWarning, read_model_points, read_point_file
from voxformer.errors import VoxformerError

POINTS = np.array(
    [[1.0, 2.0, 0.5, 0.25], [-3.5, 4.0, -1.0, 0.75], [10.0, -8.0, 2.0, 0.0], [0.1, 0.2, 0.3, 1.0], [5, 5, 5, 0.5],
     [-7, 0, 1, 0.125]],
    np.float32,
)  # 6 points: 96 bytes of kitti rows, 120 of nuScenes rows, sizes that fit one layout only
FIELDS_PCD = "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"


def _pcd(data_format: str) -> tuple[bytes, bytes]:
    header = f"{FIELDS_PCD}WIDTH 6\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 6\nDATA {data_format}\n".encode()
    if data_format == "ascii":
        return header, "".join(" ".join(f"{v:g}" for v in row) + "\n" for row in POINTS).encode()
    return header, POINTS.astype("<f4").tobytes()


def _ply(data_format: str) -> tuple[bytes, bytes]:
    properties = "".join(f"property float {name}\n" for name in ("x", "y", "z", "intensity"))
    header = f"ply\nformat {data_format} 1.0\ncomment made by hand\nelement vertex 6\n{properties}end_header\n"
    if data_format == "ascii":
        return header.encode(), "".join(" ".join(f"{v:g}" for v in row) + "\n" for row in POINTS).encode()
    return header.encode(), POINTS.astype("<f4" if data_format == "binary_little_endian" else ">f4").tobytes()


def _npy(array: np.ndarray) -> tuple[bytes, bytes]:
    """A version 1.0 ``.npy`` file; an object array's body is its pickle, as ``np.save`` writes it."""
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": array.shape}
    text = repr(header).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    body = pickle.dumps(array) if array.dtype.hasobject else array.tobytes()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text, body


NUSCENES = np.c_[POINTS[:, :3], POINTS[:, 3] * 255, np.arange(6)].astype(np.float32)
SEEDS = {  # name: (header, body)
    "kitti.bin": (b"", POINTS.tobytes()),
    "LIDAR_TOP_0.pcd.bin": (b"", NUSCENES.tobytes()),
    "float32.npy": _npy(POINTS),
    "float64_5.npy": _npy(NUSCENES.astype(np.float64)),
    "objects.npy": _npy(np.array([[{"x": 1}, None, "a", 2]], dtype=object)),
    "ascii.pcd": _pcd("ascii"),
    "binary.pcd": _pcd("binary"),
    "ascii.ply": _ply("ascii"),
    "little.ply": _ply("binary_little_endian"),
    "big.ply": _ply("binary_big_endian"),
}
CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"
MODEL_CONFIGS = {name: load_config(CONFIGS / "dsvt" / f"dsvt_pillar_{name}.py") for name in ("nuscenes", "waymo")}
HEADER_WORDS = ["-1", "0", "1", "3", "999999999", "1e9", "nan", "abc", "", "x", "F", "U", "binary_compressed", "\x00"]


@st.composite
def corruptions(draw, header: bytes, body: bytes) -> bytes:
    """A valid file truncated, with bytes flipped, inserted or deleted, a header word replaced or a header
    line dropped, or random bytes."""
    seed, size = header + body, len(header + body)
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "header" if header else "flip", "random"]))
    if kind == "truncate":
        return seed[: draw(st.integers(0, size - 1))]
    if kind == "flip":
        data = bytearray(seed)
        for position in draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=8)):
            data[position] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "insert":
        position = draw(st.integers(0, size))
        return seed[:position] + draw(st.binary(min_size=1, max_size=24)) + seed[position:]
    if kind == "delete":
        start = draw(st.integers(0, size - 1))
        return seed[:start] + seed[start + draw(st.integers(1, 24)) :]
    if kind == "header":
        lines = header.split(b"\n")
        line = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            words = lines[line].split(b" ")
            word = draw(st.sampled_from(HEADER_WORDS) | st.text(max_size=6))
            words[draw(st.integers(0, len(words) - 1))] = word.encode("utf-8")
            lines[line] = b" ".join(words)
        else:
            del lines[line]
        return b"\n".join(lines) + body
    return draw(st.binary(max_size=300))


def _check(path, point_format, model_config=None):
    """Read ``path`` (as a model of ``model_config`` would, when given): finite (N, 4) float32 points
    ((N, C) for a model), or a VoxformerError naming it on one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a numeric warning would be a case the reader does not handle
            warnings.simplefilter("ignore", EmptyScanWarning)
            if model_config is None:
                points = read_point_file(path, point_format)
            else:
                points = read_model_points(path, MODEL_CONFIGS[model_config], point_format).numpy()
    except VoxformerError as error:
        message = str(error)
        assert str(path) in message and "\n" not in message, message
        return
    assert isinstance(points, np.ndarray) and points.dtype == np.float32
    columns = 4 if model_config is None else 5
    assert points.ndim == 2 and points.shape[1] == columns and np.isfinite(points).all()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_files_are_valid(folder, name):
    path = folder / name
    path.write_bytes(b"".join(SEEDS[name]))
    if name == "objects.npy":
        with pytest.raises(VoxformerError, match="objects.npy: holds an array of Python objects"):
            read_point_file(path)
        return
    points = read_point_file(path)
    np.testing.assert_allclose(points[:, :3], POINTS[:, :3], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SEEDS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), point_format=st.sampled_from([None, None, "kitti", "nuscenes", "waymo", 3, 6]))
def test_corrupted_files_parse_or_raise_a_named_error(folder, name, data, point_format):
    path = folder / f"corrupt_{name}"
    path.write_bytes(data.draw(corruptions(*SEEDS[name])))
    _check(path, point_format)


@pytest.mark.parametrize("name", sorted(SEEDS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), point_format=st.sampled_from([None, None, "kitti", "waymo", 5]),
       model_config=st.sampled_from(sorted(MODEL_CONFIGS)))
def test_corrupted_files_give_a_models_points_or_a_named_error(folder, name, data, point_format, model_config):
    path = folder / f"model_{name}"
    path.write_bytes(data.draw(corruptions(*SEEDS[name])))
    _check(path, point_format, model_config)


def test_huge_intensities_rewritten_for_a_model_stay_finite(folder):
    rows = POINTS.copy()
    rows[:, 3] = 3e38  # as stored in a kitti row; times 255 would overflow
    rows.tofile(folder / "huge.bin")
    points = read_model_points(folder / "huge.bin", MODEL_CONFIGS["nuscenes"], "kitti")
    assert torch.isfinite(points).all() and (points[:, 3] == 1).all()
