"""``voxformer browse CONFIG``: draw the ground truth of the first frames of a config's training set.

A bird's-eye-view PNG per frame always; also a 3D PNG when :mod:`voxformer.visualization.open3d_render`
is installed. Without ``--aug`` the augmentations of the pipeline are switched off (as in the last
epochs), so the boxes are those of the files; with it, they are drawn as the model sees them.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from voxformer.commands import add_data_root_argument

NAME = "browse"
HELP = "draw ground-truth boxes over the points of a config's training frames (PNG files)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="config file with a train_dataloader")
    parser.add_argument("--aug", action="store_true", help="apply the training augmentations")
    parser.add_argument("--num", type=int, default=5, help="number of frames (default 5)")
    parser.add_argument("--out-dir", default="browse", help="folder for the PNG files (default ./browse)")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override config keys")
    add_data_root_argument(parser)
    parser.add_argument("--split", default="train", choices=("train", "val", "test"), help="which dataloader")


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.config import load_config, naming_config_key
    from voxformer.engine.hooks import set_augmentation
    from voxformer.errors import VoxformerError
    from voxformer.registry import DATASETS
    from voxformer.visualization.bev import draw_bev

    config = load_config(args.config, args.cfg_options, data_root=args.data_root)
    key = f"{args.split}_dataloader"
    if key not in config:
        raise VoxformerError(f"{args.config}: no {key} in the config")
    with naming_config_key(args.config, f"{key}.dataset"):
        dataset = DATASETS.build(config[key]["dataset"])
    set_augmentation(dataset, args.aug)
    render_3d = None
    if importlib.util.find_spec("voxformer.visualization.open3d_render") is not None:
        from voxformer.visualization.open3d_render import render_png as render_3d
    out_dir = Path(args.out_dir)
    classes = list(dataset.metainfo["classes"])
    point_cloud_range = config[key]["dataset"].get("point_cloud_range")
    for index in range(min(args.num, len(dataset))):
        item = dataset[index]
        sample = item["data_samples"]
        points = item["inputs"]["points"]
        gt = sample.gt_instances_3d
        names = [classes[i] if i >= 0 else "?" for i in gt.labels_3d.tolist()]
        frame = sample.metainfo.get("frame_id", str(index))
        path = out_dir / f"{frame}_bev.png"
        draw_bev(
            points,
            gt.bboxes_3d,
            gt_labels=names,
            point_cloud_range=point_cloud_range,
            out_path=path,
            title=f"{frame}: {len(gt)} boxes, {len(points)} points{' (augmented)' if args.aug else ''}",
        )
        print(f"wrote {path}")
        if render_3d is not None:
            try:
                render_3d(out_dir / f"{frame}_3d.png", points.numpy(), gt_boxes=gt.bboxes_3d.tensor.numpy())
                print(f"wrote {out_dir / f'{frame}_3d.png'}")
            except VoxformerError as error:  # e.g. no off-screen renderer here: the BEV image stands
                print(f"no 3D image for {frame}: {error}")
    return 0
