"""``voxformer vis POINTS``: show a point cloud with ground-truth and predicted boxes."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from voxformer.commands.infer import POINT_FORMAT_HELP

NAME = "vis"
HELP = "draw points with ground truth (green) and predictions (red): a window with a display, else PNGs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("points", help="a .bin/.npy/.pcd/.ply point file")
    parser.add_argument("--gt", help="ground-truth boxes: a JSON file with a 'boxes_3d' list of (x y z dx dy dz yaw)")
    parser.add_argument("--pred", help="predictions: a JSON file written by `voxformer infer`")
    parser.add_argument("--score-thr", type=float, default=0.0, help="hide predictions scoring below this")
    parser.add_argument("--color-by", choices=["height", "intensity"], default="height")
    parser.add_argument("--out-dir", help="write <name>_bev.png and <name>_3d.png here instead of opening a window")
    parser.add_argument("--point-format", help=POINT_FORMAT_HELP)


def read_boxes_json(path: str, score_thr: float = 0.0):
    """Boxes (N, 7+) and scores (or None) of a JSON file in the ``voxformer infer`` format."""
    import numpy as np

    from voxformer.errors import VoxformerError

    try:
        content = json.loads(Path(path).read_text())
        boxes = np.asarray(content["boxes_3d"], dtype=np.float32)
        boxes = boxes.reshape(0, 7) if boxes.size == 0 else boxes
        if boxes.ndim != 2 or boxes.shape[1] < 7:
            raise ValueError(f"got shape {boxes.shape}")
        scores = np.asarray(content.get("scores_3d", np.ones(len(boxes))), dtype=np.float32)
        if scores.shape != (len(boxes),):
            raise ValueError(f"{len(boxes)} boxes, 'scores_3d' of shape {scores.shape}")
    except FileNotFoundError:
        raise VoxformerError(f"{path} not found") from None
    except (ValueError, KeyError, TypeError) as error:
        raise VoxformerError(f"{path}: expected JSON with a 'boxes_3d' list of 7+ numbers per box ({error})") from None
    keep = scores >= score_thr
    return boxes[keep], scores[keep] if "scores_3d" in content else None


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.point_files import read_point_file

    points = read_point_file(args.points, args.point_format)
    gt = read_boxes_json(args.gt)[0] if args.gt else None
    pred = read_boxes_json(args.pred, args.score_thr)[0] if args.pred else None
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if args.out_dir or not has_display:
        from voxformer.visualization.scene import render_scene

        out_dir = Path(args.out_dir or "outputs/vis")
        for picture in render_scene(out_dir / Path(args.points).stem, points, gt=gt, pred=pred, color_by=args.color_by):
            print(f"wrote {picture}")
        return 0
    from voxformer.visualization.open3d_render import show_window

    show_window(points, gt, pred, color_by=args.color_by, title=Path(args.points).name)
    return 0
