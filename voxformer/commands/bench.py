"""``voxformer bench``: time ops, attention and models next to named baselines (ratios)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil

from voxformer import benchmark
from voxformer.errors import VoxformerError

NAME = "bench"
HELP = "benchmark ops, attention kernels and models against baselines measured in the same run"
DTYPES = ("float32", "bfloat16", "float16")


def suites() -> dict[str, object]:
    """Suite name -> module, for every module of :mod:`voxformer.benchmark` that defines ``SUITE``."""
    found = {}
    for info in pkgutil.iter_modules(benchmark.__path__):
        module = importlib.import_module(f"{benchmark.__name__}.{info.name}")
        if hasattr(module, "SUITE"):
            found[module.SUITE] = module
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", nargs="*", default=["all"], help="one or more of ops, attention, models; or all")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--dtype", choices=DTYPES, default=None, help="input dtype of suites that take one (default: the suite's own)"
    )
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (steadier ratios on a busy machine)")
    parser.add_argument("--dry-run", action="store_true", help="check the suites and options, print them, time nothing")


def run(args: argparse.Namespace) -> int:
    import torch

    from voxformer.benchmark.timing import format_table, write_json

    available = suites()
    names = sorted(available) if "all" in args.suite else list(dict.fromkeys(args.suite))
    unknown = [n for n in names if n not in available]
    if unknown:
        raise VoxformerError(f"unknown suite {unknown[0]!r}; choose one of {sorted(available) + ['all']}")
    options = {} if args.dtype is None else {"dtype": getattr(torch, args.dtype)}
    fixed = [n for n in names if options and "dtype" not in inspect.signature(available[n].run).parameters]
    if fixed:
        raise VoxformerError(f"suite {fixed[0]!r} has no --dtype option; run it without --dtype")
    if args.dry_run:
        print(f"would run {', '.join(names)} on {args.device or 'the default device'} ({args.dtype or 'own dtype'})")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise VoxformerError("--device cuda was asked for but no CUDA device is available")
    rows = []
    for name in names:
        print(f"== {name} on {device}", flush=True)
        suite_rows = available[name].run(device, quick=args.quick, **options)
        print(format_table(suite_rows), flush=True)
        rows.extend(suite_rows)
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {len(rows)} rows to {args.json}")
    return 0
