"""``voxformer create-data nuscenes``: nuScenes JSON tables -> ``nuscenes_infos_<split>.pkl``.

Reads ``<root-path>/<version>/*.json`` with :mod:`.nuscenes` (no devkit needed, except for the
v1.0-trainval scene lists). Point and sweep paths in the infos are relative to ``--out-dir`` (the
data root of the dataset config), so the raw ``samples/`` and ``sweeps/`` files are used in place.
The point files keep their raw layout (x, y, z, intensity 0..255, ring); the loader
:func:`.nuscenes.load_points_with_sweeps` drops the close points, scales the intensity and adds
the sweeps with their time lag. The GT database (``nuscenes_gt_database/``, training split) is cut
from the points as that loader gives them: x, y, z, intensity in [0, 1], time lag (5 values per point).

With ``--lidarseg`` each record of a labelled split (train, val) also gets ``pts_semantic_mask_path``,
the key frame's ``lidarseg/<version>/<token>_lidarseg.bin`` from ``<version>/lidarseg.json`` (uint8
raw class per point of the key frame file, :mod:`.nuscenes_lidarseg`), and the metainfo the
segmentation metainfo; a key frame without one, or whose length is not its scan's, is an error.
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path

from .nuscenes import (
    DETECTION_CLASSES,
    FILE_FEATURES,
    POINT_FEATURES,
    VERSIONS,
    create_nuscenes_infos,
    load_points_with_sweeps,
)

CONVERTER_NAME = "nuscenes"
CONVERTER_HELP = "read the nuScenes v1.0 JSON tables (mini, trainval or test) into infos with sweeps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-path", required=True, help="nuScenes folder holding samples/, sweeps/ and <version>/")
    parser.add_argument("--version", default="v1.0-trainval", choices=VERSIONS, help="tables to read")
    parser.add_argument("--max-sweeps", type=int, default=10, help="earlier LiDAR sweeps listed per key frame")
    parser.add_argument(
        "--lidarseg", action="store_true", help="add the lidarseg per-point label files (<version>/lidarseg.json)"
    )


def metainfo(version: str, split: str, max_sweeps: int) -> dict:
    return {
        "dataset": "nuscenes",
        "version": version,
        "split": split,
        "classes": DETECTION_CLASSES,
        "point_features": (*POINT_FEATURES, "time_lag"),
        "file_features": FILE_FEATURES,
        "intensity": "raw 0..255 in the files; divided by 255 when loaded",
        "max_sweeps": max_sweeps,
    }


def lidarseg_files(root: Path, version: str) -> dict[str, str]:
    """Key-frame sample_data token -> lidarseg label file (relative to ``root``), from ``lidarseg.json``."""
    import json

    from voxformer.errors import VoxformerError

    path = root / version / "lidarseg.json"
    if not path.is_file():
        raise VoxformerError(f"{path}: not found (--lidarseg needs the nuScenes-lidarseg tables in {root / version})")
    try:
        rows = json.loads(path.read_text())
        return {row["sample_data_token"]: row["filename"] for row in rows}
    except (ValueError, TypeError, KeyError) as error:
        raise VoxformerError(f"{path}: not a lidarseg table ({type(error).__name__}: {error})") from None


def add_lidarseg(records: list[dict], root: Path, files: dict[str, str]) -> None:
    """Set each record's ``pts_semantic_mask_path`` (relative to ``root``), checking the file's length."""
    from voxformer.errors import VoxformerError

    from .nuscenes import FILE_FEATURES

    for record in records:
        scan = root / record["lidar_path"]
        if record["lidar_token"] not in files:
            raise VoxformerError(f"{scan}: the key frame has no lidarseg labels in a labelled split")
        label = root / files[record["lidar_token"]]
        if not label.is_file():
            raise VoxformerError(f"{label}: lidarseg label file not found (labels of {scan.name})")
        points, labels = scan.stat().st_size // (4 * FILE_FEATURES), label.stat().st_size
        if points != labels:
            raise VoxformerError(f"{label}: {labels} labels but its scan {scan.name} has {points} points")
        record["pts_semantic_mask_path"] = files[record["lidar_token"]]


def relocate(records: list[dict], root: Path, out_dir: Path) -> None:
    """Make the point and sweep paths (relative to ``root``) relative to ``out_dir``, in place."""
    for record in records:
        record["lidar_path"] = Path(os.path.relpath(root / record["lidar_path"], out_dir)).as_posix()
        if "pts_semantic_mask_path" in record:
            label = root / record["pts_semantic_mask_path"]
            record["pts_semantic_mask_path"] = Path(os.path.relpath(label, out_dir)).as_posix()
        for sweep in record["sweeps"]:
            sweep["path"] = Path(os.path.relpath(root / sweep["path"], out_dir)).as_posix()


def convert(args: argparse.Namespace) -> None:
    from voxformer.datasets.gt_database import create_gt_database
    from voxformer.datasets.infos import info_path, save_infos

    from .nuscenes_lidarseg import seg_metainfo

    root, out_dir = Path(args.root_path).resolve(), Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = lidarseg_files(root, args.version) if args.lidarseg else None
    for split, records in create_nuscenes_infos(root, args.version, args.max_sweeps).items():
        labelled = files is not None and split != "test"
        if labelled:
            add_lidarseg(records, root, files)
        relocate(records, root, out_dir)
        path = info_path(out_dir, "nuscenes", split)
        meta = metainfo(args.version, split, args.max_sweeps)
        save_infos(path, records, {**meta, **seg_metainfo()} if labelled else meta)
        print(f"wrote {path} ({len(records)} frames)")
        if split == "train":
            loaded = partial(load_points_with_sweeps, data_root=out_dir)
            print(f"wrote {create_gt_database(out_dir, 'nuscenes', records, DETECTION_CLASSES, load_points=loaded)}")
