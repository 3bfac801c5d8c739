"""``voxformer quickstart``: the whole job on a fresh machine, end to end.

Generates the synthetic dataset (kept for reruns), trains a small detector on it (resuming a run
that was cut short), evaluates it, runs inference on a held-out frame, draws it, and says where
everything is. ``--task seg`` does the same with a segmentor: the sparse-convolution U-Net
(configs/segmentation/unet_synthetic_quick.py, the default) or ``--model sphereformer``
(configs/sphereformer/sphereformer_synthetic_quick.py): per-class IoU, a label file and GT-vs-prediction pictures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from voxformer.errors import ConfigError

NAME = "quickstart"
HELP = "generate the synthetic dataset, train a small detector on it, evaluate it and draw its predictions"

MODELS = ("dsvt", "flatformer", "scatterformer")
SEG_CONFIGS = {
    "unet": Path("configs/segmentation/unet_synthetic_quick.py"),
    "sphereformer": Path("configs/sphereformer/sphereformer_synthetic_quick.py"),
}
DEFAULT_MODEL = {"det": "dsvt", "seg": "unet"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("det", "seg"), default="det", help="detection or semantic segmentation")
    parser.add_argument("--model", choices=(*MODELS, *SEG_CONFIGS), default=None,
                        help=f"det: one of {', '.join(MODELS)} (default dsvt); seg: unet (default) or sphereformer")
    parser.add_argument("--data-root", default="data/synthetic", help="where the synthetic dataset is kept")
    parser.add_argument("--frames", type=int, default=400, help="synthetic frames to generate (train + val)")
    parser.add_argument("--work-dir", help="default work_dirs/quickstart_<model> (seg: work_dirs/quickstart_seg, "
                        "sphereformer: work_dirs/quickstart_seg_sphereformer)")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys")


def _dataset_ready(root: Path, frames: int, labels: bool = False) -> bool:
    """The infos of ``frames`` frames and the GT database exist (with ``labels``: the per-point label files too)."""
    from voxformer.datasets.infos import load_infos

    try:
        splits = [load_infos(root / f"synthetic_infos_{split}.pkl")["data_list"] for split in ("train", "val")]
    except Exception:
        return False
    if labels and not all((root / f.get("pts_semantic_mask_path", "-")).is_file() for split in splits for f in split):
        return False
    return sum(map(len, splits)) == frames and (root / "synthetic_dbinfos_train.pkl").is_file()


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.config import load_config
    from voxformer.cli import main as cli

    started = time.perf_counter()
    root = Path(args.data_root)
    segmentation = args.task == "seg"
    model = args.model or DEFAULT_MODEL[args.task]
    if model not in (SEG_CONFIGS if segmentation else MODELS):
        choices = ", ".join(SEG_CONFIGS if segmentation else MODELS)
        raise ConfigError(f"quickstart --model {model} is not a {args.task} model; --task {args.task} takes {choices}")
    config = SEG_CONFIGS[model] if segmentation else Path("configs") / model / f"{model}_synthetic_quick.py"
    name = ("seg" if model == "unet" else f"seg_{model}") if segmentation else model
    work_dir = Path(args.work_dir or f"work_dirs/quickstart_{name}")
    options = list(args.cfg_options)
    load_config(config, options)  # a wrong option fails now, not after the dataset is generated

    _step(f"1/4 synthetic dataset in {root}")
    if _dataset_ready(root, args.frames, labels=segmentation):
        print(f"reusing the {args.frames} frames already in {root}")
    elif code := cli(["create-data", "synthetic", "--out-dir", str(root), "--frames", str(args.frames)]):
        return code  # the step printed why

    _step(f"2/4 training {config} (work dir {work_dir})")
    no_validation = ["train_cfg.val_begin=1000000"]  # step 3 evaluates the final checkpoint instead
    train_args = ["train", str(config), "--work-dir", str(work_dir), "--resume", "auto", "--data-root", str(root)]
    if code := cli([*train_args, "--cfg-options", *options, *no_validation]):
        return code
    checkpoint = Path((work_dir / "last_checkpoint").read_text().strip())

    _step(f"3/4 evaluating {checkpoint} on the validation frames")
    from voxformer.commands import test

    test_args = argparse.Namespace(
        config=str(config), checkpoint=str(checkpoint), work_dir=str(work_dir), cfg_options=options,
        data_root=str(root), out=None, show_dir=None, score_thr=0.3, launcher="none", local_rank=0,
    )
    metrics = test.evaluate(test_args)
    metrics_path = work_dir / "quickstart_metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=1))

    _step("4/4 inference on a held-out frame")
    infer_held_out = _segment_held_out if segmentation else _infer_held_out
    pictures, prediction_path = infer_held_out(config, checkpoint, root, work_dir, options)

    minutes = (time.perf_counter() - started) / 60
    print(f"\nquickstart finished in {minutes:.1f} min")
    for name in (metrics if segmentation else sorted(metrics)):
        if name.startswith(("seg/mIoU", "seg/IoU/")) or name.endswith(
            ("_3d/moderate_R40", "_bev/moderate_R40", "LEVEL_2/mAPH")
        ):
            print(f"  {name}: {metrics[name]:.2f}")
    print(f"checkpoint:  {checkpoint}")
    print(f"metrics:     {metrics_path}")
    print(f"predictions: {prediction_path}")
    for picture in pictures:
        print(f"picture:     {picture}")
    return 0


def _infer_held_out(config: Path, checkpoint: Path, root: Path, work_dir: Path, options: list[str]):
    from voxformer.apis.inference import inference_detector, init_detector
    from voxformer.apis.point_files import read_point_file
    from voxformer.datasets.infos import load_infos
    from voxformer.visualization.scene import render_scene

    frame = load_infos(root / "synthetic_infos_val.pkl")["data_list"][0]
    points = read_point_file(root / frame["lidar_path"], frame["num_features"])
    model = init_detector(str(config), str(checkpoint), device="cpu", cfg_options=options)
    detections = inference_detector(model, points, score_thr=0.3)
    out_dir = work_dir / "pictures"
    out_dir.mkdir(parents=True, exist_ok=True)
    prediction_path = out_dir / f"{frame['frame_id']}.json"
    prediction_path.write_text(json.dumps(detections.to_json(), indent=1))
    print(f"frame {frame['frame_id']}: {len(detections)} detections, {len(frame['annos']['boxes'])} labelled boxes")
    pictures = render_scene(out_dir / frame["frame_id"], points, gt=frame["annos"]["boxes"], pred=detections)
    return pictures, prediction_path


def _segment_held_out(config: Path, checkpoint: Path, root: Path, work_dir: Path, options: list[str]):
    """Label the first validation frame: its label files, and its pictures with the ground truth beside."""
    from voxformer.apis.inference import init_detector
    from voxformer.apis.point_files import read_point_file
    from voxformer.apis.seg_inference import inference_segmentor, write_label_files
    from voxformer.datasets.infos import load_infos
    from voxformer.datasets.seg_labels import read_seg_labels
    from voxformer.visualization.seg_pictures import render_seg_scene

    infos = load_infos(root / "synthetic_infos_val.pkl")
    frame = infos["data_list"][0]
    points = read_point_file(root / frame["lidar_path"], frame["num_features"])
    model = init_detector(str(config), str(checkpoint), device="cpu", cfg_options=options)
    result = inference_segmentor(model, points)
    out_dir = work_dir / "pictures"
    written = write_label_files(result, out_dir / frame["frame_id"])
    gt_labels = read_seg_labels(root / frame["pts_semantic_mask_path"], infos["metainfo"]["label_format"], len(points))
    accuracy = float((result.labels.numpy() == gt_labels)[gt_labels != 255].mean())
    print(f"frame {frame['frame_id']}: {len(points)} points, point accuracy {100 * accuracy:.1f} %")
    pictures = render_seg_scene(out_dir / frame["frame_id"], points, result.class_names, result.palette,
                                gt_labels=gt_labels, pred_labels=result.labels.numpy())
    return pictures, written[-1]
