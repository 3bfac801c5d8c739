"""``voxformer test CONFIG CHECKPOINT``: evaluate a checkpoint on the config's test set."""

from __future__ import annotations

import argparse

from voxformer.commands import add_data_root_argument

NAME = "test"
HELP = "evaluate a checkpoint with the config's test metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file")
    parser.add_argument("checkpoint", help="checkpoint file (.pth)")
    parser.add_argument("--work-dir", help="where logs and metrics go (default work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override config keys")
    add_data_root_argument(parser)
    parser.add_argument("--out", metavar="FILE", help="also dump the raw predictions to this .pkl file")
    parser.add_argument("--show-dir", metavar="DIR", help="write a BEV PNG of every frame's predictions here")
    parser.add_argument("--score-thr", type=float, default=0.3, help="score threshold of the pictures")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none", help="distributed launcher")
    parser.add_argument("--local-rank", "--local_rank", type=int, default=0, help=argparse.SUPPRESS)


def evaluate(args: argparse.Namespace) -> dict:
    """Run the test loop with the flags of this command; returns the metrics."""
    from voxformer.apis.runner import build_runner

    runner = build_runner(args, mode="test")
    if args.out:
        from mmengine.evaluator import DumpResults

        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    if args.show_dir:
        from voxformer.engine.visualization_hook import PredictionPictureHook

        runner.register_hook(PredictionPictureHook(args.show_dir, score_thr=args.score_thr), priority="LOWEST")
    return runner.test()


def run(args: argparse.Namespace) -> int:
    metrics = evaluate(args)
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    return 0
