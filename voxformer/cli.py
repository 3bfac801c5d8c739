"""The ``voxformer`` command: one subcommand per module of :mod:`voxformer.commands`.

Exit codes: 0 done; 2 a user error (a :class:`VoxformerError`, printed as one line
``voxformer <command>: error: <message>``, or a wrong flag, from argparse); 1 a bug in voxformer (any
other exception: its traceback, the versions and a request to report it); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import platform
import sys
import traceback
import warnings

import voxformer
from voxformer import commands
from voxformer.errors import VoxformerError, VoxformerWarning


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME"):
            yield module


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser whose epilog may be a function, called only when the help is shown."""

    def format_help(self) -> str:
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxformer", description=voxformer.__doc__)
    parser.add_argument("--version", action="version", version=f"voxformer {voxformer.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for module in _command_modules():
        epilog = getattr(module, "help_epilog", None)
        formatter = argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter
        sub = subparsers.add_parser(
            module.NAME, help=module.HELP, description=module.HELP, epilog=epilog, formatter_class=formatter
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def one_line(error: VoxformerError) -> str:
    """The error's message on one line; for one re-raised from a data-loader worker (whose message torch
    prefixes with the worker's traceback), the original message."""
    text = str(error)
    if "\nOriginal Traceback (most recent call last):" in text:
        text = text.rstrip().splitlines()[-1].split(": ", 1)[-1]  # "<module>.<class>: <message>"
    return " ".join(text.split())


def _versions() -> str:
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    return f"voxformer {voxformer.__version__}, Python {platform.python_version()}, torch {torch}"


def _report_bug(command: str) -> None:
    """The traceback of the exception being handled, then the versions and where to report it (stderr)."""
    traceback.print_exc()
    print(f"voxformer {command}: internal error ({_versions()})", file=sys.stderr)
    print(
        "this is a bug in voxformer, not in your input: please report it with the command and the lines above",
        file=sys.stderr,
    )


def _one_line_warnings(command: str):
    """A ``showwarning`` that prints a :class:`VoxformerWarning` as one line and any other warning as usual."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, VoxformerWarning):
            print(f"voxformer {command}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
            return int(args.run(args) or 0)
    except VoxformerError as error:
        print(f"voxformer {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"voxformer {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:
        _report_bug(args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
