"""Subcommands of the ``voxformer`` command, one module each.

A command module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``; optionally ``help_epilog() -> str``, text shown after the options by
``--help`` (called only then, so it may import what the command needs). :mod:`voxformer.cli`
discovers them, so adding a module adds a command; ``tools/*.py`` call the same ``run`` functions.
"""

import argparse


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    """``--data-root DIR``, shared by the commands that read a config's datasets."""
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help="the dataset is in DIR, not in the config's data root: sets every dataloader's data_root "
        "(wrapped datasets included), the paths under it (info files, GT database) and the evaluators' files",
    )
