"""``voxformer vis POINTS``: show a point cloud with ground-truth and predicted boxes, or (``--labels`` /
``--pred-labels``) its points coloured by class, ground truth and prediction side by side."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from voxformer.commands.evaluate import add_range_arguments, bev_range_from_args
from voxformer.commands.infer import POINT_FORMAT_HELP

NAME = "vis"
HELP = "draw points with ground truth (green) and predictions (red): a window with a display, else PNGs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("points", help="a .bin/.npy/.pcd/.ply point file")
    parser.add_argument("--gt", help="ground-truth boxes: a JSON file with a 'boxes_3d' list of (x y z dx dy dz yaw), "
                        "or a KITTI label_2 .txt file (with --calib)")
    parser.add_argument("--calib", help="the KITTI calib .txt file of a label_2 --gt (camera -> LiDAR frame)")
    parser.add_argument("--pred", help="predictions: a JSON file written by `voxformer infer`")
    parser.add_argument("--score-thr", type=float, default=0.0, help="hide predictions scoring below this")
    add_range_arguments(parser, "BEV picture: show only this LiDAR-frame box")
    parser.add_argument("--color-by", choices=["height", "intensity"], default="height")
    parser.add_argument("--out-dir", help="write <name>_bev.png and <name>_3d.png here instead of opening a window")
    parser.add_argument("--point-format", help=POINT_FORMAT_HELP)
    parser.add_argument("--labels", help="ground-truth classes per point: a .label (SemanticKITTI), "
                        "_lidarseg.bin (nuScenes) or .npy (learning classes) file")
    parser.add_argument("--pred-labels", help="predicted classes per point: a .label or .npy file of `voxformer infer`")
    parser.add_argument("--label-space", choices=["semantickitti", "nuscenes"], default="semantickitti",
                        help="class names and palette of --labels / --pred-labels (the synthetic data: semantickitti)")


def read_point_labels(path: str, label_space: str, num_points: int):
    """(N,) learning classes of a per-point label file, by its suffix, checked against the scan's point count."""
    from voxformer.datasets.seg_labels import read_seg_labels

    if path.endswith(".npy"):
        return read_seg_labels(path, "learning", num_points, num_classes=len(_label_space(label_space)[0]))
    return read_seg_labels(path, "semantickitti" if path.endswith(".label") else "nuscenes", num_points)


def _label_space(name: str):
    if name == "nuscenes":
        from voxformer.datasets.formats import nuscenes_lidarseg as space
    else:
        from voxformer.datasets.formats import semantickitti as space
    return space.CLASSES, space.PALETTE


def read_boxes_json(path: str):
    """Boxes (N, 7+), scores (N,) or None and names (N strings) or None of a JSON file in the
    ``voxformer infer`` format."""
    import numpy as np

    from voxformer.errors import VoxformerError

    try:
        content = json.loads(Path(path).read_text())
        boxes = np.asarray(content["boxes_3d"], dtype=np.float32)
        boxes = boxes.reshape(0, 7) if boxes.size == 0 else boxes
        if boxes.ndim != 2 or boxes.shape[1] < 7:
            raise ValueError(f"got shape {boxes.shape}")
        scores = content.get("scores_3d")
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape != (len(boxes),):
                raise ValueError(f"{len(boxes)} boxes, 'scores_3d' of shape {scores.shape}")
    except FileNotFoundError:
        raise VoxformerError(f"{path} not found") from None
    except (ValueError, KeyError, TypeError) as error:
        raise VoxformerError(f"{path}: expected JSON with a 'boxes_3d' list of 7+ numbers per box ({error})") from None
    names = content.get("names") or None
    if names is None:
        return boxes, scores, None
    if not isinstance(names, list) or len(names) != len(boxes):
        count = f"{len(names)} names" if isinstance(names, list) else "'names' is not a list"
        raise VoxformerError(f"{path}: {len(boxes)} boxes but {count}")
    return boxes, scores, [str(name) for name in names]


def read_predictions(path: str, score_thr: float):
    """``Detections`` of a ``voxformer infer`` JSON file scoring at least ``score_thr``, so that the
    pictures print each box's class and score."""
    import numpy as np
    import torch

    from voxformer.apis.inference import Detections
    from voxformer.structures import Boxes3D

    boxes, scores, names = read_boxes_json(path)
    scores = np.ones(len(boxes), np.float32) if scores is None else scores
    names = names or [""] * len(boxes)
    keep = np.flatnonzero(scores >= score_thr)
    classes = tuple(dict.fromkeys(names))
    labels = torch.tensor([classes.index(names[i]) for i in keep], dtype=torch.long)
    return Detections(Boxes3D(torch.from_numpy(boxes[keep, :7])), torch.from_numpy(scores[keep]), labels, classes)


def read_gt_boxes(path: str, calib: str | None):
    """(N, 7) ground-truth boxes in the LiDAR frame: a ``voxformer infer``-style JSON file, or a KITTI
    ``label_2`` file converted with its ``calib`` file (DontCare rows left out)."""
    if not path.endswith(".txt"):
        return read_boxes_json(path)[0]
    from voxformer.datasets.formats.kitti import read_calib, read_label
    from voxformer.errors import VoxformerError
    from voxformer.structures import Boxes3D

    if calib is None:
        raise VoxformerError(f"{path} is a KITTI label file: give its calib file with --calib")
    label = read_label(path)
    boxes = Boxes3D.from_kitti_camera(label["location"], label["dimensions"], label["rotation_y"], read_calib(calib))
    return boxes.tensor.numpy()[label["names"] != "DontCare"]


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.point_files import read_point_file

    points = read_point_file(args.points, args.point_format)
    if args.labels or args.pred_labels:
        from voxformer.visualization.seg_pictures import render_seg_scene

        gt_labels, pred_labels = (
            read_point_labels(path, args.label_space, len(points)) if path else None
            for path in (args.labels, args.pred_labels)
        )
        class_names, palette = _label_space(args.label_space)
        out_dir = Path(args.out_dir or "outputs/vis")
        for picture in render_seg_scene(out_dir / Path(args.points).stem, points, class_names, palette,
                                        gt_labels, pred_labels):
            print(f"wrote {picture}")
        return 0
    gt = read_gt_boxes(args.gt, args.calib) if args.gt else None
    pred = read_predictions(args.pred, args.score_thr) if args.pred else None
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if args.out_dir or not has_display:
        from voxformer.visualization.scene import render_scene

        out_dir = Path(args.out_dir or "outputs/vis")
        pictures = render_scene(
            out_dir / Path(args.points).stem, points, gt=gt, pred=pred, color_by=args.color_by,
            bev_range=bev_range_from_args(args),
        )
        for picture in pictures:
            print(f"wrote {picture}")
        return 0
    from voxformer.visualization.open3d_render import show_window

    show_window(points, gt, pred, color_by=args.color_by, title=Path(args.points).name)
    return 0
