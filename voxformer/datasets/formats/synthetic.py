"""``voxformer create-data synthetic``: generate the synthetic LiDAR dataset on disk.

Layout under ``--out-dir`` (the data root)::

    points/NNNNNN.bin               float32 (N, 4) x, y, z, intensity in [0, 1], LiDAR frame
    labels/NNNNNN.label             uint32 (N,) per point, SemanticKITTI layout: raw semantic id in the
                                    lower 16 bits, instance id in the upper 16 (voxformer.datasets.synthetic.semantics)
    labels/NNNNNN.pkl               the frame's info record (written last: a frame is done when it exists)
    synthetic_infos_{train,val}.pkl
    synthetic_gt_database/, synthetic_dbinfos_train.pkl

Frames are generated in worker processes; a frame whose label record exists with the same seed,
sensor and mount height is kept, so an interrupted run resumes. The last ``--val-fraction`` of the
frames form the ``val`` split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CONVERTER_NAME = "synthetic"
CONVERTER_HELP = "generate ray-cast street scenes (the dataset a fresh machine trains on)"
CLASSES = ("Car", "Pedestrian", "Cyclist")
NUM_FEATURES = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=200, help="number of frames (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed: same seed, same bytes (default 0)")
    from voxformer.datasets.synthetic.sensors import SENSORS

    parser.add_argument(
        "--sensor",
        default="hdl64",
        choices=tuple(SENSORS),
        help="beam pattern: hdl64 (KITTI, default), waymo (Waymo TOP), hdl32 (nuScenes), pandar128 (128 beams)",
    )
    parser.add_argument(
        "--mount-height", type=float, default=None, help="sensor height above the ground, m (default: the sensor's)"
    )
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of frames in the val split")


def frame_id(index: int) -> str:
    return f"{index:06d}"


def _generator_key(seed: int, sensor: str, index: int, mount_height: float | None = None) -> dict:
    """What a frame is generated from, as its record stores it (the mount height only when overridden)."""
    return {
        "seed": seed,
        "sensor": sensor,
        "index": index,
        **({} if mount_height is None else {"mount_height": mount_height}),
    }


def _record(index: int, annos: dict, seed: int, sensor: str, mount_height: float | None) -> dict:
    return {
        "frame_id": frame_id(index),
        "lidar_path": f"points/{frame_id(index)}.bin",
        "pts_semantic_mask_path": f"labels/{frame_id(index)}.label",
        "num_features": NUM_FEATURES,
        "timestamp": index * 0.1,
        "pose": None,
        "annos": annos,
        "generator": _generator_key(seed, sensor, index, mount_height),
    }


def write_frame(out_dir: str | Path, seed: int, index: int, sensor: str, mount_height: float | None = None) -> int:
    """Generate frame ``index`` and write its points, its point labels, then its record (all atomically)."""
    from voxformer.datasets.infos import save_pickle
    from voxformer.datasets.io import atomic_write_bytes, write_points
    from voxformer.datasets.synthetic.generate import generate_frame

    out_dir = Path(out_dir)
    frame = generate_frame(seed, index, sensor, mount_height=mount_height)
    write_points(out_dir / "points" / f"{frame_id(index)}.bin", frame.points)
    atomic_write_bytes(out_dir / "labels" / f"{frame_id(index)}.label", frame.point_labels.astype("<u4").tobytes())
    save_pickle(out_dir / "labels" / f"{frame_id(index)}.pkl", _record(index, frame.annos, seed, sensor, mount_height))
    return index


def _write_frame_job(job: tuple) -> int:
    return write_frame(*job)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _is_done(out_dir: Path, index: int, seed: int, sensor: str, mount_height: float | None = None) -> bool:
    from voxformer.datasets.infos import load_pickle
    from voxformer.errors import VoxformerError

    label = out_dir / "labels" / f"{frame_id(index)}.pkl"
    files = (label, out_dir / "points" / f"{frame_id(index)}.bin", out_dir / "labels" / f"{frame_id(index)}.label")
    if not all(path.is_file() for path in files):
        return False
    try:
        return load_pickle(label).get("generator") == _generator_key(seed, sensor, index, mount_height)
    except VoxformerError:
        return False


def generate(
    out_dir: str | Path,
    frames: int,
    seed: int = 0,
    sensor: str = "hdl64",
    workers: int = 2,
    progress: bool = True,
    mount_height: float | None = None,
) -> list[int]:
    """Generate the frames that are missing under ``out_dir``; returns the indices generated now."""
    import multiprocessing

    from tqdm import tqdm

    out_dir = Path(out_dir)
    todo = [i for i in range(frames) if not _is_done(out_dir, i, seed, sensor, mount_height)]
    if len(todo) < frames:
        print(f"resuming: {frames - len(todo)} of {frames} frames already present in {out_dir}")
    jobs = [(str(out_dir), seed, i, sensor, mount_height) for i in todo]
    bar = tqdm(total=len(jobs), desc="synthetic frames", unit="frame", disable=not progress)
    if workers <= 1:
        for job in jobs:
            _write_frame_job(job)
            bar.update()
    else:
        with multiprocessing.get_context().Pool(workers, initializer=_worker_init) as pool:
            for _ in pool.imap_unordered(_write_frame_job, jobs):
                bar.update()
    bar.close()
    return todo


def split_of(index: int, frames: int, val_fraction: float) -> str:
    """``val`` for the last ``round(frames * val_fraction)`` frames, else ``train``."""
    return "val" if index >= frames - int(round(frames * val_fraction)) else "train"


def convert(args: argparse.Namespace) -> None:
    from voxformer.datasets.formats.semantickitti import seg_metainfo
    from voxformer.datasets.gt_database import create_gt_database
    from voxformer.datasets.infos import info_path, load_pickle, save_infos
    from voxformer.datasets.synthetic.semantics import ABSENT_CLASSES
    from voxformer.errors import VoxformerError

    if args.frames < 1:
        raise VoxformerError(f"--frames must be at least 1, got {args.frames}")
    if not 0 <= args.val_fraction < 1:
        raise VoxformerError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.mount_height is not None and not args.mount_height > 0:
        raise VoxformerError(f"--mount-height must be above 0 m, got {args.mount_height}")
    out_dir = Path(args.out_dir)
    generate(out_dir, args.frames, args.seed, args.sensor, args.workers, mount_height=args.mount_height)
    metainfo = {
        "dataset": "synthetic",
        "classes": CLASSES,
        "sensor": args.sensor,
        **({} if args.mount_height is None else {"mount_height": args.mount_height}),
        "seed": args.seed,
        "point_features": ("x", "y", "z", "intensity"),
        "intensity": "reflectance * cos(incidence) * range falloff, in [0, 1]",
        **{key: value for key, value in seg_metainfo().items() if key != "classes"},
        "absent_seg_classes": ABSENT_CLASSES,
    }
    splits: dict[str, list[dict]] = {"train": [], "val": []}
    for index in range(args.frames):
        record = load_pickle(out_dir / "labels" / f"{frame_id(index)}.pkl")
        splits[split_of(index, args.frames, args.val_fraction)].append(record)
    for split, records in splits.items():
        save_infos(info_path(out_dir, "synthetic", split), records, {**metainfo, "split": split})
        print(f"wrote {info_path(out_dir, 'synthetic', split)} ({len(records)} frames)")
    dbinfos = create_gt_database(out_dir, "synthetic", splits["train"], CLASSES)
    print(f"wrote {dbinfos}")
