"""Waymo v1 frames: synthetic Frame records written and read back, and the real sample records."""

import math
from pathlib import Path

import numpy as np
import pytest

from voxformer.datasets.formats import waymo
from voxformer.datasets.formats.tfrecord import read_tfrecord, write_tfrecord
from voxformer.datasets.formats.waymo_frame_proto import frame_messages

TOP_ROWS, TOP_COLS = 8, 40
FRONT_ROWS, FRONT_COLS = 4, 12
TOP_INCLINATIONS = np.radians([-17.6, -12.0, -8.5, -5.0, -2.9, -1.1, 0.4, 2.4])  # ascending, non-uniform
FRONT_MIN, FRONT_MAX = math.radians(-90.0), math.radians(30.0)
TOP_YAW, TOP_TRANSLATION = 0.25, np.array([1.43, 0.1, 2.184])


def yaw_matrix(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rigid(rotation: np.ndarray, translation) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = rotation, translation
    return matrix


def random_range_image(rng, rows, cols, valid_fraction=0.6):
    image = np.zeros((rows, cols, 4), np.float32)
    valid = rng.random((rows, cols)) < valid_fraction
    image[..., 0] = np.where(valid, rng.uniform(2.0, 70.0, (rows, cols)), -1.0)
    image[..., 1] = rng.uniform(0.0, 5.0, (rows, cols))
    image[..., 2] = rng.uniform(0.0, 1.0, (rows, cols))
    image[..., 3] = -1.0
    return image


def expected_points(image, inclinations_ascending, yaw, translation):
    """Points of a yaw-only extrinsic, computed directly in the vehicle frame from the published convention:
    column c looks at azimuth pi - (c + 0.5) * 2 pi / W, row r at the (r+1)-th highest beam."""
    rows, cols = image.shape[:2]
    out = []
    for r in range(rows):
        for c in range(cols):
            distance = image[r, c, 0]
            if distance <= 0:
                continue
            elevation = inclinations_ascending[rows - 1 - r]
            azimuth = math.pi - (c + 0.5) * 2 * math.pi / cols
            direction = [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth)]
            direction.append(math.sin(elevation))
            xyz = translation + distance * np.array(direction)
            out.append([*xyz, math.tanh(image[r, c, 1]), image[r, c, 2]])
    return np.array(out, np.float32).reshape(-1, 5)


LABELS = [  # type, centre, length, width, height, heading, speed, points, difficulty
    (1, (10.0, -2.0, 0.9), 4.5, 1.9, 1.6, 3.5, (5.0, 0.5), 120, 0),
    (2, (-6.0, 3.0, 0.8), 0.9, 0.8, 1.8, -0.4, (1.0, -1.0), 4, 2),
    (4, (20.0, 8.0, 0.7), 1.8, 0.7, 1.7, 1.0, (0.0, 3.0), 30, 1),
    (0, (1.0, 1.0, 1.0), 1.0, 1.0, 1.0, 0.0, (0.0, 0.0), 3, 0),  # TYPE_UNKNOWN: dropped
    (3, (15.0, -9.0, 2.5), 0.1, 0.6, 0.6, -3.0, (0.0, 0.0), 40, 0),
]


def build_frame(images, top_pose_image=None, pose=None, labels=LABELS, timestamp=1_000_000, lasers=True):
    """A Frame message: TOP (table inclinations, yaw extrinsic) and FRONT (uniform) lasers with the given images."""
    messages = frame_messages()
    frame = messages["Frame"]()
    frame.context.name = "synthetic_segment"
    frame.timestamp_micros = timestamp
    frame.pose.transform.extend((np.eye(4) if pose is None else pose).ravel().tolist())
    top = frame.context.laser_calibrations.add(name=1)
    top.beam_inclinations.extend(TOP_INCLINATIONS.tolist())
    top.beam_inclination_min, top.beam_inclination_max = TOP_INCLINATIONS[0] - 0.01, TOP_INCLINATIONS[-1] + 0.01
    top.extrinsic.transform.extend(rigid(yaw_matrix(TOP_YAW), TOP_TRANSLATION).ravel().tolist())
    front = frame.context.laser_calibrations.add(name=2)
    front.beam_inclination_min, front.beam_inclination_max = FRONT_MIN, FRONT_MAX
    front.extrinsic.transform.extend(rigid(np.eye(3), [4.07, 0.0, 0.69]).ravel().tolist())
    for name, returns in images.items() if lasers else []:
        laser = frame.lasers.add(name=waymo.LASER_IDS[name])
        for index, image in enumerate(returns, start=1):
            target = laser.ri_return1 if index == 1 else laser.ri_return2
            target.range_image_compressed = waymo.encode_matrix(image)
        if name == "TOP" and top_pose_image is not None:
            laser.ri_return1.range_image_pose_compressed = waymo.encode_matrix(top_pose_image)
    for kind, centre, length, width, height, heading, speed, points, difficulty in labels:
        label = frame.laser_labels.add(type=kind, id=f"object-{len(frame.laser_labels)}")
        label.box.center_x, label.box.center_y, label.box.center_z = centre
        label.box.length, label.box.width, label.box.height, label.box.heading = length, width, height, heading
        label.metadata.speed_x, label.metadata.speed_y = speed
        label.num_lidar_points_in_box, label.num_top_lidar_points_in_box = points, points // 2
        label.detection_difficulty_level = difficulty
    return frame


@pytest.fixture
def images():
    rng = np.random.default_rng(3)
    return {
        "TOP": [random_range_image(rng, TOP_ROWS, TOP_COLS), random_range_image(rng, TOP_ROWS, TOP_COLS, 0.2)],
        "FRONT": [
            random_range_image(rng, FRONT_ROWS, FRONT_COLS),
            random_range_image(rng, FRONT_ROWS, FRONT_COLS, 0.1),
        ],
    }


def write_and_read(tmp_path, frames):
    path = tmp_path / "segment-synthetic.tfrecord"
    write_tfrecord(path, [frame.SerializeToString() for frame in frames])
    return [waymo.parse_frame(payload) for payload in read_tfrecord(path)]


def test_top_points_round_trip_through_tfrecord(tmp_path, images):
    (frame,) = write_and_read(tmp_path, [build_frame(images)])
    points = waymo.laser_points(frame, "TOP")
    expected = expected_points(images["TOP"][0], TOP_INCLINATIONS, TOP_YAW, TOP_TRANSLATION)
    assert points.dtype == np.float32 and points.shape == expected.shape and len(points) > 50
    np.testing.assert_allclose(points, expected, atol=1e-4)
    both = waymo.laser_points(frame, "TOP", returns=(1, 2))
    second = expected_points(images["TOP"][1], TOP_INCLINATIONS, TOP_YAW, TOP_TRANSLATION)
    np.testing.assert_allclose(both, np.concatenate([expected, second]), atol=1e-4)


def test_row_zero_is_the_highest_beam_and_columns_run_clockwise(tmp_path):
    image = np.full((TOP_ROWS, TOP_COLS, 4), -1.0, np.float32)
    quarter = TOP_COLS // 4
    image[0, quarter, :3] = (10.0, 0.0, 0.0)  # top beam, a quarter turn from the back: left of the laser
    image[TOP_ROWS - 1, 2 * quarter, :3] = (10.0, 0.0, 0.0)  # bottom beam, centre column: ahead of the laser
    (frame,) = write_and_read(tmp_path, [build_frame({"TOP": [image]})])
    left, ahead = waymo.laser_points(frame, "TOP")[:, :3] - TOP_TRANSLATION
    half_pixel = math.pi / TOP_COLS
    assert math.isclose(math.asin(left[2] / 10.0), TOP_INCLINATIONS[-1], abs_tol=1e-5)
    assert math.isclose(math.atan2(left[1], left[0]), math.pi / 2 - half_pixel, abs_tol=1e-5)
    assert math.isclose(math.asin(ahead[2] / 10.0), TOP_INCLINATIONS[0], abs_tol=1e-5)
    assert math.isclose(math.atan2(ahead[1], ahead[0]), -half_pixel, abs_tol=1e-5)


def test_uniform_inclinations_without_a_table(tmp_path, images):
    (frame,) = write_and_read(tmp_path, [build_frame(images)])
    points = waymo.laser_points(frame, "FRONT")
    step = (FRONT_MAX - FRONT_MIN) / FRONT_ROWS
    inclinations = FRONT_MIN + step * (np.arange(FRONT_ROWS) + 0.5)
    expected = expected_points(images["FRONT"][0], inclinations, 0.0, np.array([4.07, 0.0, 0.69]))
    np.testing.assert_allclose(points, expected, atol=1e-4)
    several = waymo.frame_points(frame, lasers=("TOP", "FRONT"))
    assert len(several) == len(waymo.laser_points(frame, "TOP")) + len(points)


def euler_pose(roll, pitch, yaw, translation):
    rx = np.array([[1, 0, 0], [0, math.cos(roll), -math.sin(roll)], [0, math.sin(roll), math.cos(roll)]])
    ry = np.array([[math.cos(pitch), 0, math.sin(pitch)], [0, 1, 0], [-math.sin(pitch), 0, math.cos(pitch)]])
    return rigid(yaw_matrix(yaw) @ ry @ rx, translation)


def test_pixel_pose_compensates_motion(tmp_path, images):
    angles, translation = (0.02, -0.03, 1.2), np.array([100.0, -50.0, 3.0])
    pose = euler_pose(*angles, translation)
    still = np.broadcast_to(np.array([*angles, *translation], np.float32), (TOP_ROWS, TOP_COLS, 6)).copy()
    moved = still.copy()
    shift = np.array([0.5, -0.2, 0.1])
    moved[..., 3:] += shift.astype(np.float32)
    top = {"TOP": images["TOP"][:1]}
    plain, same, shifted = (
        waymo.laser_points(frame, "TOP")
        for frame in write_and_read(
            tmp_path, [build_frame(top), build_frame(top, still, pose), build_frame(top, moved, pose)]
        )
    )
    np.testing.assert_allclose(same, plain, atol=2e-3)  # the pixel pose equals the frame pose: nothing moves
    np.testing.assert_allclose(
        shifted[:, :3] - plain[:, :3], np.broadcast_to(pose[:3, :3].T @ shift, plain[:, :3].shape), atol=2e-3
    )


def test_labels_become_boxes(tmp_path, images):
    (frame,) = write_and_read(tmp_path, [build_frame(images)])
    labels = waymo.frame_labels(frame)
    known = [entry for entry in LABELS if entry[0] != 0]
    assert labels.names.tolist() == ["Vehicle", "Pedestrian", "Cyclist", "Sign"]
    for row, (_, centre, length, width, height, heading, speed, points, difficulty) in enumerate(known):
        np.testing.assert_allclose(labels.boxes[row, :6], [*centre, length, width, height], rtol=1e-6)
        wrapped = labels.boxes[row, 6]
        assert -math.pi <= wrapped < math.pi
        assert math.isclose(math.cos(wrapped), math.cos(heading), abs_tol=1e-6)
        assert math.isclose(math.sin(wrapped), math.sin(heading), abs_tol=1e-6)
        np.testing.assert_allclose(labels.velocity[row], speed)
        assert labels.num_points[row] == points and labels.num_top_points[row] == points // 2
        assert labels.difficulty[row] == difficulty
    assert labels.ids.tolist() == ["object-0", "object-1", "object-2", "object-4"]
    assert waymo.frame_name(frame) == "synthetic_segment_1000000"


def test_frame_without_labels(tmp_path, images):
    (frame,) = write_and_read(tmp_path, [build_frame(images, labels=[])])
    labels = waymo.frame_labels(frame)
    assert labels.boxes.shape == (0, 7) and labels.velocity.shape == (0, 2) and len(labels.names) == 0


def test_missing_and_empty_laser_data_are_reported(tmp_path, images):
    no_lasers, top_only, empty_entries = write_and_read(
        tmp_path, [build_frame(images, lasers=False), build_frame({"TOP": images["TOP"][:1]}), build_frame({})]
    )
    with pytest.raises(waymo.WaymoDataError, match="no laser data at all"):
        waymo.laser_points(no_lasers)
    with pytest.raises(waymo.WaymoDataError, match="TOP return 2: the range image is empty"):
        waymo.laser_points(top_only, returns=(1, 2))
    with pytest.raises(waymo.WaymoDataError, match="no data for laser FRONT: the frame has data for TOP only"):
        waymo.laser_points(top_only, "FRONT")
    empty_entries.lasers.add()
    with pytest.raises(waymo.WaymoDataError, match="the range images are empty"):
        waymo.laser_points(empty_entries)
    with pytest.raises(waymo.WaymoDataError, match="unknown laser 'MIDDLE'"):
        waymo.laser_points(top_only, "MIDDLE")


def test_malformed_range_images_are_reported():
    with pytest.raises(waymo.WaymoDataError, match="not a zlib-compressed MatrixFloat"):
        waymo.decode_matrix(b"plainly not zlib", "TOP return 1")
    message = frame_messages()["MatrixFloat"](data=[1.0, 2.0, 3.0])
    message.shape.dims.extend([2, 2])
    import zlib

    with pytest.raises(waymo.WaymoDataError, match=r"3 values do not fill the declared shape \(2, 2\)"):
        waymo.decode_matrix(zlib.compress(message.SerializeToString()))
    with pytest.raises(waymo.WaymoDataError, match="not a Waymo v1 Frame"):
        waymo.parse_frame(b"\x0a\xff\xff")


def test_real_frame_with_labels_and_empty_range_images(real_data):
    (payload,) = read_tfrecord(real_data / "waymo" / "one_frame_labels_no_points.tfrecord")
    frame = waymo.parse_frame(payload)
    assert len(frame.laser_labels) == 75
    labels = waymo.frame_labels(frame)
    assert len(labels.boxes) == 75
    vehicles = labels.boxes[labels.names == "Vehicle"]
    assert len(vehicles) > 10 and np.median(vehicles[:, 3]) > np.median(vehicles[:, 4])  # length along heading
    top = next(c for c in frame.context.laser_calibrations if c.name == waymo.LASER_IDS["TOP"])
    inclinations = np.degrees(waymo.beam_inclinations(top, 64))
    assert len(inclinations) == 64 and np.all(np.diff(inclinations) > 0)
    assert -17.7 < inclinations[0] < -17.0 and 2.0 < inclinations[-1] < 2.6
    extrinsic = np.asarray(top.extrinsic.transform).reshape(4, 4)
    assert 2.0 < extrinsic[2, 3] < 2.4  # the TOP lidar sits about 2.2 m up
    with pytest.raises(waymo.WaymoDataError, match="the range images are empty"):
        waymo.laser_points(frame, "TOP")


def test_real_truncated_frame_without_laser_data(real_data):
    (payload,) = read_tfrecord(real_data / "waymo" / "truncated_frame.tfrecord")
    frame = waymo.parse_frame(payload)
    assert len(waymo.frame_labels(frame).boxes) == 18
    assert len(frame.context.laser_calibrations) == 5
    with pytest.raises(waymo.WaymoDataError, match="no laser data at all"):
        waymo.frame_points(frame)


# -- conversion --------------------------------------------------------------------------------------
def write_segments(root, images, layout):
    """layout: split folder -> number of two-frame segments."""
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for s in range(count):
            frames = [build_frame(images, timestamp=1_000_000 * (s + 1) + 100_000 * f) for f in range(2)]
            for frame in frames:
                frame.context.name = f"{folder}_{s}"
            write_tfrecord(root / folder / f"segment-{folder}_{s}.tfrecord", [f.SerializeToString() for f in frames])


@pytest.mark.parametrize("workers", [0, 2])
def test_convert_segments_resumably(tmp_path, images, workers):
    from voxformer.datasets.formats.waymo_converter import convert_waymo
    from voxformer.datasets.infos import load_infos
    from voxformer.datasets.io import read_points

    write_segments(tmp_path / "raw", images, {"training": 2, "validation": 1})
    messages = []
    written = convert_waymo(
        tmp_path / "raw", tmp_path / "out", workers=workers, lasers=("TOP", "FRONT"), log=messages.append
    )
    assert set(written) == {"train", "val"}
    train = load_infos(written["train"])
    assert [r["frame_id"] for r in train["data_list"]] == [
        "training_0_1000000",
        "training_0_1100000",
        "training_1_2000000",
        "training_1_2100000",
    ]
    record = train["data_list"][3]
    assert record["lidar_path"] == "waymo_points/segment-training_1/0001.bin" and record["frame_index"] == 1
    assert record["context_name"] == "training_1" and record["timestamp_micros"] == 2_100_000
    points = read_points(tmp_path / "out" / record["lidar_path"], record["num_features"])
    frame = build_frame(images)
    np.testing.assert_allclose(points, waymo.frame_points(frame, ("TOP", "FRONT"), (1, 2)), atol=1e-6)
    np.testing.assert_allclose(record["annos"]["boxes"], waymo.frame_labels(frame).boxes)
    assert len(load_infos(written["val"])["data_list"]) == 2
    assert any("[2/2] segment-training_" in message for message in messages)

    messages.clear()
    marker = tmp_path / "out" / "waymo_points" / "segment-training_0" / "0000.bin"
    before = marker.stat().st_mtime_ns
    convert_waymo(tmp_path / "raw", tmp_path / "out", workers=workers, log=messages.append)
    assert "2 segments, 2 already converted" in messages[0] and marker.stat().st_mtime_ns == before


def test_conversion_errors_name_segment_and_frame(tmp_path, images):
    from voxformer.datasets.formats.waymo_converter import convert_waymo
    from voxformer.errors import VoxformerError

    (tmp_path / "raw" / "training").mkdir(parents=True)
    frames = [build_frame(images), build_frame(images, lasers=False)]
    segment = tmp_path / "raw" / "training" / "segment-x.tfrecord"
    write_tfrecord(segment, [f.SerializeToString() for f in frames])
    second = len(frames[0].SerializeToString()) + 16
    with pytest.raises(
        VoxformerError, match=rf"segment-x\.tfrecord: frame 1 \(record at offset {second}\): .*no laser"
    ):
        convert_waymo(tmp_path / "raw", tmp_path / "out", ("train",), workers=0, lasers=("TOP",), log=lambda _: None)
    with pytest.raises(VoxformerError, match="no .tfrecord segments found for split 'val'"):
        convert_waymo(tmp_path / "raw", tmp_path / "out", splits=("val",), workers=0)
    with pytest.raises(VoxformerError, match="split: expected one of"):
        convert_waymo(tmp_path / "raw", tmp_path / "out", splits=("training",), workers=0)


def test_create_data_command_writes_infos_and_gt_database(tmp_path, images, capsys):
    from voxformer.cli import main
    from voxformer.datasets.infos import load_pickle

    write_segments(tmp_path / "raw", images, {"training": 1})
    argv = ["create-data", "waymo", "--root-path", str(tmp_path / "raw"), "--out-dir", str(tmp_path / "out")]
    assert main([*argv, "--workers", "0", "--splits", "train", "--lasers", "TOP"]) == 0
    assert (tmp_path / "out" / "waymo_infos_train.pkl").is_file()
    dbinfos = load_pickle(tmp_path / "out" / "waymo_dbinfos_train.pkl")
    assert set(dbinfos) <= {"Vehicle", "Pedestrian", "Cyclist"}
    assert main([*argv, "--splits", "val"]) == 2
    assert "no .tfrecord segments found for split 'val'" in capsys.readouterr().err


def test_dataset_config_loads_converted_frames(tmp_path, images):
    from mmengine.config import Config

    from voxformer.cli import main
    from voxformer.registry import DATASETS

    write_segments(tmp_path / "raw", images, {"training": 1, "validation": 1})
    argv = ["create-data", "waymo", "--root-path", str(tmp_path / "raw"), "--out-dir", str(tmp_path / "out")]
    assert main([*argv, "--workers", "0", "--lasers", "TOP", "FRONT"]) == 0
    config = Config.fromfile(str(Path(__file__).resolve().parents[3] / "configs" / "_base_" / "datasets" / "waymo.py"))
    # training drops the Sign (label -1); evaluation keeps every box
    for loader, allowed in ((config.train_dataloader, {0, 1, 2}), (config.val_dataloader, {-1, 0, 1, 2})):
        loader.dataset.data_root = str(tmp_path / "out")
        dataset = DATASETS.build(loader.dataset)
        assert len(dataset) == 2
        item = dataset[0]
        points = item["inputs"]["points"]
        frame = build_frame(images)
        assert points.shape[1] == 5 and len(points) >= len(waymo.frame_points(frame, ("TOP", "FRONT"), (1, 2))) // 2
        labels = item["data_samples"].gt_instances_3d.labels_3d
        assert set(labels.tolist()) <= allowed and {0, 1, 2} <= set(labels.tolist())
