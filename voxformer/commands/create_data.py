"""``voxformer create-data DATASET [options]``: convert or generate a dataset into infos and a GT database.

The datasets come from :func:`voxformer.datasets.create_data.converters` (one module per dataset
in ``voxformer/datasets/formats/``), so a new format adds itself without changing this command.
They are discovered when the command runs or its help is shown, keeping ``voxformer --help`` free of
heavy imports; ``voxformer create-data --help`` lists every dataset with its description and options,
``voxformer create-data DATASET --help`` one dataset's.
"""

from __future__ import annotations

import argparse

NAME = "create-data"
HELP = "write <dataset>_infos_<split>.pkl and the GT database (synthetic: generate the frames first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="the dataset to convert or generate (listed below)")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the dataset's options (listed below)")


def _shared_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", required=True, help="folder for infos and GT database (the data root)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")


def dataset_parser(name: str, module) -> argparse.ArgumentParser:
    """The argument parser of one converter: the shared flags plus the converter's own."""
    parser = argparse.ArgumentParser(prog=f"voxformer create-data {name}", description=module.CONVERTER_HELP)
    _shared_arguments(parser)
    module.add_arguments(parser)
    return parser


def help_epilog() -> str:
    """Every converter's name, one-line description and own options, as the registered converters give
    them, after the options all share (shown after this command's options by ``--help``)."""
    from voxformer.datasets.create_data import converters

    def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
        return [action for action in parser._actions if action.option_strings and "-h" not in action.option_strings]

    shared = argparse.ArgumentParser(add_help=False)
    _shared_arguments(shared)
    shared_dests = {action.dest for action in options(shared)}
    formatter = argparse.HelpFormatter(prog=f"voxformer {NAME}")
    formatter.start_section("options of every dataset")
    formatter.add_arguments(options(shared))
    formatter.end_section()
    for name, module in converters().items():
        formatter.start_section(f"{name}: {module.CONVERTER_HELP}")
        formatter.add_arguments([a for a in options(dataset_parser(name, module)) if a.dest not in shared_dests])
        formatter.end_section()
    return "datasets (`voxformer create-data DATASET --help` shows one):\n" + formatter.format_help()


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
