"""KITTI 3D object: label/calib parsing and ``voxformer create-data kitti``.

Reads ``<root>/training/{velodyne,label_2,calib}`` (and ``testing/`` for the test split) with the
splits of ``<root>/ImageSets/{train,val,trainval,test}.txt``; without ImageSets every training frame
goes to ``train``. Writes ``kitti_infos_<split>.pkl`` and, from ``train``, the GT database into
``--out-dir``; point paths in the infos are relative to ``--out-dir`` (the data root).

Annotations keep every label row (DontCare and classes the model ignores included) for the KITTI
metric: ``names``, ``truncated``, ``occluded``, ``alpha``, ``bbox`` (left, top, right, bottom px),
``dimensions`` (h, w, l), ``location`` (bottom centre, rectified camera), ``rotation_y``, plus the
shared fields: ``boxes`` (LiDAR frame via :meth:`Boxes3D.from_kitti_camera`), ``num_points``
(-1 for DontCare) and ``difficulty`` (docs/references.md §KITTI difficulty; -1 when no level applies or DontCare).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

CONVERTER_NAME = "kitti"
CONVERTER_HELP = "convert KITTI 3D object (training/testing, ImageSets) into infos and a GT database"
CLASSES = ("Car", "Pedestrian", "Cyclist")
NUM_FEATURES = 4
LABEL_FIELDS = 15
# (min 2D height px, max occluded, max truncated) for easy, moderate, hard
DIFFICULTY_RULES = ((40.0, 0, 0.15), (25.0, 1, 0.30), (25.0, 2, 0.50))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-path", required=True, help="KITTI folder holding training/ (and ImageSets/, testing/)")


def label_rows(path: str | Path, with_score: bool = False) -> tuple[list[str], np.ndarray]:
    """Class names and (N, 14) float64 values (fields 2-15) of a KITTI label file, (N, 15) with the
    score of a result file. A label row has 15 fields (16 with a score); a result row must have 16.
    An unreadable file, a wrong field count or a non-finite number raises an error naming the file
    and line."""
    from voxformer.errors import VoxformerError

    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise VoxformerError(f"{path}: cannot read KITTI label file ({error})") from None
    widths = (LABEL_FIELDS + 1,) if with_score else (LABEL_FIELDS, LABEL_FIELDS + 1)
    names, rows = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in widths:
            raise VoxformerError(f"{path}:{number}: expected {widths[0]} fields, got {len(fields)}")
        try:
            values = [float(v) for v in fields[1 : widths[0]]]
        except ValueError as error:
            raise VoxformerError(f"{path}:{number}: {error}") from None
        if not all(math.isfinite(v) for v in values):
            raise VoxformerError(f"{path}:{number}: a field is not a finite number")
        names.append(fields[0])
        rows.append(values)
    return names, np.array(rows, np.float64).reshape(-1, widths[0] - 1)


def read_label(path: str | Path) -> dict[str, np.ndarray]:
    """The label fields of a ``label_2`` file as arrays (see the module docstring; rows of
    :func:`label_rows`)."""
    names, values = label_rows(path)
    return {
        "names": np.array(names, dtype="<U16"),
        "truncated": values[:, 0].astype(np.float32),
        "occluded": values[:, 1].astype(np.int32),
        "alpha": values[:, 2].astype(np.float32),
        "bbox": values[:, 3:7].astype(np.float32),
        "dimensions": values[:, 7:10].astype(np.float32),
        "location": values[:, 10:13].astype(np.float32),
        "rotation_y": values[:, 13].astype(np.float32),
    }


def read_calib(path: str | Path):
    """:class:`KittiCalib` of a calib file; a missing or malformed matrix raises an error naming the file."""
    from voxformer.structures import KittiCalib

    return KittiCalib.from_file(path)


def kitti_difficulty(bbox: np.ndarray, occluded: np.ndarray, truncated: np.ndarray) -> np.ndarray:
    """(N,) int32: 0 easy, 1 moderate, 2 hard, -1 none (docs/references.md §KITTI difficulty)."""
    height = bbox[:, 3] - bbox[:, 1]
    difficulty = np.full(len(bbox), -1, np.int32)
    for level in reversed(range(len(DIFFICULTY_RULES))):
        min_height, max_occluded, max_truncated = DIFFICULTY_RULES[level]
        meets = (height >= min_height) & (occluded <= max_occluded) & (truncated <= max_truncated)
        difficulty[meets] = level
    return difficulty


def frame_record(root: Path, out_dir: Path, part: str, frame_id: str, with_labels: bool) -> dict:
    """The info record of one frame (``part`` is ``training`` or ``testing``)."""
    import torch

    from voxformer.datasets.infos import empty_annos
    from voxformer.datasets.io import read_points
    from voxformer.ops import count_points_in_boxes
    from voxformer.structures import Boxes3D

    velodyne = root / part / "velodyne" / f"{frame_id}.bin"
    calib = read_calib(root / part / "calib" / f"{frame_id}.txt")
    record = {
        "frame_id": frame_id,
        "lidar_path": os.path.relpath(velodyne, out_dir),
        "num_features": NUM_FEATURES,
        "timestamp": None,
        "pose": None,
        "calib": {"P2": calib.P2, "R0_rect": calib.R0, "Tr_velo_to_cam": calib.V2C},
        "annos": empty_annos(),
    }
    if not with_labels:
        return record
    label = read_label(root / part / "label_2" / f"{frame_id}.txt")
    boxes = Boxes3D.from_kitti_camera(label["location"], label["dimensions"], label["rotation_y"], calib).tensor
    cared = label["names"] != "DontCare"
    points = read_points(velodyne, NUM_FEATURES)
    num_points = np.full(len(boxes), -1, np.int32)
    num_points[cared] = count_points_in_boxes(torch.from_numpy(points[:, :3]), boxes[cared]).numpy()
    difficulty = kitti_difficulty(label["bbox"], label["occluded"], label["truncated"])
    difficulty[~cared] = -1
    record["annos"] = {
        **label,
        "boxes": boxes.numpy().astype(np.float32),
        "num_points": num_points,
        "difficulty": difficulty,
    }
    return record


def find_splits(root: Path) -> dict[str, tuple[str, list[str]]]:
    """split -> (part folder, frame ids), from ImageSets or, without it, all training frames as ``train``."""
    from voxformer.errors import VoxformerError

    image_sets = root / "ImageSets"
    splits = {}
    if image_sets.is_dir():
        for split in ("train", "val", "trainval", "test"):
            path = image_sets / f"{split}.txt"
            if path.is_file():
                part = "testing" if split == "test" else "training"
                splits[split] = (part, [line.strip() for line in path.read_text().splitlines() if line.strip()])
    if not splits:
        velodyne = root / "training" / "velodyne"
        if not velodyne.is_dir():
            raise VoxformerError(f"{root}: no training/velodyne folder: is --root-path a KITTI object folder?")
        ids = sorted(p.stem for p in velodyne.glob("*.bin"))
        print(f"note: {image_sets} not found; all {len(ids)} training frames form the 'train' split")
        splits["train"] = ("training", ids)
    return splits


def convert(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from voxformer.datasets.gt_database import create_gt_database
    from voxformer.datasets.infos import info_path, save_infos

    root, out_dir = Path(args.root_path).resolve(), Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    metainfo = {"dataset": "kitti", "classes": CLASSES, "point_features": ("x", "y", "z", "intensity")}
    records_by_split = {}
    for split, (part, ids) in find_splits(root).items():
        with_labels = part == "training"
        records = [
            frame_record(root, out_dir, part, frame_id, with_labels)
            for frame_id in tqdm(ids, desc=f"kitti {split}", unit="frame")
        ]
        save_infos(info_path(out_dir, "kitti", split), records, {**metainfo, "split": split})
        print(f"wrote {info_path(out_dir, 'kitti', split)} ({len(records)} frames)")
        records_by_split[split] = records
    if "train" in records_by_split:
        print(f"wrote {create_gt_database(out_dir, 'kitti', records_by_split['train'], CLASSES)}")
