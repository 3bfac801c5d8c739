"""``voxformer export CONFIG CHECKPOINT --out model.onnx``: a detector as an ONNX file (or a ``torch.export``
program) for onnxruntime / TensorRT; what the graph holds and takes is in docs/deploy.md."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = "export a trained detector to ONNX (or torch.export) for onnxruntime / TensorRT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from voxformer.deploy.export import DEFAULT_OPSET, FORMATS

    parser.add_argument("config", help="the model's config file")
    parser.add_argument("checkpoint", help="trained weights (.pth)")
    parser.add_argument("--out", required=True, help="where the exported file goes (e.g. model.onnx)")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="onnx", help="onnx (default) or torch-export")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument(
        "--static", action="store_true", help="fix every axis to the tracing scan's size (default: dynamic axes)"
    )
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override config keys")
    parser.add_argument(
        "--trt-shapes-from",
        metavar="FOLDER",
        help="point files of the dataset: print a trtexec command whose shape profile fits their sizes (onnx only)",
    )


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.inference import init_detector
    from voxformer.deploy import export_model
    from voxformer.errors import VoxformerError

    if args.trt_shapes_from and args.fmt != "onnx":
        raise VoxformerError("--trt-shapes-from sizes a TensorRT profile for an ONNX file; use --format onnx")
    model = init_detector(args.config, args.checkpoint, device="cpu", cfg_options=args.cfg_options)
    out = export_model(model, model.cfg, args.out, fmt=args.fmt, opset=args.opset, static=args.static)
    print(f"{args.config} -> {out} ({args.fmt})")
    if args.trt_shapes_from:
        print(trtexec_command(model, out, Path(args.trt_shapes_from)))
    return 0


def trtexec_command(model, onnx_path: Path, folder: Path) -> str:
    """A ``trtexec`` command building an fp16 engine from ``onnx_path`` with a shape profile sized from the point
    files in ``folder`` (read as the model's test pipeline reads them)."""
    import onnx

    from voxformer.apis.point_files import read_model_points
    from voxformer.commands.infer import input_files
    from voxformer.deploy.shapes import trtexec_shapes

    names = [graph_input.name for graph_input in onnx.load(str(onnx_path), load_external_data=False).graph.input]
    scans = (read_model_points(path, model.cfg) for path in input_files(folder))
    profile = trtexec_shapes(model, scans, names)
    flags = " ".join(f"--{key}={value}" for key, value in profile.items())
    return f"trtexec --onnx={onnx_path} --saveEngine={onnx_path.with_suffix('.engine')} --fp16 {flags}"
