"""``voxformer evaluate {kitti,waymo,nuscenes,semantickitti,lidar-boxes}``: score saved predictions offline.

``kitti --fp-per-frame`` and ``lidar-boxes`` give recall and unmatched detections per frame on a few real
scans (:mod:`voxformer.evaluation.frame_recall`) instead of AP."""

from __future__ import annotations

import argparse
import json
import math
import numbers
from pathlib import Path

from voxformer.errors import VoxformerError

NAME = "evaluate"
HELP = (
    "score saved predictions offline (KITTI label files, Waymo metrics.Objects .bin, nuScenes results JSON, "
    "SemanticKITTI .label / .npy per-point labels); recall and unmatched detections per frame on real scans "
    "(kitti --fp-per-frame, lidar-boxes)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    kitti = sub.add_parser("kitti", help="KITTI label_2 files against result files (score as 16th field)")
    kitti.add_argument("--gt-dir", required=True, help="folder of ground-truth label_2 .txt files")
    kitti.add_argument("--pred-dir", required=True, help="folder of result .txt files (same names)")
    kitti.add_argument(
        "--calib-dir",
        default=None,
        help="calib folder: BEV / 3D IoU of the boxes converted to the LiDAR frame, taken as upright there; not "
        "KITTI's camera-frame overlaps (per-pair IoU moves by up to ~0.01): leave it out for the official AP",
    )
    kitti.add_argument("--classes", nargs="+", default=["Car", "Pedestrian", "Cyclist"])
    kitti.add_argument(
        "--fp-per-frame",
        action="store_true",
        help="instead of AP: recall per class in range and unmatched detections per frame in range and in the "
        "camera's view (docs/real_frames.md); needs --calib-dir; predictions may be `voxformer infer` JSON",
    )
    kitti.add_argument(
        "--image-size",
        nargs=2,
        type=int,
        metavar=("W", "H"),
        default=None,
        help="image size for the camera's view with --fp-per-frame (default 1242 375, KITTI's usual)",
    )
    lidar_boxes = sub.add_parser(
        "lidar-boxes",
        help="LiDAR-frame ground-truth boxes JSON (e.g. the nuScenes keyframe's) against `voxformer infer` JSON: "
        "recall per class in range and unmatched detections per frame (360 deg, no camera)",
    )
    lidar_boxes.add_argument("--gt", nargs="+", required=True, help='ground-truth files {"boxes": [{name, box}]}')
    lidar_boxes.add_argument("--pred", nargs="+", required=True, help="prediction files, one per --gt, same order")
    lidar_boxes.add_argument(
        "--classes",
        nargs="+",
        default=["Car", "Pedestrian", "Cyclist"],
        help="evaluated classes; nuScenes car, pedestrian and bicycle count as Car, Pedestrian and Cyclist",
    )
    for frames_parser in (kitti, lidar_boxes):
        frames_parser.add_argument(
            "--score-thr", type=float, default=0.3, help="recall / unmatched: detections scoring at least this"
        )
        add_range_arguments(frames_parser, "recall / unmatched: the LiDAR-frame BEV range box centres must lie in")
    waymo = sub.add_parser("waymo", help="Waymo metrics.Objects files (the official tool's inputs)")
    waymo.add_argument("--gt", required=True, help="ground truth .bin")
    waymo.add_argument("--pred", required=True, help="predictions .bin")
    nuscenes = sub.add_parser("nuscenes", help="nuScenes infos .pkl against a submission-format results JSON")
    nuscenes.add_argument("--gt", required=True, help="nuscenes_infos_<split>.pkl (from voxformer create-data)")
    nuscenes.add_argument("--pred", required=True, help="results JSON (global frame, as submitted)")
    semantickitti = sub.add_parser(
        "semantickitti", help="per-point labels: mIoU, per-class IoU and mIoU by range, on the original points"
    )
    semantickitti.add_argument(
        "--gt-dir", required=True, help="folder searched for ground-truth .label files (e.g. sequences/08/labels)"
    )
    semantickitti.add_argument(
        "--pred-dir",
        required=True,
        help="predictions at the same relative paths: .label (raw SemanticKITTI ids) or .npy (classes 0-18, 255)",
    )
    semantickitti.add_argument(
        "--scan-dir",
        default=None,
        help="scans (.bin) at the same relative paths, for the ranges of the distance bins and the length check "
        "(default: velodyne/ next to each labels/ folder, when present)",
    )
    for dataset_parser in (kitti, waymo, nuscenes, semantickitti, lidar_boxes):
        dataset_parser.add_argument("--json", default=None, metavar="FILE", help="also write the numbers as JSON")


def read_kitti_objects(path: Path, with_score: bool, calib=None) -> dict:
    """One KITTI label / result file -> the annotation dict of :func:`evaluate_kitti`.

    Without ``calib`` the boxes are placed in a right-handed z-up frame built from the camera axes
    (x = cam z, y = -cam x, z = -cam y): a rigid motion, so BEV and 3D overlaps equal KITTI's."""
    import numpy as np

    from voxformer.datasets.formats.kitti import label_rows

    names, values = label_rows(path, with_score)
    anno = {
        "name": np.array(names, dtype=str),
        "truncated": values[:, 0],
        "occluded": values[:, 1].astype(np.int64),
        "alpha": values[:, 2],
        "bbox": values[:, 3:7],
    }
    hwl, location, rotation_y = values[:, 7:10], values[:, 10:13], values[:, 13]
    if calib is not None:
        from voxformer.structures import Boxes3D

        boxes = Boxes3D.from_kitti_camera(location, hwl, rotation_y, calib).tensor.double().numpy()
    else:
        center = np.stack([location[:, 2], -location[:, 0], -(location[:, 1] - hwl[:, 0] / 2)], axis=1)
        yaw = np.remainder(-rotation_y - math.pi / 2 + math.pi, 2 * math.pi) - math.pi
        boxes = np.concatenate([center, hwl[:, [2, 1, 0]], yaw[:, None]], axis=1)
    anno["boxes_lidar"] = boxes
    if with_score:
        anno["score"] = values[:, 14]
    return anno


def _evaluate_kitti(args: argparse.Namespace) -> dict:
    from voxformer.evaluation.kitti_eval import evaluate_kitti, flatten_kitti, format_kitti
    from voxformer.structures import KittiCalib

    gt_dir, pred_dir = Path(args.gt_dir), Path(args.pred_dir)
    for folder in (gt_dir, pred_dir) + ((Path(args.calib_dir),) if args.calib_dir else ()):
        if not folder.is_dir():
            raise VoxformerError(f"{folder}: not a folder")
    label_files = sorted(gt_dir.glob("*.txt"))
    if not label_files:
        raise VoxformerError(f"{gt_dir}: no label .txt files")
    if args.fp_per_frame:
        return _kitti_frames(args, label_files)
    if args.range or args.config or args.image_size:
        raise VoxformerError("--range, --config and --image-size apply with --fp-per-frame only")
    gt_annos, det_annos = [], []
    for label_file in label_files:
        calib = KittiCalib.from_file(Path(args.calib_dir) / label_file.name) if args.calib_dir else None
        gt_annos.append(read_kitti_objects(label_file, with_score=False, calib=calib))
        result_file = pred_dir / label_file.name
        if result_file.is_file():
            det_annos.append(read_kitti_objects(result_file, with_score=True, calib=calib))
        else:  # a frame without detections may have no file
            det_annos.append(read_kitti_objects(Path("/dev/null"), with_score=True))
    results = evaluate_kitti(gt_annos, det_annos, classes=tuple(args.classes))
    print(format_kitti(results))
    return flatten_kitti(results)


def add_range_arguments(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--range XMIN YMIN XMAX YMAX`` or ``--config CONFIG`` (its point_cloud_range), exclusive; read them with
    :func:`bev_range_from_args`."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--range",
        nargs=4,
        type=float,
        metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
        default=None,
        help=f"{purpose} (default: everywhere)",
    )
    where.add_argument("--config", default=None, help="take --range from this config's point_cloud_range")


def bev_range_from_args(args: argparse.Namespace):
    """(xmin, ymin, xmax, ymax) of ``--range`` or of ``--config``'s point_cloud_range; None for everywhere."""
    if args.config is None:
        return None if args.range is None else tuple(args.range)
    from voxformer.apis.config import load_config

    pc_range = load_config(args.config).get("point_cloud_range")
    if pc_range is None or len(pc_range) != 6:
        raise VoxformerError(f"{args.config}: no point_cloud_range [xmin, ymin, zmin, xmax, ymax, zmax] to take")
    return (pc_range[0], pc_range[1], pc_range[3], pc_range[4])


def _score_frames(frames: list, args: argparse.Namespace, bev_range, view: str) -> dict:
    from voxformer.evaluation.frame_recall import evaluate_frames, format_frames

    result = evaluate_frames(frames, tuple(args.classes), score_thr=args.score_thr)
    result["range"] = None if bev_range is None else list(bev_range)
    where = "everywhere" if bev_range is None else "x in [{0:g}, {2:g}), y in [{1:g}, {3:g})".format(*bev_range)
    print(format_frames(result, f"range {where}, {view}"))
    return result


def _kitti_frames(args: argparse.Namespace, label_files: list[Path]) -> dict:
    """``evaluate kitti --fp-per-frame``: recall and unmatched detections (voxformer.evaluation.frame_recall)."""
    from voxformer.evaluation.frame_files import (
        KITTI_IMAGE_SIZE,
        class_indices,
        covered_by,
        image_boxes,
        in_camera_view,
        read_infer_json,
    )
    from voxformer.evaluation.frame_recall import Frame, in_bev_range
    from voxformer.structures import KittiCalib

    if not args.calib_dir:
        raise VoxformerError("--fp-per-frame needs --calib-dir (the LiDAR frame and the camera's view)")
    bev_range, classes = bev_range_from_args(args), tuple(args.classes)
    image_size = tuple(args.image_size) if args.image_size else KITTI_IMAGE_SIZE
    frames = []
    for label_file in label_files:
        calib = KittiCalib.from_file(Path(args.calib_dir) / label_file.name)
        gt = read_kitti_objects(label_file, with_score=False, calib=calib)
        found = [Path(args.pred_dir) / f"{label_file.stem}{suffix}" for suffix in (".json", ".txt")]
        found = [path for path in found if path.is_file()]
        if len(found) != 1:
            problem = "no prediction file" if not found else "both a .json and a .txt prediction file"
            raise VoxformerError(f"{Path(args.pred_dir) / label_file.stem}.json/.txt: {problem} for {label_file}")
        if found[0].suffix == ".json":
            boxes, names, scores = read_infer_json(found[0])
        else:
            det = read_kitti_objects(found[0], with_score=True, calib=calib)
            boxes, names, scores = det["boxes_lidar"], det["name"], det["score"]
        dontcare = gt["name"] == "DontCare"
        frames.append(
            Frame(
                label_file.stem,
                gt["boxes_lidar"][~dontcare],
                class_indices(gt["name"][~dontcare], classes),
                boxes,
                class_indices(names, classes),
                scores,
                gt_in_region=in_bev_range(gt["boxes_lidar"][~dontcare], bev_range),
                pred_in_region=in_bev_range(boxes, bev_range) & in_camera_view(boxes, calib, image_size),
                pred_excused=covered_by(image_boxes(boxes, calib, image_size), gt["bbox"][dontcare]),
            )
        )
    return _score_frames(frames, args, bev_range, f"camera view {image_size[0]}x{image_size[1]}")


def _evaluate_lidar_boxes(args: argparse.Namespace) -> dict:
    """``evaluate lidar-boxes``: recall and unmatched detections, 360 deg, nuScenes names mapped."""
    import numpy as np

    from voxformer.evaluation.frame_files import (
        NUSCENES_ALIASES,
        NUSCENES_IGNORED,
        class_indices,
        read_boxes_json,
        read_infer_json,
    )
    from voxformer.evaluation.frame_recall import IGNORED, Frame, in_bev_range

    if len(args.gt) != len(args.pred):
        raise VoxformerError(f"--gt has {len(args.gt)} files and --pred {len(args.pred)}: give one prediction each")
    bev_range, classes = bev_range_from_args(args), tuple(args.classes)
    frames = []
    for gt_file, pred_file in zip(args.gt, args.pred):
        gt_boxes, gt_names, usable = read_boxes_json(gt_file)
        gt_class = class_indices(gt_names, classes, NUSCENES_ALIASES)
        ignored = ~usable | np.isin(np.char.lower(np.asarray(gt_names, str)), NUSCENES_IGNORED)
        gt_class[ignored] = IGNORED
        kept = (gt_class >= 0) | ignored  # other classes (barriers, cones) are no objects of interest
        boxes, names, scores = read_infer_json(pred_file)
        frames.append(
            Frame(
                Path(gt_file).stem,
                gt_boxes[kept],
                gt_class[kept],
                boxes,
                class_indices(names, classes, NUSCENES_ALIASES),
                scores,
                gt_in_region=in_bev_range(gt_boxes[kept], bev_range),
                pred_in_region=in_bev_range(boxes, bev_range),
            )
        )
    return _score_frames(frames, args, bev_range, "360 deg")


def _evaluate_waymo(args: argparse.Namespace) -> dict:
    from voxformer.evaluation.waymo_eval import evaluate_waymo, format_waymo
    from voxformer.evaluation.waymo_proto import read_objects

    gt = read_objects(args.gt)
    pred = read_objects(args.pred, frame_keys=gt.frame_keys)
    results = evaluate_waymo(gt, pred)
    print(format_waymo(results))
    return results


def _evaluate_nuscenes(args: argparse.Namespace) -> dict:
    import numpy as np

    from voxformer.datasets.infos import load_infos
    from voxformer.evaluation.nuscenes_eval import evaluate_nuscenes, format_nuscenes
    from voxformer.evaluation.nuscenes_results import read_results

    records = load_infos(args.gt)["data_list"]
    submission = read_results(args.pred)
    gt_frames, pred_frames = [], []
    for record in records:
        if record["frame_id"] not in submission:
            raise VoxformerError(f"{args.pred}: no results for sample {record['frame_id']} (every sample must appear)")
        if record["pose"] is None:
            raise VoxformerError(
                f"{args.gt}: frame {record['frame_id']} has no pose to bring results to the LiDAR frame"
            )
        world_to_lidar = np.linalg.inv(np.asarray(record["pose"], np.float64))
        annos = record["annos"]
        boxes = np.asarray(annos["boxes"], np.float64)
        gt_frames.append(
            {
                "boxes": boxes[:, :7],
                "velocity": np.asarray(annos.get("velocity", np.full((len(boxes), 2), np.nan)), np.float64),
                "names": np.asarray(annos["names"]),
                "attributes": np.asarray(annos.get("attributes", [""] * len(boxes))),
                "num_points": np.asarray(annos["num_points"]) + np.asarray(annos.get("num_radar_points", 0)),
            }
        )
        pred_frames.append(_submission_to_lidar(submission[record["frame_id"]], world_to_lidar))
    results = evaluate_nuscenes(gt_frames, pred_frames)
    print(format_nuscenes(results))
    return results


def _submission_to_lidar(entries: list[dict], world_to_lidar) -> dict:
    """nuScenes result boxes (global frame, size w l h, quaternion w x y z) -> LiDAR-frame arrays."""
    import numpy as np

    rotation, translation = world_to_lidar[:3, :3], world_to_lidar[:3, 3]
    boxes, velocity = [], []
    for entry in entries:
        w, x, y, z = entry["rotation"]
        heading = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)])  # box +x in world
        heading = rotation @ heading
        width, length, height = entry["size"]
        centre = rotation @ np.asarray(entry["translation"], np.float64) + translation
        boxes.append([*centre, length, width, height, math.atan2(heading[1], heading[0])])
        velocity.append(rotation[:2, :2] @ np.asarray(entry.get("velocity", [np.nan, np.nan]), np.float64)[:2])
    return {
        "boxes": np.asarray(boxes, np.float64).reshape(-1, 7),
        "velocity": np.asarray(velocity, np.float64).reshape(-1, 2),
        "names": np.array([e["detection_name"] for e in entries], dtype=str),
        "attributes": np.array([e.get("attribute_name", "") for e in entries], dtype=str),
        "scores": np.array([e["detection_score"] for e in entries], np.float64),
    }


def _scan_of(label: Path, relative: Path, scan_dir: str | None) -> Path | None:
    """The scan of a ground-truth ``.label``: under ``scan_dir`` at the same relative path, else velodyne/."""
    if scan_dir is not None:
        return Path(scan_dir) / relative.with_suffix(".bin")
    sibling = label.parent.parent / "velodyne" / f"{label.stem}.bin"
    return sibling if label.parent.name == "labels" and sibling.is_file() else None


def _evaluate_semantickitti(args: argparse.Namespace) -> dict:
    import numpy as np

    from voxformer.datasets.formats.semantickitti import CLASSES, NUM_FEATURES, read_label, to_learning
    from voxformer.datasets.io import read_points
    from voxformer.datasets.seg_labels import read_learning_npy
    from voxformer.evaluation.seg_eval import confusion, format_scores, scores

    gt_dir, pred_dir = Path(args.gt_dir), Path(args.pred_dir)
    for folder in (gt_dir, pred_dir):
        if not folder.is_dir():
            raise VoxformerError(f"{folder}: not a folder")
    label_files = sorted(gt_dir.rglob("*.label"))
    if not label_files:
        raise VoxformerError(f"{gt_dir}: no .label files")
    edges = (20.0, 50.0)
    total = np.zeros((1 + len(edges) + 1, len(CLASSES), len(CLASSES) + 1), np.int64)
    with_ranges = True
    for label_file in label_files:
        relative = label_file.relative_to(gt_dir)
        scan = _scan_of(label_file, relative, args.scan_dir)
        points = None if scan is None else read_points(scan, NUM_FEATURES)
        semantic, _ = read_label(label_file, None if points is None else len(points))
        target = to_learning(semantic, label_file)
        candidates = [pred_dir / relative, pred_dir / relative.with_suffix(".npy")]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise VoxformerError(f"{candidates[0]}: no prediction (.label or .npy) for {label_file}")
        if found[0].suffix == ".label":
            prediction = to_learning(read_label(found[0], len(target))[0], found[0])
        else:
            prediction = read_learning_npy(found[0], len(target), len(CLASSES))
        distance = None if points is None else np.linalg.norm(points[:, :3].astype(np.float64), axis=1)
        with_ranges &= distance is not None
        counts = confusion(target, prediction, len(CLASSES), distance=distance, edges=edges)
        total[: len(counts)] += counts  # the whole scan, then its bins when its ranges are known
    result = scores(total if with_ranges else total[:1], CLASSES, edges=edges if with_ranges else ())
    print(f"{len(label_files)} scans" + ("" if with_ranges else " (no scans found: no distance bins)"))
    print(format_scores(result))
    flat = {"mIoU": result["mIoU"], **{f"IoU/{name}": value for name, value in result["IoU"].items()}}
    flat.update({f"mIoU/{name}": values["mIoU"] for name, values in result["bins"].items()})
    return flat


def _json_safe(value):
    """``value`` with every NaN (a class with neither target nor prediction) as ``None``: JSON has no NaN."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, numbers.Real) and math.isnan(float(value)):
        return None
    return value


def run(args: argparse.Namespace) -> int:
    evaluate = {
        "kitti": _evaluate_kitti,
        "waymo": _evaluate_waymo,
        "nuscenes": _evaluate_nuscenes,
        "semantickitti": _evaluate_semantickitti,
        "lidar-boxes": _evaluate_lidar_boxes,
    }[args.dataset]
    results = evaluate(args)
    if args.json:
        Path(args.json).write_text(json.dumps(_json_safe(results), indent=2, default=float, allow_nan=False))
        print(f"wrote {args.json}")
    return 0
