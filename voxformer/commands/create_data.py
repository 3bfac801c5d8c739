"""``voxformer create-data DATASET [options]``: convert or generate a dataset into infos and a GT database.

The datasets come from :func:`voxformer.datasets.create_data.converters` (one module per dataset
in ``voxformer/datasets/formats/``), so a new format adds itself without changing this command.
They are discovered when the command runs, keeping ``voxformer --help`` free of heavy imports;
``voxformer create-data DATASET --help`` shows a dataset's options.
"""

from __future__ import annotations

import argparse

NAME = "create-data"
HELP = "write <dataset>_infos_<split>.pkl and the GT database (synthetic: generate the frames first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="synthetic, kitti, or another converter's name")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the dataset's options (DATASET --help lists them)")


def dataset_parser(name: str, module) -> argparse.ArgumentParser:
    """The argument parser of one converter: the shared flags plus the converter's own."""
    parser = argparse.ArgumentParser(prog=f"voxformer create-data {name}", description=module.CONVERTER_HELP)
    parser.add_argument("--out-dir", required=True, help="folder for infos and GT database (the data root)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    module.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from voxformer.datasets.create_data import converters
    from voxformer.errors import VoxformerError

    available = converters()
    if args.dataset not in available:
        raise VoxformerError(f"unknown dataset {args.dataset!r}; choose one of {sorted(available)}")
    module = available[args.dataset]
    options = dataset_parser(args.dataset, module).parse_args(args.options)
    module.convert(options)
    return 0
