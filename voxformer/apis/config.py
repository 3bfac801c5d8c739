"""Loading configs for the tools: clear errors for a missing file or an unknown override key."""

from __future__ import annotations

import difflib
from pathlib import Path

from voxformer.errors import VoxformerError


def parse_cfg_options(options: list[str] | None) -> dict:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` (values parsed as Python literals when they can be)."""
    import ast

    parsed = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise VoxformerError(f"--cfg-options expects KEY=VALUE, got {option!r}")
        try:
            parsed[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed[key] = value
    return parsed


def _check_key(cfg, key: str) -> None:
    node = cfg
    walked = []
    for part in key.split("."):
        if isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif hasattr(node, "keys") and part in node:
            node = node[part]
        else:
            choices = list(node.keys()) if hasattr(node, "keys") else []
            close = difflib.get_close_matches(part, choices, n=1)
            hint = f"; did you mean {'.'.join([*walked, close[0]])!r}?" if close else ""
            where = ".".join(walked) or "the config's top level"
            raise VoxformerError(f"unknown --cfg-options key {key!r}: {where} has no {part!r}{hint}")
        walked.append(part)


def load_config(path: str | Path, cfg_options: list[str] | None = None, allow_new_keys: tuple[str, ...] = ()):
    """Read an mmengine config and apply ``--cfg-options``; every overridden key must already exist
    (a typo would otherwise be silently added), except those starting with ``allow_new_keys``."""
    from mmengine.config import Config

    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"config {path} not found (configs live in configs/<family>/*.py)")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as error:
        raise VoxformerError(f"cannot read config {path}: {error}".splitlines()[0]) from None
    overrides = parse_cfg_options(cfg_options)
    for key in overrides:
        if not key.startswith(allow_new_keys):
            _check_key(cfg, key)
    cfg.merge_from_dict(overrides)
    return cfg
