"""``voxformer train CONFIG``: train a detector with mmengine's Runner."""

from __future__ import annotations

import argparse

from voxformer.commands import add_data_root_argument

NAME = "train"
HELP = "train a detector from a config (console progress with ETA, log file, TensorBoard)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file, e.g. configs/dsvt/dsvt_synthetic_quick.py")
    parser.add_argument("--work-dir", help="where logs and checkpoints go (default work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override config keys")
    add_data_root_argument(parser)
    parser.add_argument(
        "--resume", nargs="?", const="auto", metavar="auto|PATH",
        help="resume from the newest checkpoint of the work dir (auto, the default) or from PATH",
    )
    parser.add_argument(
        "--amp", action="store_true", help="mixed precision: bf16 (CPU, GPUs with bf16), else fp16 with loss scaling"
    )
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none", help="distributed launcher")
    parser.add_argument("--seed", type=int, help="random seed (default: the config's)")
    parser.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    parser.add_argument("--local-rank", "--local_rank", type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from voxformer.apis.runner import build_runner

    runner = build_runner(args, mode="train")
    runner.train()
    print(f"training finished; checkpoints and logs in {runner.work_dir}")
    return 0
