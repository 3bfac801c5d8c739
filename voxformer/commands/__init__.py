"""Subcommands of the ``voxformer`` command, one module each.

A command module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. :mod:`voxformer.cli` discovers them, so adding a module adds a command;
``tools/*.py`` call the same ``run`` functions.
"""
