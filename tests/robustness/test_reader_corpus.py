"""Malformed inputs for every reader of labels, calibrations, tables, records, infos, checkpoints and results.

Each test starts from a valid file (written here with the project's own writers, or a real sample
copied from ``../shared/data/real`` when present), corrupts it with hypothesis, and reads it back:
the reader must either return a result or raise :class:`VoxformerError` whose message names the
file. Any other exception fails the test.
"""

import builtins
import json
import os
import pickle
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxformer.commands.evaluate import read_kitti_objects
from voxformer.commands.vis import read_boxes_json
from voxformer.datasets.formats import nuscenes, waymo
from voxformer.datasets.formats.kitti import read_calib, read_label
from voxformer.datasets.formats.tfrecord import write_tfrecord
from voxformer.datasets.formats.waymo_converter import convert_segment
from voxformer.datasets.formats.waymo_frame_proto import frame_messages
from voxformer.datasets.infos import empty_annos, load_infos, save_infos, save_pickle
from voxformer.engine.safe_checkpoint import load_checkpoint_file
from voxformer.errors import VoxformerError
from voxformer.evaluation.nuscenes_results import read_results
from voxformer.evaluation.waymo_proto import WaymoObjects, read_objects, write_objects

CORPUS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- corruptions ----------------------------------------------------------------------------------
WORDS = ["", "nan", "inf", "-1e400", "abc", "0x1F", "1,5", "Car", "DontCare", "Tram", "\u00e9", "--", "1e5"]
ODD_VALUES = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x", [], [1, 2], {}, {"token": 1}]


@st.composite
def corrupted_bytes(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes changed, inserted or deleted, or replaced by garbage."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "garbage"]))
    if kind == "garbage" or not data:
        return draw(st.binary(max_size=512))
    position = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        return data[:position]
    if kind == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=16)) + data[position:]
    if kind == "delete":
        return data[:position] + data[position + draw(st.integers(1, 16)) :]
    out = bytearray(data)
    for index in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        out[index] ^= draw(st.integers(1, 255))
    return bytes(out)


@st.composite
def corrupted_text(draw, text: str) -> bytes:
    """Whitespace-separated ``text`` with a field replaced, dropped or added, a line dropped or
    doubled, emptied, or corrupted byte-wise."""
    lines = text.splitlines()
    kind = draw(st.sampled_from(["replace", "drop_field", "add_field", "drop_line", "double_line", "empty", "bytes"]))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"   \n\t\n"]))
    if kind == "bytes":
        return draw(corrupted_bytes(text.encode()))
    row = draw(st.sampled_from([index for index, line in enumerate(lines) if line.split()]))
    fields = lines[row].split()
    column = draw(st.integers(0, len(fields) - 1))
    if kind == "replace":
        fields[column] = draw(st.sampled_from(WORDS) | st.text(max_size=6))
    elif kind == "drop_field":
        del fields[column]
    elif kind == "add_field":
        fields.insert(column, draw(st.sampled_from(WORDS)))
    elif kind == "drop_line":
        fields = []
    else:
        lines.insert(row, lines[row])
    lines[row] = " ".join(fields)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@st.composite
def corrupted_json(draw, content):
    """JSON-able ``content`` with one value somewhere replaced or deleted, serialised (or a text-level
    corruption of its serialisation)."""
    if draw(st.booleans()):
        return draw(corrupted_bytes(json.dumps(content).encode()))
    content = json.loads(json.dumps(content))
    holder, key = None, None
    node = content
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)):
        holder = node
        key = draw(st.sampled_from(sorted(node)) if isinstance(node, dict) else st.integers(0, len(node) - 1))
        node = node[key]
    if holder is None:
        return json.dumps(draw(st.sampled_from(ODD_VALUES))).encode()
    if isinstance(holder, dict) and draw(st.booleans()):
        del holder[key]
    else:
        holder[key] = draw(st.sampled_from(ODD_VALUES))
    return json.dumps(content).encode()


def parses_or_names(read, path, named=None):
    """``read(path)``'s result, or None after a :class:`VoxformerError` naming ``named`` (default ``path``)."""
    try:
        return read(path)
    except VoxformerError as error:
        assert str(named or path) in str(error), str(error)
        return None


# -- KITTI labels, results and calibration --------------------------------------------------------
KITTI_LABEL = """Car 0.00 0 1.85 387.63 181.54 423.81 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57
Pedestrian 0.00 1 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01
DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10
"""
KITTI_CALIB = (
    "P0: 7.07e+02 0 6.04e+02 0 0 7.07e+02 1.80e+02 0 0 0 1 0\n"
    "P2: 7.07e+02 0 6.04e+02 4.57e+01 0 7.07e+02 1.80e+02 -3.4e-01 0 0 1 4.98e-03\n"
    "R0_rect: 0.9999 0.0098 -0.0074 -0.0099 0.9999 -0.0043 0.0074 0.0044 1.0\n"
    "Tr_velo_to_cam: 0.0075 -0.9999 -0.0006 -0.0040 0.0148 0.0007 -0.9999 -0.0763 0.9999 0.0075 0.0148 -0.2717\n"
)


def kitti_text(request, name: str, written: str) -> str:
    """The label or calib text written above, or the real frame 000001's (skipped when absent)."""
    if request.param == "written":
        return written
    real = request.getfixturevalue("real_data") / "kitti" / "training" / name / "000001.txt"
    return real.read_text()


def write_drawn(path, data, strategy):
    """Write the bytes drawn from ``strategy`` to ``path``; returns the path."""
    path.write_bytes(data.draw(strategy))
    return path


@pytest.fixture(params=["written", "real"])
def label_text(request):
    return kitti_text(request, "label_2", KITTI_LABEL)


@pytest.fixture(params=["written", "real"])
def calib_text(request):
    return kitti_text(request, "calib", KITTI_CALIB)


@CORPUS
@given(data=st.data())
def test_kitti_labels(tmp_path, label_text, data):
    path = write_drawn(tmp_path / "000001.txt", data, corrupted_text(label_text))
    label = parses_or_names(read_label, path)
    if label is not None:
        assert {len(value) for value in label.values()} == {len(label["names"])}
    objects = parses_or_names(lambda p: read_kitti_objects(p, with_score=False), path)
    if objects is not None:
        assert objects["boxes_lidar"].shape == (len(objects["name"]), 7)


@CORPUS
@given(data=st.data())
def test_kitti_results(tmp_path, data):
    scored = "\n".join(f"{line} 0.{index + 5}" for index, line in enumerate(KITTI_LABEL.splitlines()))
    path = write_drawn(tmp_path / "000001.txt", data, corrupted_text(scored))
    objects = parses_or_names(lambda p: read_kitti_objects(p, with_score=True), path)
    if objects is not None:
        assert objects["score"].shape == (len(objects["name"]),)


@CORPUS
@given(data=st.data())
def test_kitti_calib(tmp_path, calib_text, data):
    path = write_drawn(tmp_path / "000001.txt", data, corrupted_text(calib_text))
    calib = parses_or_names(read_calib, path)
    if calib is not None:
        assert np.isfinite(calib.rect_to_lidar(np.ones((1, 3)))).all()


def test_kitti_calib_reports_missing_matrix_and_wrong_count(tmp_path):
    path = tmp_path / "000002.txt"
    path.write_text(KITTI_CALIB.replace("R0_rect", "R1_rect"))
    with pytest.raises(VoxformerError, match=r"000002.txt: calib has no R0_rect matrix"):
        read_calib(path)
    path.write_text(KITTI_CALIB.replace("0.9999 0.0098", "0.9999"))
    with pytest.raises(VoxformerError, match=r"000002.txt:3: R0_rect has 8 numbers, expected 9"):
        read_calib(path)


# -- nuScenes tables ------------------------------------------------------------------------------
def nuscenes_tables() -> dict[str, list[dict]]:
    """One scene of two samples with LiDAR key frames, a sweep and one annotated car."""
    pose = {"rotation": [1.0, 0.0, 0.0, 0.0], "translation": [0.0, 0.0, 1.8]}
    data = [
        ("sd-0", "s-0", 0, True, ""),
        ("sd-1", "s-1", 250_000, False, "sd-0"),
        ("sd-2", "s-1", 500_000, True, "sd-1"),
    ]
    annotation = {
        "instance_token": "i-0",
        "attribute_tokens": ["a-0"],
        "translation": [10.0, 2.0, 0.5],
        "size": [1.9, 4.5, 1.6],
        "rotation": [0.9, 0.0, 0.0, 0.43],
        "num_lidar_pts": 12,
        "num_radar_pts": 1,
    }
    return {
        "sample": [
            {"token": "s-0", "timestamp": 0, "scene_token": "sc-0", "prev": "", "next": "s-1"},
            {"token": "s-1", "timestamp": 500_000, "scene_token": "sc-0", "prev": "s-0", "next": ""},
        ],
        "sample_data": [
            {
                "token": token,
                "sample_token": sample,
                "ego_pose_token": f"e-{token}",
                "calibrated_sensor_token": "cs-0",
                "timestamp": time,
                "is_key_frame": key,
                "filename": f"samples/LIDAR_TOP/{token}.pcd.bin",
                "prev": prev,
            }
            for token, sample, time, key, prev in data
        ],
        "sample_annotation": [
            {**annotation, "token": "an-0", "sample_token": "s-0", "prev": "", "next": "an-1"},
            {**annotation, "token": "an-1", "sample_token": "s-1", "prev": "an-0", "next": ""},
        ],
        "ego_pose": [{"token": f"e-{token}", **pose} for token, *_ in data],
        "calibrated_sensor": [{"token": "cs-0", "sensor_token": "lidar", **pose}],
        "sensor": [{"token": "lidar", "channel": "LIDAR_TOP"}],
        "instance": [{"token": "i-0", "category_token": "c-0"}],
        "category": [{"token": "c-0", "name": "vehicle.car"}],
        "attribute": [{"token": "a-0", "name": "vehicle.moving"}],
        "scene": [{"token": "sc-0", "name": "scene-0061", "first_sample_token": "s-0"}],
    }


def write_nuscenes(root, tables):
    folder = root / "v1.0-mini"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, rows in tables.items():
        (folder / f"{name}.json").write_text(json.dumps(rows))
    return folder


@CORPUS
@given(data=st.data(), table=st.sampled_from(nuscenes.TABLES))
def test_nuscenes_tables(tmp_path, data, table):
    tables = nuscenes_tables()
    folder = write_nuscenes(tmp_path, tables)
    (folder / f"{table}.json").write_bytes(data.draw(corrupted_json(tables[table])))
    records = parses_or_names(lambda root: nuscenes.create_nuscenes_infos(root, "v1.0-mini"), tmp_path, folder)
    if records is not None:
        assert all(record["annos"]["boxes"].shape[1] == 9 for record in records["train"])


def test_nuscenes_reports_file_row_and_key(tmp_path):
    tables = nuscenes_tables()
    records = nuscenes.create_nuscenes_infos(write_nuscenes(tmp_path, tables).parent, "v1.0-mini")
    assert [len(record["annos"]["boxes"]) for record in records["train"]] == [1, 1]
    del tables["sample_annotation"][1]["size"]
    write_nuscenes(tmp_path, tables)
    with pytest.raises(VoxformerError, match=r"sample_annotation.json: row 1: 'size' is missing"):
        nuscenes.create_nuscenes_infos(tmp_path, "v1.0-mini")
    tables = nuscenes_tables()
    tables["instance"][0]["category_token"] = "c-9"
    folder = write_nuscenes(tmp_path, tables)
    with pytest.raises(VoxformerError, match=r"instance.json: row 'i-0': category_token 'c-9' is not a token of"):
        nuscenes.create_nuscenes_infos(tmp_path, "v1.0-mini")
    (folder / "sample.json").write_text('[{"token": ')
    with pytest.raises(VoxformerError, match=r"sample.json: not valid JSON"):
        nuscenes.create_nuscenes_infos(tmp_path, "v1.0-mini")


def test_nuscenes_sample_loop_is_reported(tmp_path):
    tables = nuscenes_tables()
    tables["sample"][1]["next"] = "s-0"
    write_nuscenes(tmp_path, tables)
    with pytest.raises(VoxformerError, match=r"sample.json: the 'next' links of scene-0061 form a loop"):
        nuscenes.create_nuscenes_infos(tmp_path, "v1.0-mini")


# -- Waymo records, frames and metrics.Objects ----------------------------------------------------
def waymo_frame(timestamp: int = 1_000_000):
    """A small Frame: TOP laser with a table of 4 inclinations, both returns, a pixel pose, two labels."""
    rng = np.random.default_rng(timestamp)
    frame = frame_messages()["Frame"]()
    frame.context.name = "corpus_segment"
    frame.timestamp_micros = timestamp
    frame.pose.transform.extend(np.eye(4).ravel().tolist())
    calibration = frame.context.laser_calibrations.add(name=1)
    calibration.beam_inclinations.extend([-0.3, -0.1, 0.0, 0.05])
    calibration.extrinsic.transform.extend(np.eye(4).ravel().tolist())
    laser = frame.lasers.add(name=1)
    for image in (laser.ri_return1, laser.ri_return2):
        image.range_image_compressed = waymo.encode_matrix(rng.uniform(-1, 50, (4, 6, 4)).astype(np.float32))
    laser.ri_return1.range_image_pose_compressed = waymo.encode_matrix(np.zeros((4, 6, 6), np.float32))
    for kind in (1, 2):
        label = frame.laser_labels.add(type=kind, id=f"object-{kind}")
        label.box.center_x, label.box.length, label.box.width, label.box.height = 5.0 * kind, 4.0, 2.0, 1.5
        label.num_lidar_points_in_box = 10
    return frame


def _frame_edits():
    """Edits that keep a frame decodable but make its content wrong (each a no-op once its part is gone)."""
    encode = waymo.encode_matrix

    def each_calibration(edit):
        return lambda frame: [edit(calibration) for calibration in frame.context.laser_calibrations]

    def each_laser(part, field, value):
        return lambda frame: [setattr(getattr(laser, part), field, value) for laser in frame.lasers]

    return {
        "short extrinsic": each_calibration(lambda c: c.extrinsic.transform.pop()),
        "extra inclination": each_calibration(lambda c: c.beam_inclinations.append(0.1)),
        "no inclinations": each_calibration(lambda c: c.ClearField("beam_inclinations")),
        "no calibration": lambda frame: frame.context.ClearField("laser_calibrations"),
        "no lasers": lambda frame: frame.ClearField("lasers"),
        "flat image": each_laser("ri_return1", "range_image_compressed", encode(np.ones((4, 6)))),
        "image of 2 channels": each_laser("ri_return2", "range_image_compressed", encode(np.ones((4, 6, 2)))),
        "empty image": each_laser("ri_return2", "range_image_compressed", b""),
        "not zlib": each_laser("ri_return1", "range_image_compressed", b"\x00garbage"),
        "pose of other size": each_laser("ri_return1", "range_image_pose_compressed", encode(np.zeros((3, 6, 6)))),
        "pose of 3 channels": each_laser("ri_return1", "range_image_pose_compressed", encode(np.zeros((4, 6, 3)))),
        "sign label": lambda frame: setattr(frame.laser_labels[0], "type", 3),
    }


FRAME_EDITS = _frame_edits()


@CORPUS
@given(data=st.data())
def test_waymo_tfrecord_bytes(tmp_path, data):
    path = tmp_path / "segment-corpus.tfrecord"
    write_tfrecord(path, [waymo_frame(t).SerializeToString() for t in (1_000_000, 1_100_000)])
    path.write_bytes(data.draw(corrupted_bytes(path.read_bytes())))
    records = parses_or_names(lambda p: convert_segment(p, tmp_path / "out", lasers=("TOP",)), path)
    if records is not None:
        assert all(record["annos"]["boxes"].shape[1] == 7 for record in records)


@CORPUS
@given(data=st.data(), edits=st.lists(st.sampled_from(sorted(FRAME_EDITS)), max_size=3, unique=True))
def test_waymo_frames(tmp_path, data, edits):
    frame = waymo_frame()
    for edit in edits:
        FRAME_EDITS[edit](frame)
    payload = frame.SerializeToString()
    if data.draw(st.booleans()):
        payload = data.draw(corrupted_bytes(payload))
    path = tmp_path / "segment-corpus.tfrecord"
    write_tfrecord(path, [payload])
    parses_or_names(lambda p: convert_segment(p, tmp_path / "out", lasers=("TOP",)), path)


@CORPUS
@given(data=st.data())
def test_waymo_real_record_bytes(tmp_path, real_data, data):
    path = tmp_path / "segment-real.tfrecord"
    path.write_bytes(data.draw(corrupted_bytes((real_data / "waymo" / "truncated_frame.tfrecord").read_bytes())))
    parses_or_names(lambda p: convert_segment(p, tmp_path / "out", lasers=("TOP",)), path)


def waymo_objects_bytes(tmp_path) -> bytes:
    rng = np.random.default_rng(0)
    objects = WaymoObjects(
        boxes=np.c_[rng.normal(size=(4, 3)), rng.uniform(1, 4, (4, 3)), rng.uniform(-3, 3, 4)],
        types=np.array([1, 2, 3, 4]),
        scores=rng.uniform(size=4),
        difficulty=np.array([0, 1, 2, 0]),
        num_points=np.array([0, 5, 9, 100]),
        overlap_with_nlz=np.array([False, True, False, False]),
        frames=np.array([0, 0, 1, 1]),
        frame_keys=[("segment-a", 100), ("segment-a", 200)],
    )
    write_objects(tmp_path / "seed.bin", objects)
    return (tmp_path / "seed.bin").read_bytes()


@pytest.fixture(params=["written", "real"])
def objects_bytes(request, tmp_path):
    if request.param == "written":
        return waymo_objects_bytes(tmp_path)
    return (request.getfixturevalue("real_data") / "waymo" / "fake_predictions.bin").read_bytes()


@CORPUS
@given(data=st.data())
def test_waymo_objects(tmp_path, objects_bytes, data):
    path = tmp_path / "objects.bin"
    path.write_bytes(data.draw(corrupted_bytes(objects_bytes)))
    objects = parses_or_names(read_objects, path)
    if objects is not None:
        assert objects.boxes.shape == (len(objects), 7) and len(objects.frames) == len(objects)


# -- info pickles ---------------------------------------------------------------------------------
def info_content() -> dict:
    annos = empty_annos()
    annos.update(
        boxes=np.ones((2, 7), np.float32),
        names=np.array(["Car", "DontCare"]),
        num_points=np.array([3, -1], np.int32),
        difficulty=np.array([0, -1], np.int32),
    )
    record = {
        "frame_id": "000000",
        "lidar_path": "points/000000.bin",
        "num_features": 4,
        "timestamp": 0.5,
        "pose": np.eye(4),
        "annos": annos,
    }
    return {"metainfo": {"classes": ("Car",)}, "data_list": [record, dict(record, frame_id="000001", pose=None)]}


# Values of any type an info file might wrongly hold.
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4) | st.sampled_from([np.zeros(3)]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@CORPUS
@given(data=st.data())
def test_info_pickle_bytes(tmp_path, data):
    path = tmp_path / "x_infos_train.pkl"
    content = info_content()
    save_infos(path, content["data_list"], content["metainfo"])
    path.write_bytes(data.draw(corrupted_bytes(path.read_bytes())))
    parses_or_names(load_infos, path)


@CORPUS
@given(data=st.data())
def test_info_schema(tmp_path, data):
    content = info_content()
    node = content
    holder, key = None, None
    while isinstance(node, dict | list) and node and (holder is None or data.draw(st.booleans())):
        holder = node
        key = data.draw(st.sampled_from(sorted(node)) if isinstance(node, dict) else st.integers(0, len(node) - 1))
        node = node[key]
    holder[key] = data.draw(ANY_VALUE)
    path = tmp_path / "x_infos_train.pkl"
    save_pickle(path, content)
    loaded = parses_or_names(load_infos, path)
    if loaded is not None:
        for record in loaded["data_list"]:
            assert {len(value) for value in record["annos"].values()} == {len(record["annos"]["boxes"])}


# Callables a crafted pickle may try to run; each would leave a marker file behind.
def _attacks(marker):
    return [
        (os.system, (f"touch {marker}",)),
        (subprocess.call, (["touch", str(marker)],)),
        (builtins.exec, (f"open({str(marker)!r}, 'w').close()",)),
        (builtins.open, (str(marker), "w")),
    ]


class Crafted:
    """An object whose unpickling calls ``function(*arguments)``."""

    def __init__(self, function, arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def nest(value, path):
    """``value`` placed at ``path`` (a list of dict keys / list markers) inside plain containers."""
    for step in reversed(path):
        value = [value] if step is None else {step: value}
    return value


CRAFTED_PLACES = st.lists(st.sampled_from([None, "data_list", "annos", "state_dict", "meta"]), max_size=3)


@CORPUS
@given(attack=st.integers(0, 3), place=CRAFTED_PLACES)
def test_crafted_info_pickle_is_refused(tmp_path, attack, place):
    marker = tmp_path / "ran"
    path = tmp_path / "x_infos_train.pkl"
    path.write_bytes(pickle.dumps(nest(Crafted(*_attacks(marker)[attack]), place)))
    with pytest.raises(VoxformerError, match=rf"{re.escape(str(path))}: not a valid info pickle: .*refusing"):
        load_infos(path)
    assert not marker.exists()


# -- checkpoints ----------------------------------------------------------------------------------
def checkpoint_bytes(tmp_path) -> bytes:
    checkpoint = {"meta": {"epoch": 3, "seed": np.int64(1)}, "state_dict": {"w": torch.ones(3), "b": torch.zeros(2)}}
    torch.save(checkpoint, tmp_path / "seed.pth")
    return (tmp_path / "seed.pth").read_bytes()


@CORPUS
@given(data=st.data())
def test_checkpoint_bytes(tmp_path, data):
    path = tmp_path / "epoch_3.pth"
    path.write_bytes(data.draw(corrupted_bytes(checkpoint_bytes(tmp_path))))
    checkpoint = parses_or_names(load_checkpoint_file, path)
    if checkpoint is not None:
        assert all(isinstance(value, torch.Tensor) for value in checkpoint.get("state_dict", {}).values())


@CORPUS
@given(attack=st.integers(0, 3), place=CRAFTED_PLACES)
def test_crafted_checkpoint_is_refused(tmp_path, attack, place):
    marker = tmp_path / "ran"
    path = tmp_path / "epoch_1.pth"
    torch.save({"state_dict": {}, "meta": nest(Crafted(*_attacks(marker)[attack]), place)}, path)
    with pytest.raises(VoxformerError, match=rf"refusing to load checkpoint {re.escape(str(path))}"):
        load_checkpoint_file(path)
    assert not marker.exists()


WEIGHT_VALUES = ANY_VALUE | st.sampled_from([torch.ones(2), torch.zeros((), dtype=torch.int64)])


@CORPUS
@given(
    wrapper=st.sampled_from(["state_dict", "model_state"]),
    weights=WEIGHT_VALUES | st.dictionaries(st.text(max_size=4) | st.integers(), WEIGHT_VALUES, max_size=3),
)
def test_checkpoint_of_wrong_types(tmp_path, wrapper, weights):
    path = tmp_path / "epoch_1.pth"
    torch.save({wrapper: weights, "meta": {"epoch": 1}}, path)
    checkpoint = parses_or_names(load_checkpoint_file, path)
    if checkpoint is not None:
        assert all(isinstance(name, str) for name in checkpoint[wrapper])
        assert all(isinstance(value, torch.Tensor) for value in checkpoint[wrapper].values())


# -- prediction JSON ------------------------------------------------------------------------------
NUSCENES_RESULTS = {
    "meta": {"use_lidar": True},
    "results": {
        "s-0": [
            {
                "sample_token": "s-0",
                "translation": [10.0, 2.0, 0.5],
                "size": [1.9, 4.5, 1.6],
                "rotation": [0.9, 0.0, 0.0, 0.43],
                "velocity": [1.0, 0.0],
                "detection_name": "car",
                "detection_score": 0.8,
                "attribute_name": "vehicle.moving",
            }
        ],
        "s-1": [],
    },
}
INFER_JSON = {"boxes_3d": [[1, 2, 0, 4, 2, 1.5, 0.1], [5, 5, 0, 1, 1, 1, 0]], "scores_3d": [0.9, 0.2], "names": []}


@CORPUS
@given(data=st.data())
def test_nuscenes_results_json(tmp_path, data):
    path = write_drawn(tmp_path / "results_nusc.json", data, corrupted_json(NUSCENES_RESULTS))
    results = parses_or_names(read_results, path)
    if results is not None:
        assert all(isinstance(boxes, list) for boxes in results.values())


@CORPUS
@given(data=st.data())
def test_infer_json(tmp_path, data):
    path = write_drawn(tmp_path / "scan.json", data, corrupted_json(INFER_JSON))
    boxes = parses_or_names(read_boxes_json, path)
    if boxes is not None:
        assert boxes[0].ndim == 2 and boxes[0].shape[1] >= 7
