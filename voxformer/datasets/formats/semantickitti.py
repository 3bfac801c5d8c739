"""SemanticKITTI: label ids, the official learning map, splits, ``.label`` files, ``create-data semantickitti``.

Layout of the dataset root (``--root``)::

    sequences/NN/velodyne/XXXXXX.bin   float32 (N, 4) x, y, z, remission
    sequences/NN/labels/XXXXXX.label   uint32 (N,): semantic id in the lower 16 bits, instance id in the upper 16

Raw semantic ids are those of the official ``semantic-kitti.yaml`` (:data:`RAW_LABELS`). Its
``learning_map`` folds them into 19 classes: moving classes into their static ones, bus and on-rails
into other-vehicle, lane-marking into road, unlabeled / outlier / other-structure / other-object into
the ignored class 0. Here class 0 becomes :data:`IGNORE_INDEX` (255) and the rest shift down by one,
so the learning space is 0..18 in the order of :data:`CLASSES`.

Splits (sequence numbers): train 00-07, 09, 10; val 08; test 11-21 (no labels).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError

CONVERTER_NAME = "semantickitti"
CONVERTER_HELP = "SemanticKITTI scans and per-point labels (sequences/NN/velodyne + labels)"

IGNORE_INDEX = 255
NUM_FEATURES = 4

RAW_LABELS = {
    0: "unlabeled",
    1: "outlier",
    10: "car",
    11: "bicycle",
    13: "bus",
    15: "motorcycle",
    16: "on-rails",
    18: "truck",
    20: "other-vehicle",
    30: "person",
    31: "bicyclist",
    32: "motorcyclist",
    40: "road",
    44: "parking",
    48: "sidewalk",
    49: "other-ground",
    50: "building",
    51: "fence",
    52: "other-structure",
    60: "lane-marking",
    70: "vegetation",
    71: "trunk",
    72: "terrain",
    80: "pole",
    81: "traffic-sign",
    99: "other-object",
    252: "moving-car",
    253: "moving-bicyclist",
    254: "moving-person",
    255: "moving-motorcyclist",
    256: "moving-on-rails",
    257: "moving-bus",
    258: "moving-truck",
    259: "moving-other-vehicle",
}
CLASSES = (
    "car",
    "bicycle",
    "motorcycle",
    "truck",
    "other-vehicle",
    "person",
    "bicyclist",
    "motorcyclist",
    "road",
    "parking",
    "sidewalk",
    "other-ground",
    "building",
    "fence",
    "vegetation",
    "trunk",
    "terrain",
    "pole",
    "traffic-sign",
)
# raw id -> raw id of the class it is learnt as (the yaml's learning_map through learning_map_inv);
# ids absent here (and mapped to themselves when they name a class) follow the rules above
_FOLDED = {
    1: 0, 13: 20, 16: 20, 52: 0, 60: 40, 99: 0,
    252: 10, 253: 31, 254: 30, 255: 32, 256: 20, 257: 20, 258: 18, 259: 20,
}  # fmt: skip
_RAW_OF_CLASS = {name: raw for raw, name in RAW_LABELS.items() if name in CLASSES}
LEARNING_MAP = {
    raw: (CLASSES.index(RAW_LABELS[_FOLDED.get(raw, raw)]) if _FOLDED.get(raw, raw) else IGNORE_INDEX)
    for raw in RAW_LABELS
}
LEARNING_MAP_INV = {index: _RAW_OF_CLASS[name] for index, name in enumerate(CLASSES)}
# RGB of each class, from the yaml's color_map (which is BGR) of the class's raw id
PALETTE = (
    (100, 150, 245), (100, 230, 245), (30, 60, 150), (80, 30, 180), (100, 80, 250),
    (255, 30, 30), (255, 40, 200), (150, 30, 90), (255, 0, 255), (255, 150, 255),
    (75, 0, 75), (175, 0, 75), (255, 200, 0), (255, 120, 50), (0, 175, 0),
    (135, 60, 0), (150, 240, 80), (255, 240, 150), (255, 0, 0),
)  # fmt: skip
SPLITS = {"train": (0, 1, 2, 3, 4, 5, 6, 7, 9, 10), "val": (8,), "test": tuple(range(11, 22))}
LABELLED_SPLITS = ("train", "val")


def learning_lookup() -> np.ndarray:
    """(65536,) int64 table raw semantic id -> learning class (0..18, 255 ignore); -1 for ids not in the yaml."""
    table = np.full(1 << 16, -1, np.int64)
    table[list(LEARNING_MAP)] = list(LEARNING_MAP.values())
    return table


_LOOKUP = learning_lookup()


def to_learning(semantic: np.ndarray, path: str | Path = "labels") -> np.ndarray:
    """(N,) raw semantic ids -> (N,) int64 learning classes; an id not in the yaml raises naming ``path``."""
    learning = _LOOKUP[np.asarray(semantic, np.int64) & 0xFFFF]
    if (learning < 0).any():
        unknown = sorted(set(np.asarray(semantic)[learning < 0].tolist()))
        raise VoxformerError(f"{path}: unknown SemanticKITTI label id(s) {unknown[:5]} (see semantic-kitti.yaml)")
    return learning


def read_label(path: str | Path, num_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(semantic, instance)`` (N,) uint16 arrays of a ``.label`` file (uint32: semantic | instance << 16).

    Raises :class:`VoxformerError` naming the file when it is missing, not whole uint32 values, or
    (with ``num_points``) when its length differs from its scan's.
    """
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: label file not found")
    size = path.stat().st_size
    if size % 4:
        raise VoxformerError(f"{path}: {size} bytes is not a whole number of uint32 labels")
    labels = np.fromfile(path, dtype="<u4")
    if num_points is not None and len(labels) != num_points:
        raise VoxformerError(f"{path}: {len(labels)} labels but its scan has {num_points} points")
    return (labels & 0xFFFF).astype(np.uint16), (labels >> 16).astype(np.uint16)


def encode_label(semantic: np.ndarray, instance: np.ndarray | None = None) -> np.ndarray:
    """(N,) uint32 SemanticKITTI labels of (N,) semantic ids and optional instance ids (both < 65536)."""
    semantic = np.asarray(semantic, np.int64)
    instance = np.zeros_like(semantic) if instance is None else np.asarray(instance, np.int64)
    if semantic.shape != instance.shape:
        raise VoxformerError(f"semantic {semantic.shape} and instance {instance.shape} ids differ in shape")
    if len(semantic) and (min(semantic.min(), instance.min()) < 0 or max(semantic.max(), instance.max()) > 0xFFFF):
        raise VoxformerError("semantic and instance ids must lie in [0, 65535]")
    return (semantic | (instance << 16)).astype("<u4")


def write_label(path: str | Path, semantic: np.ndarray, instance: np.ndarray | None = None) -> None:
    """Write a ``.label`` file (atomically) of (N,) semantic and optional instance ids."""
    from voxformer.datasets.io import atomic_write_bytes

    atomic_write_bytes(path, encode_label(semantic, instance).tobytes())


def seg_metainfo() -> dict:
    """The dataset metainfo a segmentation dataset of this label space carries."""
    return {
        "classes": (),
        "seg_classes": CLASSES,
        "ignore_index": IGNORE_INDEX,
        "seg_palette": PALETTE,
        "label_format": "semantickitti",
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-path", required=True, help="SemanticKITTI folder holding sequences/NN/velodyne")
    parser.add_argument(
        "--splits", default="train,val,test", help="comma-separated splits to write (default train,val,test)"
    )


def _matrix(values: list[str], where: str) -> np.ndarray:
    """(4, 4) matrix of 12 numbers (a 3 x 4 row-major matrix)."""
    try:
        matrix = np.asarray(values, np.float64).reshape(3, 4)
    except ValueError:
        raise VoxformerError(f"{where}: expected 12 numbers") from None
    return np.vstack([matrix, [0, 0, 0, 1]])


def sequence_poses(folder: Path) -> list[np.ndarray] | None:
    """LiDAR-to-world (4, 4) poses of a sequence (``poses.txt`` through ``calib.txt``'s ``Tr``), or None."""
    poses, calib = folder / "poses.txt", folder / "calib.txt"
    if not poses.is_file() or not calib.is_file():
        return None
    tr = [line.split()[1:] for line in calib.read_text().splitlines() if line.startswith("Tr:")]
    if not tr:
        raise VoxformerError(f"{calib}: no 'Tr:' line (velodyne to camera)")
    velo_to_cam = _matrix(tr[0], f"{calib}: Tr")
    cam_to_velo = np.linalg.inv(velo_to_cam)
    lines = [(n, line.split()) for n, line in enumerate(poses.read_text().splitlines(), 1) if line.strip()]
    return [cam_to_velo @ _matrix(values, f"{poses}: line {n}") @ velo_to_cam for n, values in lines]


def sequence_records(root: Path, out_dir: Path, sequence: int, labelled: bool) -> list[dict]:
    """Info records of one sequence; in a labelled split every scan must have a ``.label`` of its length."""
    import os

    from voxformer.datasets.infos import empty_annos

    folder = root / "sequences" / f"{sequence:02d}"
    scans = sorted((folder / "velodyne").glob("*.bin"))
    if not scans:
        raise VoxformerError(f"{folder / 'velodyne'}: no scans (is --root-path the SemanticKITTI folder?)")
    poses = sequence_poses(folder)
    times = folder / "times.txt"
    stamps = [float(v) for v in times.read_text().split()] if times.is_file() else None
    records = []
    for scan in scans:
        index = int(scan.stem)
        record = {
            "frame_id": f"{sequence:02d}_{scan.stem}",
            "lidar_path": os.path.relpath(scan, out_dir),
            "num_features": NUM_FEATURES,
            "timestamp": stamps[index] if stamps and index < len(stamps) else None,
            "pose": poses[index] if poses and index < len(poses) else None,
            "annos": empty_annos(),
            "sequence": f"{sequence:02d}",
        }
        if labelled:
            label = folder / "labels" / f"{scan.stem}.label"
            if not label.is_file():
                raise VoxformerError(f"{label}: scan {scan.name} has no label file in a labelled split")
            points, labels = scan.stat().st_size // (4 * NUM_FEATURES), label.stat().st_size // 4
            if points != labels or label.stat().st_size % 4:
                raise VoxformerError(f"{label}: {labels} labels but its scan has {points} points")
            record["pts_semantic_mask_path"] = os.path.relpath(label, out_dir)
        records.append(record)
    return records


def convert(args: argparse.Namespace) -> None:
    from voxformer.datasets.infos import info_path, save_infos

    root, out_dir = Path(args.root_path).resolve(), Path(args.out_dir).resolve()
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise VoxformerError(f"--splits: unknown split(s) {unknown}; choose from {sorted(SPLITS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in splits:
        present = [s for s in SPLITS[split] if (root / "sequences" / f"{s:02d}" / "velodyne").is_dir()]
        if not present:
            print(f"skipping {split}: none of sequences {SPLITS[split]} under {root / 'sequences'}")
            continue
        records = [r for s in present for r in sequence_records(root, out_dir, s, split in LABELLED_SPLITS)]
        metainfo = {"dataset": "semantickitti", "split": split, "sequences": tuple(present), **seg_metainfo()}
        save_infos(info_path(out_dir, "semantickitti", split), records, metainfo)
        print(f"wrote {info_path(out_dir, 'semantickitti', split)} ({len(records)} scans)")


def to_raw(learning: np.ndarray) -> np.ndarray:
    """(N,) learning classes (0..18; 255 or anything else -> 0 unlabeled) -> (N,) uint16 raw ids, for ``.label``
    prediction files as the benchmark reads them."""
    table = np.zeros(256, np.uint16)
    table[list(LEARNING_MAP_INV)] = list(LEARNING_MAP_INV.values())
    learning = np.asarray(learning, np.int64)
    return np.where((learning >= 0) & (learning < 256), table[np.clip(learning, 0, 255)], 0).astype(np.uint16)
