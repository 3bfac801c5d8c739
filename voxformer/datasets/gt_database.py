"""GT database for copy-paste augmentation (docs/references.md §GT sampling), for any dataset's infos.

``<name>_gt_database/<frame_id>_<class>_<k>.bin``: the points of object k of a frame, with the box
centre subtracted (x, y, z relative to the gravity centre; other features unchanged), float32.
``<name>_dbinfos_train.pkl``: ``{class name: [entry, ...]}``, an entry being ``name``, ``path``
(relative to the data root), ``frame_id``, ``gt_idx``, ``box3d_lidar`` (7+,) float32,
``num_points_in_gt``, ``difficulty``.

The object points are cut from the frame's points as the dataset loads them: by default the raw
``lidar_path`` file (``num_features`` values per point); a dataset whose loader does more (nuScenes:
intensity scaling, close-point removal, sweeps) passes its own ``load_points``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from voxformer.datasets.box_points import points_near_boxes
from voxformer.datasets.infos import save_pickle
from voxformer.datasets.io import read_points, write_points
from voxformer.ops import points_in_boxes

IGNORED_NAMES = ("DontCare",)


def database_paths(root: str | Path, name: str) -> tuple[Path, Path]:
    """(folder of object files, dbinfos pickle) of dataset ``name`` under ``root``."""
    root = Path(root)
    return root / f"{name}_gt_database", root / f"{name}_dbinfos_train.pkl"


def read_record_points(root: Path, record: dict) -> np.ndarray:
    """The points of an info record as stored: its ``lidar_path`` file under ``root``, ``num_features`` wide."""
    return read_points(root / record["lidar_path"], record["num_features"])


def create_gt_database(
    root: str | Path,
    name: str,
    records: Iterable[dict],
    classes: Iterable[str] | None = None,
    progress: bool = True,
    load_points: Callable[[dict], np.ndarray] | None = None,
) -> Path:
    """Write the object files and the dbinfos of ``records`` (training infos) under ``root``; returns
    the dbinfos path. Objects with no point are skipped; DontCare rows are never stored.

    ``load_points(record)`` gives the frame's float32 (N, C) points, x, y, z first (default: the
    ``lidar_path`` file under ``root`` read with the record's ``num_features``).
    """
    from tqdm import tqdm

    root = Path(root)
    load_points = load_points or partial(read_record_points, root)
    folder, dbinfos_path = database_paths(root, name)
    classes = None if classes is None else set(classes)
    records = list(records)
    dbinfos: dict[str, list[dict]] = {}
    for record in tqdm(records, desc=f"{name} gt database", unit="frame", disable=not progress):
        annos = record["annos"]
        wanted = [
            k for k, n in enumerate(annos["names"]) if n not in IGNORED_NAMES and (classes is None or n in classes)
        ]
        if not wanted:
            continue
        points = load_points(record)
        boxes = np.asarray(annos["boxes"], np.float32)[wanted]
        owner = np.full(len(points), -1)
        near = points_near_boxes(points, boxes)
        owner[near] = points_in_boxes(torch.from_numpy(points[near, :3]), torch.from_numpy(boxes)).numpy()
        for j, k in enumerate(wanted):
            object_points = points[owner == j].copy()
            if len(object_points) == 0:
                continue
            object_points[:, :3] -= boxes[j, :3]
            class_name = str(annos["names"][k])
            relative = f"{folder.name}/{record['frame_id']}_{class_name}_{k}.bin"
            write_points(root / relative, object_points)
            dbinfos.setdefault(class_name, []).append(
                {
                    "name": class_name,
                    "path": relative,
                    "frame_id": record["frame_id"],
                    "gt_idx": k,
                    "box3d_lidar": boxes[j].copy(),
                    "num_points_in_gt": len(object_points),
                    "difficulty": int(annos["difficulty"][k]),
                }
            )
    save_pickle(dbinfos_path, dbinfos)
    return dbinfos_path
