"""nuScenes: points, sweeps and annotations through a tiny set of v1.0 JSON tables written by the test."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from voxformer.ops import count_points_in_boxes

from voxformer.datasets.formats import nuscenes as nu
from voxformer.errors import VoxformerError


def quat_about(axis, angle):
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    return np.array([math.cos(angle / 2), *(math.sin(angle / 2) * axis)])


def quat_mul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )


def quat_rotate(q, v):
    """Rotate v by the unit quaternion q as q * (0, v) * conj(q)."""
    conjugate = q * np.array([1, -1, -1, -1])
    return quat_mul(quat_mul(q, np.array([0.0, *v])), conjugate)[1:]


class Pose:
    """A rigid transform child -> parent as (quaternion, translation)."""

    def __init__(self, q, t):
        self.q, self.t = np.asarray(q, np.float64), np.asarray(t, np.float64)

    def apply(self, v):
        return quat_rotate(self.q, v) + self.t

    def inverse_apply(self, v):
        return quat_rotate(self.q * np.array([1, -1, -1, -1]), np.asarray(v) - self.t)

    def record(self, token, **extra):
        return {"token": token, "rotation": self.q.tolist(), "translation": self.t.tolist(), **extra}


# LiDAR -> ego as on the real car: rotated about 90 degrees about z, 1.84 m up.
LIDAR = Pose(quat_mul(quat_about([0, 0, 1], -math.pi / 2 + 0.002), quat_about([1, 0, 0], 0.02)), [0.94, 0.0, 1.84])
SECONDS = {"k0": 0.0, "s1": 0.25, "k1": 0.5, "s2": 1.5, "k2": 2.5}  # key frames k*, sweeps s*
EGO = {
    name: Pose(
        quat_mul(quat_about([0, 0, 1], 1.0 + 0.1 * i), quat_about([0, 1, 0], 0.01)), [411 + 3 * i, 1180 + i, 0.1]
    )
    for i, name in enumerate(SECONDS)
}
KEYS = ("k0", "k1", "k2")

# Objects in the LiDAR frame of key frame k1: category, centre, (l, w, h), yaw, LiDAR-frame velocity.
OBJECTS = {
    "car": ("vehicle.car", [12.0, -4.0, -0.8], (4.5, 1.9, 1.6), 0.7, [3.0, -1.0]),
    "bus": ("vehicle.bus.bendy", [-20.0, 6.0, 0.2], (12.0, 2.9, 3.3), -2.5, [0.0, 2.0]),
    "walker": ("human.pedestrian.police_officer", [5.0, 7.0, -0.9], (0.7, 0.6, 1.8), 3.1, [0.0, 0.0]),
    "dog": ("animal", [3.0, -3.0, -1.5], (0.8, 0.3, 0.5), 0.0, [0.0, 0.0]),
}


def lidar_to_global(frame, point):
    return EGO[frame].apply(LIDAR.apply(point))


def global_to_lidar(frame, point):
    return LIDAR.inverse_apply(EGO[frame].inverse_apply(point))


def write_cloud(path, xyz, intensity, ring=None):
    rows = np.zeros((len(xyz), 5), np.float32)
    rows[:, :3], rows[:, 3] = xyz, intensity
    rows[:, 4] = np.arange(len(xyz)) % 32 if ring is None else ring
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.tofile(path)


def object_points(rng, centre, size, yaw, count):
    local = (rng.random((count, 3)) - 0.5) * 0.9 * np.asarray(size)
    c, s = math.cos(yaw), math.sin(yaw)
    return local @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + centre


def write_dataset(root, version="v1.0-mini", scene_name="scene-0061"):
    """One scene of three key frames and two sweeps; returns facts the tests check against."""
    rng = np.random.default_rng(0)
    tables = {name: [] for name in nu.TABLES}
    tables["sensor"].append({"token": "lidar", "channel": "LIDAR_TOP", "modality": "lidar"})
    tables["sensor"].append({"token": "radar", "channel": "RADAR_FRONT", "modality": "radar"})
    tables["calibrated_sensor"].append(LIDAR.record("cs-lidar", sensor_token="lidar", camera_intrinsic=[]))
    tables["calibrated_sensor"].append(Pose([1, 0, 0, 0], [3, 0, 0.5]).record("cs-radar", sensor_token="radar"))
    tables["attribute"].append({"token": "moving", "name": "vehicle.moving", "description": ""})
    frames = list(SECONDS)
    samples = {key: f"sample-{key}" for key in KEYS}
    for i, frame in enumerate(frames):
        tables["ego_pose"].append(EGO[frame].record(f"ego-{frame}", timestamp=int(SECONDS[frame] * 1e6)))
        owner = next(key for key in KEYS if SECONDS[key] >= SECONDS[frame])
        folder = "samples" if frame in KEYS else "sweeps"
        tables["sample_data"].append(
            {
                "token": f"sd-{frame}",
                "sample_token": samples[owner],
                "ego_pose_token": f"ego-{frame}",
                "calibrated_sensor_token": "cs-lidar",
                "timestamp": int(SECONDS[frame] * 1e6),
                "fileformat": "pcd",
                "is_key_frame": frame in KEYS,
                "filename": f"{folder}/LIDAR_TOP/{frame}.pcd.bin",
                "prev": f"sd-{frames[i - 1]}" if i else "",
                "next": f"sd-{frames[i + 1]}" if i + 1 < len(frames) else "",
            }
        )
    # a radar key frame of the same sample must not be taken for the LiDAR
    tables["ego_pose"].append(EGO["k1"].record("ego-radar", timestamp=int(0.5e6)))
    radar = dict(tables["sample_data"][2], token="sd-radar", calibrated_sensor_token="cs-radar", prev="", next="")
    tables["sample_data"].append(dict(radar, ego_pose_token="ego-radar", filename="samples/RADAR_FRONT/r.pcd"))
    for i, key in enumerate(KEYS):
        tables["sample"].append(
            {
                "token": samples[key],
                "timestamp": int(SECONDS[key] * 1e6),
                "scene_token": "scene",
                "prev": samples[KEYS[i - 1]] if i else "",
                "next": samples[KEYS[i + 1]] if i + 1 < len(KEYS) else "",
            }
        )
    tables["scene"].append(
        {"token": "scene", "name": scene_name, "first_sample_token": samples["k0"], "last_sample_token": samples["k2"]}
    )
    expected, cloud = {}, [rng.uniform(-0.9, 0.9, (50, 3))]  # 50 points within 1 m: dropped on load
    for name, (category, centre, size, yaw, velocity) in OBJECTS.items():
        tables["category"].append({"token": f"cat-{name}", "name": category, "description": ""})
        tables["instance"].append({"token": f"inst-{name}", "category_token": f"cat-{name}"})
        global_centre = lidar_to_global("k1", centre)
        global_velocity = lidar_to_global("k1", [*velocity, 0.0]) - lidar_to_global("k1", [0.0, 0.0, 0.0])
        heading = quat_mul(EGO["k1"].q, quat_mul(LIDAR.q, quat_about([0, 0, 1], yaw)))
        for key in KEYS:
            dt = SECONDS[key] - SECONDS["k1"]
            tables["sample_annotation"].append(
                {
                    "token": f"ann-{name}-{key}",
                    "sample_token": samples[key],
                    "instance_token": f"inst-{name}",
                    "attribute_tokens": ["moving"] if name == "car" else [],
                    "visibility_token": "4",
                    "translation": (global_centre + dt * global_velocity).tolist(),
                    "size": [size[1], size[0], size[2]],
                    "rotation": heading.tolist(),
                    "prev": f"ann-{name}-{KEYS[KEYS.index(key) - 1]}" if key != "k0" else "",
                    "next": f"ann-{name}-{KEYS[KEYS.index(key) + 1]}" if key != "k2" else "",
                    "num_lidar_pts": 20,
                    "num_radar_pts": 0,
                }
            )
        count = 20 + 10 * len(expected)
        cloud.append(object_points(rng, centre, size, yaw, count))
        expected[name] = (centre, size, yaw, velocity, count)
    key_xyz = np.concatenate(cloud)
    for frame in frames:
        if frame == "k1":
            write_cloud(root / f"samples/LIDAR_TOP/{frame}.pcd.bin", key_xyz, rng.integers(0, 256, len(key_xyz)))
        else:  # the key frame's object points seen from this frame's pose: they are static in the world
            world = [lidar_to_global("k1", p) for p in key_xyz[50:]]
            xyz = np.array([global_to_lidar(frame, p) for p in world])
            folder = "samples" if frame in KEYS else "sweeps"
            write_cloud(root / f"{folder}/LIDAR_TOP/{frame}.pcd.bin", xyz, np.full(len(xyz), 255.0))
    (root / version).mkdir(parents=True)
    for name, rows in tables.items():
        (root / version / f"{name}.json").write_text(json.dumps(rows))
    return expected, key_xyz


def test_quaternion_to_matrix_matches_quaternion_rotation():
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = quat_about(rng.normal(size=3), rng.uniform(-3, 3))
        v = rng.normal(size=3)
        np.testing.assert_allclose(nu.quaternion_to_matrix(q) @ v, quat_rotate(q, v), atol=1e-12)


def test_load_points_drops_close_points_and_scales_intensity(tmp_path):
    xyz = np.array([[0.5, 0.5, 0.0], [0.9, -0.99, 3.0], [1.0, 0.0, 0.0], [0.2, 5.0, -1.0], [20.0, -3.0, 1.0]])
    write_cloud(tmp_path / "a.pcd.bin", xyz, [10, 20, 51, 255, 0])
    points = nu.load_points(tmp_path / "a.pcd.bin")
    assert points.dtype == np.float32 and points.shape == (3, 4)
    np.testing.assert_allclose(points[:, :3], xyz[2:])
    np.testing.assert_allclose(points[:, 3], [0.2, 1.0, 0.0])


def test_bad_point_files_are_reported(tmp_path):
    with pytest.raises(VoxformerError, match="nuScenes point file not found"):
        nu.load_points(tmp_path / "missing.pcd.bin")
    (tmp_path / "odd.pcd.bin").write_bytes(bytes(4 * 7))
    with pytest.raises(VoxformerError, match="not a whole number of nuScenes points"):
        nu.load_points(tmp_path / "odd.pcd.bin")


@pytest.fixture
def dataset(tmp_path):
    expected, key_xyz = write_dataset(tmp_path)
    return tmp_path, expected, key_xyz


def test_sample_round_trips_boxes_velocity_and_points(dataset):
    root, expected, key_xyz = dataset
    records = nu.create_nuscenes_infos(root, "v1.0-mini", max_sweeps=2)
    assert set(records) == {"train", "val"} and records["val"] == []
    first, middle, last = records["train"]
    assert middle["frame_id"] == "sample-k1" and middle["lidar_path"] == "samples/LIDAR_TOP/k1.pcd.bin"
    assert middle["scene"] == "scene-0061" and middle["timestamp"] == pytest.approx(0.5)
    annos = middle["annos"]
    assert annos["names"].tolist() == ["car", "bus", "pedestrian"]  # the animal has no detection class
    assert annos["boxes"].shape == (3, 9) and annos["boxes"].dtype == np.float32
    for row, name in enumerate(("car", "bus", "walker")):
        centre, size, yaw, velocity, _ = expected[name]
        box = annos["boxes"][row].astype(np.float64)
        np.testing.assert_allclose(box[:3], centre, atol=1e-4)
        np.testing.assert_allclose(box[3:6], size, atol=1e-6)
        assert math.isclose(math.remainder(box[6] - yaw, 2 * math.pi), 0.0, abs_tol=1e-4)
        np.testing.assert_allclose(box[7:9], velocity, atol=1e-4)
        np.testing.assert_allclose(annos["velocity"][row], velocity, atol=1e-4)
    assert annos["attributes"].tolist() == ["vehicle.moving", "", ""]
    assert annos["num_points"].tolist() == [20, 20, 20] and annos["difficulty"].tolist() == [-1, -1, -1]
    car_velocity = lidar_to_global("k1", [*expected["car"][3], 0.0]) - lidar_to_global("k1", [0.0, 0.0, 0.0])
    in_first_frame = global_to_lidar("k0", car_velocity) - global_to_lidar("k0", [0.0, 0.0, 0.0])
    np.testing.assert_allclose(first["annos"]["boxes"][0, 7:9], in_first_frame[:2], atol=1e-4)  # next only
    np.testing.assert_allclose(last["annos"]["boxes"][:, 7:9], 0.0)  # the only neighbour is 2 s away: unknown

    points = nu.load_points_with_sweeps(middle, root, max_sweeps=0)
    assert points.shape == (len(key_xyz) - 50, 5) and np.all(points[:, 4] == 0)
    counts = count_points_in_boxes(torch.from_numpy(points[:, :3]), torch.from_numpy(annos["boxes"][:, :7]))
    assert counts.tolist() == [expected[name][4] for name in ("car", "bus", "walker")]


def test_sweeps_land_on_the_key_frame(dataset):
    root, _, key_xyz = dataset
    middle = nu.create_nuscenes_infos(root, "v1.0-mini", max_sweeps=2)["train"][1]
    assert [sweep["path"] for sweep in middle["sweeps"]] == [
        "sweeps/LIDAR_TOP/s1.pcd.bin",
        "samples/LIDAR_TOP/k0.pcd.bin",
    ]
    points = nu.load_points_with_sweeps(middle, root)
    static = key_xyz[50:]
    key_count = len(static)
    for index, lag in enumerate((0.25, 0.5)):
        sweep = points[key_count * (index + 1) : key_count * (index + 2)]
        np.testing.assert_allclose(sweep[:, :3], static, atol=2e-4)  # world-static points coincide
        np.testing.assert_allclose(sweep[:, 3], 1.0)
        np.testing.assert_allclose(sweep[:, 4], lag, atol=1e-6)
    assert len(nu.load_points_with_sweeps(middle, root, max_sweeps=1)) == 2 * key_count


def test_infos_survive_the_restricted_unpickler(dataset, tmp_path_factory):
    from voxformer.datasets.infos import load_infos, save_infos

    root, _, _ = dataset
    records = nu.create_nuscenes_infos(root, "v1.0-mini", max_sweeps=1)["train"]
    path = tmp_path_factory.mktemp("out") / "nuscenes_infos_train.pkl"
    save_infos(path, records, {"dataset": "nuscenes"})
    loaded = load_infos(path)["data_list"]
    np.testing.assert_array_equal(loaded[1]["annos"]["boxes"], records[1]["annos"]["boxes"])
    np.testing.assert_array_equal(loaded[1]["sweeps"][0]["transform"], records[1]["sweeps"][0]["transform"])


def test_val_scene_and_version_errors(tmp_path):
    write_dataset(tmp_path / "a", scene_name="scene-0103")
    records = nu.create_nuscenes_infos(tmp_path / "a", "v1.0-mini")
    assert len(records["val"]) == 3 and records["train"] == []
    with pytest.raises(VoxformerError, match="--version: expected one of"):
        nu.create_nuscenes_infos(tmp_path / "a", "v2.0")
    with pytest.raises(VoxformerError, match="nuScenes tables not found"):
        nu.create_nuscenes_infos(tmp_path / "a", "v1.0-trainval")
    (tmp_path / "a" / "v1.0-mini" / "ego_pose.json").unlink()
    with pytest.raises(VoxformerError, match="ego_pose.json: nuScenes table missing"):
        nu.create_nuscenes_infos(tmp_path / "a", "v1.0-mini")


def test_trainval_splits_need_the_devkit(tmp_path):
    try:
        import nuscenes  # noqa: F401
    except ImportError:
        with pytest.raises(VoxformerError, match=r"pip install 'voxformer\[nuscenes\]'"):
            nu.scene_splits("v1.0-trainval", [])
    else:
        splits = nu.scene_splits("v1.0-trainval", [])
        assert len(splits["train"]) == 700 and len(splits["val"]) == 150


def test_class_mapping_covers_the_ten_classes():
    assert sorted(set(nu.CATEGORY_TO_CLASS.values())) == sorted(nu.DETECTION_CLASSES)
    assert len(nu.DETECTION_CLASSES) == 10
    assert nu.CATEGORY_TO_CLASS["vehicle.bus.rigid"] == nu.CATEGORY_TO_CLASS["vehicle.bus.bendy"] == "bus"
    assert "vehicle.emergency.police" not in nu.CATEGORY_TO_CLASS


def test_real_keyframe_points_fall_in_annotated_boxes(real_data):
    folder = real_data / "nuscenes"
    points = nu.load_points(folder / "LIDAR_TOP_1532402927647951.pcd.bin")
    assert 34688 - 10000 < len(points) < 34688 - 6000  # about 8k ego points dropped
    assert 0.0 <= points[:, 3].min() and points[:, 3].max() <= 1.0
    boxes = json.loads((folder / "LIDAR_TOP_1532402927647951_boxes.json").read_text())["boxes"]
    seen = [entry for entry in boxes if entry["num_lidar_pts"] > 0]
    tensor = torch.tensor([entry["box"] for entry in seen], dtype=torch.float32)
    counts = count_points_in_boxes(torch.from_numpy(np.ascontiguousarray(points[:, :3])), tensor)
    assert len(seen) > 50 and (counts > 0).float().mean() >= 0.9


def test_create_data_command_paths_relative_to_out_dir(dataset, tmp_path_factory):
    from voxformer.cli import main
    from voxformer.datasets.infos import load_infos

    root, _, _ = dataset
    out = tmp_path_factory.mktemp("out")
    argv = ["create-data", "nuscenes", "--root-path", str(root), "--out-dir", str(out), "--version", "v1.0-mini"]
    assert main([*argv, "--max-sweeps", "1"]) == 0
    infos = load_infos(out / "nuscenes_infos_train.pkl")
    assert infos["metainfo"]["classes"] == nu.DETECTION_CLASSES and len(infos["data_list"]) == 3
    record = infos["data_list"][1]
    assert (out / record["lidar_path"]).resolve() == (root / "samples/LIDAR_TOP/k1.pcd.bin").resolve()
    assert len(record["sweeps"]) == 1
    points = nu.load_points_with_sweeps(record, out)
    assert points.shape[1] == 5 and np.any(points[:, 4] > 0)


def test_dataset_config_builds_a_balanced_training_set(dataset, tmp_path_factory):
    from mmengine.config import Config

    from voxformer.cli import main
    from voxformer.registry import DATASETS
    from voxformer.structures import Boxes3D

    root, _, key_xyz = dataset
    out = tmp_path_factory.mktemp("out")
    argv = ["create-data", "nuscenes", "--root-path", str(root), "--out-dir", str(out), "--version", "v1.0-mini"]
    assert main(argv) == 0
    config = Config.fromfile(str(CONFIGS / "_base_" / "datasets" / "nuscenes.py"))
    config.train_dataloader.dataset.dataset.data_root = str(out)
    train = DATASETS.build(config.train_dataloader.dataset)
    assert type(train).__name__ == "CBGSDataset" and len(train) > 0
    sampler = next(t for t in train.dataset.pipeline.transforms if type(t).__name__ == "ObjectSample")
    sampler.enabled = False
    item = train.dataset.pipeline(train.dataset.get_data_info(1))  # the middle frame, through the training pipeline
    sample = item["data_samples"]
    points = item["inputs"]["points"]
    assert points.shape[1] == 5 and len(points) > len(key_xyz) - 50  # key frame plus sweeps, close points gone
    boxes = sample.gt_instances_3d.bboxes_3d
    assert isinstance(boxes, Boxes3D) and boxes.tensor.shape[1] == 9 and len(boxes) == 3

    sampler.enabled = True  # GT sampling reads the database create-data wrote beside the infos
    np.random.seed(0)
    pasted = 0
    for index in range(3):
        sample = train.dataset.pipeline(train.dataset.get_data_info(index))["data_samples"]
        labels = sample.gt_instances_3d.labels_3d.tolist()
        assert len(labels) >= 3 and set(labels) <= {0, 3, 8}  # car, bus, pedestrian: the classes of the database
        pasted += len(labels) - 3
    assert pasted > 0


def test_gt_database_holds_the_loaded_points_of_key_frame_and_sweeps(dataset, tmp_path_factory):
    from voxformer.cli import main
    from voxformer.datasets.infos import load_pickle
    from voxformer.datasets.io import read_points

    root, expected, _ = dataset
    out = tmp_path_factory.mktemp("out")
    argv = ["create-data", "nuscenes", "--root-path", str(root), "--out-dir", str(out), "--version", "v1.0-mini"]
    assert main([*argv, "--max-sweeps", "2"]) == 0
    dbinfos = load_pickle(out / "nuscenes_dbinfos_train.pkl")
    assert sorted(dbinfos) == ["bus", "car", "pedestrian"]  # the animal has no detection class
    for name, key in (("car", "car"), ("bus", "bus"), ("pedestrian", "walker")):
        entry = next(e for e in dbinfos[name] if e["frame_id"] == "sample-k1")
        centre, size, _, _, count = expected[key]
        np.testing.assert_allclose(entry["box3d_lidar"][:3], centre, atol=1e-4)
        points = read_points(out / entry["path"], 5)
        assert entry["num_points_in_gt"] == len(points) == 3 * count  # the key frame and both sweeps
        assert np.all(np.linalg.norm(points[:, :3], axis=1) <= np.linalg.norm(size) / 2)  # relative to the centre
        assert 0.0 <= points[:, 3].min() and points[:, 3].max() <= 1.0  # intensity / 255
        assert sorted(set(np.round(points[:, 4], 4).tolist())) == [0.0, 0.25, 0.5]  # time lag, not the ring


CONFIGS = Path(__file__).resolve().parents[3] / "configs"
