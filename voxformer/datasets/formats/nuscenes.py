r"""nuScenes LiDAR detection: point files, sweeps, and info records read straight from the v1.0 JSON tables.

No nuscenes-devkit is needed: the converter reads ``<root>/<version>/*.json`` itself. Facts used:

- ``samples/LIDAR_TOP/*.pcd.bin`` and ``sweeps/LIDAR_TOP/*.pcd.bin`` are raw little-endian float32
  rows (x, y, z, intensity 0..255, ring), not PCD files. Loading keeps x, y, z, intensity / 255 and
  drops the points within 1 m of the sensor the way the devkit does (|x| < 1 and |y| < 1): they are
  returns from the ego vehicle itself.
- Poses: ``calibrated_sensor`` maps sensor -> ego, ``ego_pose`` ego -> global; translations in metres,
  rotations as quaternions [w, x, y, z]. A sweep is brought into the key frame's sensor frame with
  sensor_key <- ego_key <- global <- ego_sweep <- sensor_sweep, and gets the time lag
  t_key - t_sweep (seconds) as an extra feature (0 for the key frame's own points).
- ``sample_annotation``: global gravity centre, size [w, l, h], rotation quaternion. In our LiDAR
  frame a box is (x, y, z, dx = l, dy = w, dz = h, yaw, vx, vy); velocity is the devkit's estimate
  (centre displacement between the neighbouring annotations of the same instance over their time
  difference; unknown when the neighbours are more than 1.5 s apart (3 s for two neighbours)),
  rotated into the LiDAR frame; unknown velocities are stored as 0.
- 23 general categories map to the 10 detection classes (:data:`CATEGORY_TO_CLASS`); objects of
  other categories are not kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

DETECTION_CLASSES = (
    "car",
    "truck",
    "construction_vehicle",
    "bus",
    "trailer",
    "barrier",
    "motorcycle",
    "bicycle",
    "pedestrian",
    "traffic_cone",
)
CATEGORY_TO_CLASS = {
    "vehicle.car": "car",
    "vehicle.truck": "truck",
    "vehicle.construction": "construction_vehicle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.trailer": "trailer",
    "movable_object.barrier": "barrier",
    "vehicle.motorcycle": "motorcycle",
    "vehicle.bicycle": "bicycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "movable_object.trafficcone": "traffic_cone",
}
# Categories with no detection class: animal, human.pedestrian.{personal_mobility, stroller, wheelchair},
# movable_object.{debris, pushable_pullable}, static_object.bicycle_rack, vehicle.emergency.{ambulance, police}.

FILE_FEATURES = 5  # x, y, z, intensity (0..255), ring
POINT_FEATURES = ("x", "y", "z", "intensity")  # + "time_lag" when sweeps are accumulated
CLOSE_RADIUS = 1.0
INTENSITY_SCALE = 255.0
MAX_VELOCITY_TIME_DIFF = 1.5
LIDAR_CHANNEL = "LIDAR_TOP"
VERSIONS = ("v1.0-mini", "v1.0-trainval", "v1.0-test")
# v1.0-mini's official split (scene names); the v1.0-trainval lists come from nuscenes-devkit.
MINI_SPLITS = {
    "train": (
        "scene-0061",
        "scene-0553",
        "scene-0655",
        "scene-0757",
        "scene-0796",
        "scene-1077",
        "scene-1094",
        "scene-1100",
    ),
    "val": ("scene-0103", "scene-0916"),
}
TABLES = (
    "sample",
    "sample_data",
    "sample_annotation",
    "ego_pose",
    "calibrated_sensor",
    "sensor",
    "instance",
    "category",
    "attribute",
    "scene",
)
# The fields the converter reads, per table, and what each must hold: "str", "int", "bool", "vec3"
# (3 finite numbers), "quaternion" (4 finite numbers, not all 0), "<table>" (a token of that table),
# "<table>?" (the same, or "" for no link) or "[<table>]" (a list of such tokens).
TABLE_FIELDS = {
    "sample": {"token": "str", "timestamp": "int", "scene_token": "scene", "next": "sample?"},
    "sample_data": {
        "token": "str",
        "sample_token": "sample",
        "ego_pose_token": "ego_pose",
        "calibrated_sensor_token": "calibrated_sensor",
        "timestamp": "int",
        "is_key_frame": "bool",
        "filename": "str",
        "prev": "sample_data?",
    },
    "sample_annotation": {
        "token": "str",
        "sample_token": "sample",
        "instance_token": "instance",
        "attribute_tokens": "[attribute]",
        "translation": "vec3",
        "size": "vec3",
        "rotation": "quaternion",
        "prev": "sample_annotation?",
        "next": "sample_annotation?",
        "num_lidar_pts": "int",
        "num_radar_pts": "int",
    },
    "ego_pose": {"token": "str", "translation": "vec3", "rotation": "quaternion"},
    "calibrated_sensor": {"token": "str", "sensor_token": "sensor", "translation": "vec3", "rotation": "quaternion"},
    "sensor": {"token": "str", "channel": "str"},
    "instance": {"token": "str", "category_token": "category"},
    "category": {"token": "str", "name": "str"},
    "attribute": {"token": "str", "name": "str"},
    "scene": {"token": "str", "name": "str", "first_sample_token": "sample"},
}
_INT_LIMIT = 2**63  # timestamps and counts are int64 in the devkit


# -- geometry -------------------------------------------------------------------------------------
def quaternion_to_matrix(quaternion: Sequence[float]) -> np.ndarray:
    """Unit quaternion [w, x, y, z] -> (3, 3) float64 rotation (normalised first)."""
    w, x, y, z = np.asarray(quaternion, dtype=np.float64) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_matrix(record: dict) -> np.ndarray:
    """A ``calibrated_sensor`` or ``ego_pose`` record -> (4, 4) float64 transform (child -> parent)."""
    matrix = np.eye(4)
    matrix[:3, :3] = quaternion_to_matrix(record["rotation"])
    matrix[:3, 3] = record["translation"]
    return matrix


# -- points ---------------------------------------------------------------------------------------
def load_points(path: str | Path) -> np.ndarray:
    """float32 (N, 4) x, y, z, intensity in [0, 1] of a ``.pcd.bin`` file, points within 1 m dropped."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: nuScenes point file not found")
    size = path.stat().st_size
    if size % (4 * FILE_FEATURES):
        raise VoxformerError(
            f"{path}: {size} bytes is not a whole number of nuScenes points ({FILE_FEATURES} float32 values each)"
        )
    return scan_points(np.fromfile(path, dtype="<f4").reshape(-1, FILE_FEATURES))


def scan_points(raw: np.ndarray) -> np.ndarray:
    """float32 (N', 4) x, y, z, intensity in [0, 1] of a ``.pcd.bin`` file's (N, 5) rows, points within 1 m dropped."""
    close = (np.abs(raw[:, 0]) < CLOSE_RADIUS) & (np.abs(raw[:, 1]) < CLOSE_RADIUS)
    points = np.array(raw[~close, :4], dtype=np.float32)
    points[:, 3] /= INTENSITY_SCALE
    return points


def with_time_lag(points: np.ndarray, lag: float) -> np.ndarray:
    """float32 (N, 5): (N, 4) ``points`` and a time-lag column of ``lag`` seconds (0 for the key frame)."""
    return np.concatenate([points, np.full((len(points), 1), lag, np.float32)], axis=1)


def load_points_with_sweeps(record: dict, data_root: str | Path, max_sweeps: int | None = None) -> np.ndarray:
    """float32 (N, 5) x, y, z, intensity, time lag: the key frame plus up to ``max_sweeps`` earlier sweeps.

    ``record`` is an info record of :func:`create_nuscenes_infos` (``lidar_path`` and ``sweeps``, each
    sweep a dict with ``path``, ``transform`` (4, 4) sweep sensor -> key sensor and ``time_lag``).
    """
    root = Path(data_root)
    clouds = [with_time_lag(load_points(root / record["lidar_path"]), 0.0)]
    for sweep in record.get("sweeps", [])[:max_sweeps]:
        points = load_points(root / sweep["path"])
        transform = np.asarray(sweep["transform"], dtype=np.float64)
        xyz = points[:, :3].astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]
        moved = np.concatenate([xyz.astype(np.float32), points[:, 3:4]], axis=1)
        clouds.append(with_time_lag(moved, sweep["time_lag"]))
    return np.concatenate(clouds, axis=0)


# -- tables ---------------------------------------------------------------------------------------
def _value_problem(value, kind: str) -> str | None:
    """Why ``value`` is not of ``kind`` (see :data:`TABLE_FIELDS`), or None; token links are checked later."""
    if kind == "bool":
        return None if isinstance(value, bool) else "is not true/false"
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT
        return None if ok else "is not an integer"
    if kind in ("vec3", "quaternion"):
        size = 3 if kind == "vec3" else 4
        numbers = isinstance(value, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if not numbers or len(value) != size or not all(math.isfinite(v) for v in value):
            return f"is not a list of {size} finite numbers"
        return "is all zeros" if kind == "quaternion" and not any(value) else None
    if kind.startswith("["):
        return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else "is not a list of tokens"
    return None if isinstance(value, str) else "is not a string"


def _read_table(path: Path, table: str) -> dict[str, dict]:
    """token -> row of one JSON table, each row checked against :data:`TABLE_FIELDS`."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise VoxformerError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(rows, list):
        raise VoxformerError(f"{path}: expected a list of records, got a JSON {type(rows).__name__}")
    by_token = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise VoxformerError(f"{path}: row {index} is a JSON {type(row).__name__}, expected an object")
        for field, kind in TABLE_FIELDS[table].items():
            problem = "is missing" if field not in row else _value_problem(row[field], kind)
            if problem:
                raise VoxformerError(f"{path}: row {index}: {field!r} {problem}")
        by_token[row["token"]] = row
    return by_token


class NuScenesTables:
    """The JSON tables of one nuScenes version, indexed by token, every field the converter reads and
    every token link checked on load (an error names the table file and the row)."""

    def __init__(self, root: str | Path, version: str):
        if version not in VERSIONS:
            raise VoxformerError(f"--version: expected one of {', '.join(VERSIONS)}, got {version!r}")
        self.folder = Path(root) / version
        if not self.folder.is_dir():
            raise VoxformerError(f"{self.folder}: nuScenes tables not found (expected <root-path>/{version}/*.json)")
        self.version = version
        self.by_token: dict[str, dict[str, dict]] = {}
        for table in TABLES:
            path = self.path(table)
            if not path.is_file():
                if table == "sample_annotation" and version == "v1.0-test":
                    self.by_token[table] = {}
                    continue
                raise VoxformerError(f"{path}: nuScenes table missing")
            self.by_token[table] = _read_table(path, table)
        self._check_links()
        self.annotations_of_sample: dict[str, list[dict]] = {}
        for annotation in self.by_token["sample_annotation"].values():
            self.annotations_of_sample.setdefault(annotation["sample_token"], []).append(annotation)
        self.lidar_of_sample = {}
        for data in self.by_token["sample_data"].values():
            if data["is_key_frame"] and self.channel(data) == LIDAR_CHANNEL:
                self.lidar_of_sample[data["sample_token"]] = data

    def path(self, table: str) -> Path:
        return self.folder / f"{table}.json"

    def _check_links(self) -> None:
        """Every token field of :data:`TABLE_FIELDS` names a row of its table ("" allowed where marked ``?``)."""
        for table, fields in TABLE_FIELDS.items():
            for field, kind in fields.items():
                target = kind.strip("[]?")
                if target not in TABLE_FIELDS:
                    continue
                for row in self.by_token[table].values():
                    links = row[field] if kind.startswith("[") else [row[field]]
                    for link in links:
                        if link not in self.by_token[target] and not (kind.endswith("?") and link == ""):
                            raise VoxformerError(
                                f"{self.path(table)}: row {row['token']!r}: {field} {link!r} is not a token of "
                                f"{self.path(target).name}"
                            )

    def get(self, table: str, token: str) -> dict:
        try:
            return self.by_token[table][token]
        except KeyError:
            raise VoxformerError(f"nuScenes {self.version}: {table} token {token!r} not found") from None

    def channel(self, sample_data: dict) -> str:
        sensor_token = self.get("calibrated_sensor", sample_data["calibrated_sensor_token"])["sensor_token"]
        return self.get("sensor", sensor_token)["channel"]

    def sensor_to_global(self, sample_data: dict) -> np.ndarray:
        """(4, 4) sensor -> global transform of a ``sample_data`` record."""
        ego = pose_matrix(self.get("ego_pose", sample_data["ego_pose_token"]))
        return ego @ pose_matrix(self.get("calibrated_sensor", sample_data["calibrated_sensor_token"]))


def scene_splits(version: str, scene_names: Sequence[str]) -> dict[str, set[str]]:
    """Split name -> scene names: v1.0-mini built in, v1.0-trainval from nuscenes-devkit, v1.0-test all 'test'."""
    if version == "v1.0-mini":
        return {split: set(names) for split, names in MINI_SPLITS.items()}
    if version == "v1.0-test":
        return {"test": set(scene_names)}
    try:
        from nuscenes.utils.splits import create_splits_scenes
    except ImportError:
        raise VoxformerError(
            "the v1.0-trainval train/val scene lists come from nuscenes-devkit: pip install 'voxformer[nuscenes]'"
        ) from None
    scenes = create_splits_scenes()
    return {"train": set(scenes["train"]), "val": set(scenes["val"])}


# -- annotations ----------------------------------------------------------------------------------
def annotation_velocity(tables: NuScenesTables, annotation: dict) -> np.ndarray:
    """(3,) global velocity (m/s) of an annotated object from its neighbours; NaN when unknown."""
    neighbours = [annotation["prev"], annotation["next"]]
    first = tables.get("sample_annotation", neighbours[0]) if neighbours[0] else annotation
    last = tables.get("sample_annotation", neighbours[1]) if neighbours[1] else annotation
    if first is last:
        return np.full(3, np.nan)
    seconds = [tables.get("sample", entry["sample_token"])["timestamp"] * 1e-6 for entry in (first, last)]
    time_diff = seconds[1] - seconds[0]
    limit = MAX_VELOCITY_TIME_DIFF * (2 if all(neighbours) else 1)
    if not 0 < time_diff <= limit:
        return np.full(3, np.nan)
    return (np.asarray(last["translation"]) - np.asarray(first["translation"])) / time_diff


def sample_annotations(tables: NuScenesTables, sample_token: str, global_to_lidar: np.ndarray) -> dict:
    """Info-record annotations of one sample in the LiDAR frame (see module docstring)."""
    rotation = global_to_lidar[:3, :3]
    rows, names, lidar_points, radar_points, attributes, tokens = [], [], [], [], [], []
    for annotation in tables.annotations_of_sample.get(sample_token, []):
        category = tables.get("category", tables.get("instance", annotation["instance_token"])["category_token"])
        name = CATEGORY_TO_CLASS.get(category["name"])
        if name is None:
            continue
        centre = rotation @ np.asarray(annotation["translation"]) + global_to_lidar[:3, 3]
        box_rotation = rotation @ quaternion_to_matrix(annotation["rotation"])
        yaw = math.atan2(box_rotation[1, 0], box_rotation[0, 0])
        width, length, height = annotation["size"]
        velocity = np.nan_to_num(rotation @ annotation_velocity(tables, annotation), nan=0.0)
        rows.append([*centre, length, width, height, yaw, velocity[0], velocity[1]])
        names.append(name)
        lidar_points.append(annotation["num_lidar_pts"])
        radar_points.append(annotation["num_radar_pts"])
        attribute_tokens = annotation["attribute_tokens"]
        attributes.append(tables.get("attribute", attribute_tokens[0])["name"] if attribute_tokens else "")
        tokens.append(annotation["token"])
    boxes = np.asarray(rows, dtype=np.float64).reshape(-1, 9)
    boxes[:, 6] = np.remainder(boxes[:, 6] + math.pi, 2 * math.pi) - math.pi
    return {
        "boxes": boxes.astype(np.float32),
        "names": np.asarray(names, dtype="<U20"),
        "num_points": np.asarray(lidar_points, dtype=np.int32),
        "num_radar_points": np.asarray(radar_points, dtype=np.int32),
        "difficulty": np.full(len(rows), -1, dtype=np.int32),
        "velocity": boxes[:, 7:9].astype(np.float32),
        "attributes": np.asarray(attributes, dtype="<U40"),
        "tokens": np.asarray(tokens, dtype="<U32"),
    }


def _sweeps(tables: NuScenesTables, key: dict, key_from_global: np.ndarray, max_sweeps: int) -> list[dict]:
    """Up to ``max_sweeps`` earlier LIDAR_TOP sweeps of a key frame, newest first."""
    sweeps, data = [], key
    while len(sweeps) < max_sweeps and data["prev"]:
        data = tables.get("sample_data", data["prev"])
        sweeps.append(
            {
                "path": data["filename"],
                "transform": key_from_global @ tables.sensor_to_global(data),
                "time_lag": (key["timestamp"] - data["timestamp"]) * 1e-6,
            }
        )
    return sweeps


def sample_record(tables: NuScenesTables, sample: dict, max_sweeps: int) -> dict:
    """The info record of one sample (schema of :mod:`voxformer.datasets.infos`, plus ``sweeps``)."""
    key = tables.lidar_of_sample.get(sample["token"])
    if key is None:
        raise VoxformerError(f"{tables.path('sample_data')}: sample {sample['token']} has no {LIDAR_CHANNEL} key frame")
    lidar_to_global = tables.sensor_to_global(key)
    global_to_lidar = np.linalg.inv(lidar_to_global)
    return {
        "frame_id": sample["token"],
        "lidar_path": key["filename"],
        "lidar_token": key["token"],  # the key frame's sample_data token (names its lidarseg file)
        "num_features": FILE_FEATURES,  # values per point in the file; see load_points_with_sweeps
        "timestamp": key["timestamp"] * 1e-6,
        "pose": lidar_to_global,
        "scene": tables.get("scene", sample["scene_token"])["name"],
        "sweeps": _sweeps(tables, key, global_to_lidar, max_sweeps),
        "annos": sample_annotations(tables, sample["token"], global_to_lidar),
    }


def create_nuscenes_infos(
    root_path: str | Path, version: str = "v1.0-trainval", max_sweeps: int = 10
) -> dict[str, list[dict]]:
    """Info records per split (``train``/``val`` or ``test``), samples in scene then time order."""
    tables = NuScenesTables(root_path, version)
    scenes = tables.by_token["scene"].values()
    splits = scene_splits(version, [scene["name"] for scene in scenes])
    records: dict[str, list[dict]] = {split: [] for split in splits}
    for split, names in splits.items():
        for scene in sorted(scenes, key=lambda entry: entry["name"]):
            if scene["name"] not in names:
                continue
            token, seen = scene["first_sample_token"], set()
            while token:
                if token in seen:
                    raise VoxformerError(f"{tables.path('sample')}: the 'next' links of {scene['name']} form a loop")
                seen.add(token)
                sample = tables.get("sample", token)
                records[split].append(sample_record(tables, sample, max_sweeps))
                token = sample["next"]
    return records
