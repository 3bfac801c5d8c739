"""``voxformer infer INPUT``: detect objects in point-cloud files; JSON out, pictures optional.

With a segmentor's config it labels every point instead: ``<name>.npy`` (learning classes) and, in
SemanticKITTI's label space, ``<name>.label`` per scan (:mod:`voxformer.apis.seg_inference`); the pictures
colour the points by class."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "infer"
HELP = "run a trained detector or segmentor on a .bin/.npy/.pcd/.ply file or a folder of them"
POINT_FORMAT_HELP = (
    "how a raw .bin/.npy file is laid out: kitti (x y z reflectance), nuscenes (x y z intensity 0-255 ring), "
    "waymo (x y z tanh(intensity) elongation) or a column count (x y z intensity first)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a point file or a folder of point files")
    parser.add_argument("--config", required=True, help="the model's config file")
    parser.add_argument("--checkpoint", required=True, help="trained weights (.pth)")
    parser.add_argument("--score-thr", type=float, default=0.3, help="keep detections scoring at least this")
    parser.add_argument(
        "--pred-dir", default="outputs/preds", help="where <name>.json predictions (segmentors: <name>.label/.npy) go"
    )
    parser.add_argument("--out-dir", help="also render <name>_bev.png and <name>_3d.png here")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override config keys")
    parser.add_argument("--point-format", help=POINT_FORMAT_HELP + "; default: the model config's dataset layout")
    parser.add_argument(
        "--backend",
        choices=("pytorch", "onnxruntime"),
        default="pytorch",
        help="run the network in PyTorch (default) or with onnxruntime on the --onnx file (detectors only)",
    )
    parser.add_argument("--onnx", help="the file of `voxformer export` for --backend onnxruntime")


def input_files(path: Path) -> list[Path]:
    from voxformer.apis.point_files import SUPPORTED_SUFFIXES
    from voxformer.errors import VoxformerError

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise VoxformerError(f"{path} holds no point files ({', '.join(SUPPORTED_SUFFIXES)})")
        return files
    if not path.exists():
        raise VoxformerError(f"{path} not found")
    return [path]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from voxformer.apis.inference import inference_detector, init_detector
    from voxformer.apis.point_files import point_layout, read_model_points

    files = input_files(Path(args.input))
    layout = point_layout(args.point_format)
    model = init_detector(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    pred_dir = Path(args.pred_dir)
    pred_dir.mkdir(parents=True, exist_ok=True)
    from voxformer.apis.seg_inference import is_segmentor

    if is_segmentor(model) and args.backend != "pytorch":
        from voxformer.errors import VoxformerError

        raise VoxformerError(f"{args.config}: --backend {args.backend} runs detectors only; this is a segmentor")
    if is_segmentor(model):
        return _run_segmentor(args, files, model, layout, pred_dir)
    runtime = _runtime(args, model)
    for path in tqdm(files, desc="infer", unit="file", disable=len(files) == 1):
        points = read_model_points(path, model.cfg, layout)  # as the model's test pipeline gives them
        detections = inference_detector(model, points, score_thr=args.score_thr, runtime=runtime)
        prediction_path = pred_dir / f"{path.stem}.json"
        prediction_path.write_text(json.dumps(detections.to_json(), indent=1))
        counts = {name: detections.names.count(name) for name in sorted(set(detections.names))}
        print(f"{path.name}: {len(points)} points, {len(detections)} objects {counts} -> {prediction_path}")
        if args.out_dir:
            from voxformer.visualization.scene import render_scene

            for picture in render_scene(Path(args.out_dir) / path.stem, points.numpy(), pred=detections):
                print(f"  picture {picture}")
    return 0


def _runtime(args: argparse.Namespace, model):
    """The onnxruntime session of ``--backend onnxruntime``, None for PyTorch."""
    from voxformer.errors import VoxformerError

    if args.backend == "pytorch":
        if args.onnx:
            raise VoxformerError("--onnx is read with --backend onnxruntime only")
        return None
    if not args.onnx:
        raise VoxformerError("--backend onnxruntime needs --onnx FILE (from voxformer export)")
    if args.device != "cpu":
        raise VoxformerError("--backend onnxruntime picks its own provider (CUDA when present); leave --device cpu")
    from voxformer.deploy import OnnxDetector

    return OnnxDetector(args.onnx, model)


def _run_segmentor(args: argparse.Namespace, files: list[Path], model, layout, pred_dir: Path) -> int:
    from tqdm import tqdm

    from voxformer.apis.point_files import read_model_points
    from voxformer.apis.seg_inference import inference_segmentor, write_label_files

    for path in tqdm(files, desc="infer", unit="file", disable=len(files) == 1):
        points = read_model_points(path, model.cfg, layout)
        result = inference_segmentor(model, points)
        written = write_label_files(result, pred_dir / path.stem)
        print(f"{path.name}: {len(points)} points {result.counts()} -> {', '.join(str(p) for p in written)}")
        if args.out_dir:
            from voxformer.visualization.seg_pictures import default_palette, render_seg_scene

            palette = result.palette or default_palette(len(result.class_names))
            pictures = render_seg_scene(
                Path(args.out_dir) / path.stem, points.numpy(), result.class_names, palette, pred_labels=result.labels
            )
            for picture in pictures:
                print(f"  picture {picture}")
    return 0

