"""``voxformer create-data waymo``: Waymo Open Dataset v1 segments (``.tfrecord``) -> point files and infos.

Input layout (as downloaded)::

    <root>/training/segment-*.tfrecord      -> split "train"
    <root>/validation/segment-*.tfrecord    -> split "val"
    <root>/testing/segment-*.tfrecord       -> split "test"

Output, under ``out_dir`` (the data root of the dataset config)::

    waymo_points/<segment>/<frame:04d>.bin   float32 (N, 5): x, y, z, tanh(intensity), elongation (vehicle frame)
    waymo_points/<segment>/infos.pkl         the segment's records; written last, so it marks the segment done
    waymo_infos_<split>.pkl                  all records of the split (schema of voxformer.datasets.infos)

Segments are converted by worker processes, one segment per task; each worker streams its
segment record by record, so memory stays at about one frame per worker whatever the segment
size. Every file is written atomically, and a rerun skips the segments already done (resumable).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from voxformer.datasets.infos import load_pickle, save_infos, save_pickle
from voxformer.datasets.io import write_points
from voxformer.errors import VoxformerError

from .tfrecord import iter_tfrecord
from .waymo import POINT_FEATURES, frame_labels, frame_name, frame_points, frame_pose, parse_frame

CONVERTER_NAME = "waymo"
CONVERTER_HELP = "convert Waymo v1 segments (training/, validation/ .tfrecord) into points, infos and a GT database"
SPLIT_FOLDERS = {"train": "training", "val": "validation", "test": "testing"}
POINTS_FOLDER = "waymo_points"
SEGMENT_INFOS = "infos.pkl"
ALL_LASERS = ("TOP", "FRONT", "SIDE_LEFT", "SIDE_RIGHT", "REAR")
METAINFO = {
    "dataset": "waymo",
    "classes": ("Vehicle", "Pedestrian", "Cyclist"),
    "point_features": POINT_FEATURES,
    "intensity": "tanh of the raw intensity",
    "box_frame": "vehicle frame (x forward, y left, z up), gravity centre",
    "difficulty": "detection_difficulty_level as labelled: 0 unknown, 1 LEVEL_1, 2 LEVEL_2",
}


def segment_name(path: Path) -> str:
    """``segment-<context>_with_camera_labels.tfrecord`` -> ``segment-<context>_with_camera_labels``."""
    return path.name.removesuffix(".tfrecord")


def convert_segment(
    path: str | Path, out_dir: str | Path, lasers: Sequence[str] = ALL_LASERS, returns: Sequence[int] = (1, 2)
) -> list[dict]:
    """Write the point files of one segment and return (and save) its info records, frames in file order."""
    path, out_dir = Path(path), Path(out_dir)
    folder = Path(POINTS_FOLDER) / segment_name(path)
    records = []
    for index, (offset, payload) in enumerate(iter_tfrecord(path)):
        try:
            frame = parse_frame(payload)
            points = frame_points(frame, tuple(lasers), tuple(returns))
        except VoxformerError as error:
            raise VoxformerError(f"{path}: frame {index} (record at offset {offset}): {error}") from None
        lidar_path = folder / f"{index:04d}.bin"
        write_points(out_dir / lidar_path, points)
        labels = frame_labels(frame)
        records.append(
            {
                "frame_id": frame_name(frame),
                "lidar_path": lidar_path.as_posix(),
                "num_features": len(POINT_FEATURES),
                "timestamp": frame.timestamp_micros * 1e-6,
                "pose": frame_pose(frame),
                "segment": segment_name(path),
                "frame_index": index,
                "context_name": frame.context.name,
                "timestamp_micros": int(frame.timestamp_micros),
                "annos": {
                    "boxes": labels.boxes,
                    "names": labels.names,
                    "num_points": labels.num_points,
                    "num_top_points": labels.num_top_points,
                    "difficulty": labels.difficulty,
                    "velocity": labels.velocity,
                    "ids": labels.ids,
                },
            }
        )
    save_pickle(out_dir / folder / SEGMENT_INFOS, records)
    return records


def _done_records(segment: Path, out_dir: Path) -> list[dict] | None:
    marker = out_dir / POINTS_FOLDER / segment_name(segment) / SEGMENT_INFOS
    return load_pickle(marker) if marker.is_file() else None


def convert_waymo(
    root_path: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = ("train", "val"),
    workers: int = 4,
    lasers: Sequence[str] = ALL_LASERS,
    returns: Sequence[int] = (1, 2),
    log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Convert the segments of ``splits``; returns split -> written info file. ``workers=0`` runs in-process."""
    root, out_dir = Path(root_path), Path(out_dir)
    written = {}
    for split in splits:
        if split not in SPLIT_FOLDERS:
            raise VoxformerError(f"split: expected one of {', '.join(SPLIT_FOLDERS)}, got {split!r}")
        segments = sorted((root / SPLIT_FOLDERS[split]).glob("*.tfrecord"))
        if not segments:
            raise VoxformerError(f"{root / SPLIT_FOLDERS[split]}: no .tfrecord segments found for split {split!r}")
        records = {segment: _done_records(segment, out_dir) for segment in segments}
        todo = [segment for segment, done in records.items() if done is None]
        log(f"waymo {split}: {len(segments)} segments, {len(segments) - len(todo)} already converted")
        start = time.monotonic()
        for count, (segment, converted) in enumerate(_run(todo, out_dir, workers, lasers, returns), start=1):
            records[segment] = converted
            elapsed = time.monotonic() - start
            eta = elapsed / count * (len(todo) - count)
            name = segment_name(segment)
            log(f"[{count}/{len(todo)}] {name}: {len(converted)} frames ({elapsed:.0f} s, ETA {eta:.0f} s)")
        info_file = out_dir / f"waymo_infos_{split}.pkl"
        save_infos(info_file, [record for segment in segments for record in records[segment]], METAINFO)
        written[split] = info_file
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-path", required=True, help="Waymo folder holding training/ and validation/")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=sorted(SPLIT_FOLDERS))
    parser.add_argument("--lasers", nargs="+", default=list(ALL_LASERS), choices=ALL_LASERS, help="lidars to keep")
    parser.add_argument("--returns", nargs="+", type=int, default=[1, 2], choices=(1, 2), help="range image returns")


def convert(args: argparse.Namespace) -> None:
    from voxformer.datasets.gt_database import create_gt_database
    from voxformer.datasets.infos import load_infos

    written = convert_waymo(args.root_path, args.out_dir, args.splits, args.workers, args.lasers, args.returns)
    for path in written.values():
        print(f"wrote {path}")
    if "train" in written:
        records = load_infos(written["train"])["data_list"]
        print(f"wrote {create_gt_database(args.out_dir, 'waymo', records, METAINFO['classes'])}")


def _run(segments, out_dir, workers, lasers, returns):
    """Yield (segment, records) as segments finish, in-process or in ``workers`` processes."""
    if workers <= 0:
        for segment in segments:
            yield segment, convert_segment(segment, out_dir, lasers, returns)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(convert_segment, segment, out_dir, lasers, returns): segment for segment in segments}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:  # on an error (or an interrupt), do not start the segments still queued
            for future in futures:
                future.cancel()
