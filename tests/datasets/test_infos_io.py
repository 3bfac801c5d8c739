import os
import pickle
import stat

import numpy as np
import pytest

from voxformer.datasets.infos import empty_annos, load_infos, load_pickle, save_infos
from voxformer.datasets.io import atomic_write_bytes, read_points, write_points
from voxformer.errors import VoxformerError


def _record(frame_id="000000"):
    annos = empty_annos()
    annos["boxes"] = np.ones((2, 7), np.float32)
    annos["names"] = np.array(["Car", "DontCare"])
    annos["num_points"] = np.array([3, -1], np.int32)
    annos["difficulty"] = np.array([0, -1], np.int32)
    return {
        "frame_id": frame_id,
        "lidar_path": "points/x.bin",
        "num_features": 4,
        "timestamp": None,
        "pose": np.eye(4),
        "annos": annos,
    }


def test_infos_round_trip(tmp_path):
    path = tmp_path / "x_infos_train.pkl"
    save_infos(path, [_record()], {"classes": ("Car",)})
    content = load_infos(path)
    assert content["metainfo"] == {"classes": ("Car",)}
    np.testing.assert_array_equal(content["data_list"][0]["annos"]["boxes"], np.ones((2, 7)))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


class _CallsSystem:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"data_list": [_CallsSystem()]}))
    with pytest.raises(VoxformerError, match=r"evil.pkl.*refusing to load (posix|os)\.system"):
        load_pickle(path)


def test_schema_errors_name_the_file(tmp_path):
    record = _record()
    record["annos"]["num_points"] = np.array([3], np.int32)
    with pytest.raises(VoxformerError, match=r"bad_infos.pkl.*'num_points' has 1 rows"):
        save_infos(tmp_path / "bad_infos.pkl", [record], {})
    assert not (tmp_path / "bad_infos.pkl").exists()


def test_read_points_round_trip_and_truncated_file(tmp_path):
    points = np.arange(20, dtype=np.float32).reshape(5, 4)
    write_points(tmp_path / "a.bin", points)
    np.testing.assert_array_equal(read_points(tmp_path / "a.bin", 4), points)
    (tmp_path / "cut.bin").write_bytes(points.tobytes()[:-6])
    with pytest.raises(VoxformerError, match=r"cut.bin: 74 bytes is not a whole number of points of 4"):
        read_points(tmp_path / "cut.bin", 4)
    with pytest.raises(VoxformerError, match="missing.bin: point file not found"):
        read_points(tmp_path / "missing.bin", 4)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):

    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "out.bin", object())
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_gives_the_permissions_of_a_plain_open(tmp_path):
    previous = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "out.label", b"\x00" * 8)
        (tmp_path / "plain.label").write_bytes(b"\x00" * 8)
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "out.label").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.label").stat().st_mode) == 0o644
