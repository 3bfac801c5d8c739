"""Loading configs for the tools: clear errors for a missing file or an unknown override key, the
data in another folder (``--data-root``), and errors of a build step that name the file and key."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voxformer.errors import ConfigError, VoxformerError

# the config keys that hold paths under the data root
DATA_KEYS = ("train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "test_evaluator")


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


def _data_roots(node) -> Iterator[Path]:
    """Every ``data_root`` value in a config subtree (datasets, wrapped datasets, transforms)."""
    if hasattr(node, "items"):
        for key, value in node.items():
            if key == "data_root" and isinstance(value, str):
                yield Path(value)
            else:
                yield from _data_roots(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _data_roots(value)


def _rebase(node, old_roots: list[Path], root: Path):
    """``node`` with every ``data_root`` set to ``root`` and every other path under one of ``old_roots``
    moved to the same place under ``root``."""
    if hasattr(node, "items"):
        for key, value in node.items():
            node[key] = str(root) if key == "data_root" and isinstance(value, str) else _rebase(value, old_roots, root)
        return node
    if isinstance(node, list | tuple):
        return type(node)(_rebase(value, old_roots, root) for value in node)
    if isinstance(node, str):
        for old in old_roots:
            if Path(node) == old or old in Path(node).parents:
                return str(root / Path(node).relative_to(old))
    return node


def set_data_root(cfg, root: str | Path) -> None:
    """Point ``cfg`` at the data in ``root`` (``--data-root``): the ``data_root`` of every dataloader's
    dataset (wrapped ones included) and of any transform that has one (the GT sampler), and every path
    that the config wrote under its data root (info files, GT database, an evaluator's files). The
    dataset configs substitute ``data_root`` when they are read, so overriding it alone changes nothing."""
    root = Path(root)
    if not root.is_dir():
        raise VoxformerError(f"--data-root {root}: not a folder")
    parts = [cfg[key] for key in DATA_KEYS if key in cfg]
    found = [*_data_roots(parts), *([Path(cfg.data_root)] if isinstance(cfg.get("data_root"), str) else [])]
    old_roots = sorted({p for p in found if p != Path(p.anchor)}, key=lambda p: -len(p.parts))  # not "." or "/"
    for key in DATA_KEYS:
        if key in cfg:
            cfg[key] = _rebase(cfg[key], old_roots, root)
    if "data_root" in cfg:
        cfg.data_root = str(root)


@contextmanager
def naming_config_key(config: str | Path | None, key: str) -> Iterator[None]:
    """Prefix a :class:`VoxformerError` raised inside with where it comes from: ``<config>: <key>: <error>``
    (the file left out when ``config`` is None)."""
    try:
        yield
    except VoxformerError as error:
        where = f"{config}: {key}" if config else key
        raise (ConfigError if isinstance(error, ConfigError) else VoxformerError)(f"{where}: {error}") from error


def load_config(
    path: str | Path,
    cfg_options: list[str] | None = None,
    allow_new_keys: tuple[str, ...] = (),
    data_root: str | Path | None = None,
):
    """Read an mmengine config, point it at ``data_root`` (:func:`set_data_root`) when given, and apply
    ``--cfg-options``; every overridden key must already exist (a typo would otherwise be silently
    added), except those starting with ``allow_new_keys``."""
    from mmengine.config import Config

    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"config {path} not found (configs live in configs/<family>/*.py)")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as error:
        raise VoxformerError(f"cannot read config {path}: {error}".splitlines()[0]) from None
    if data_root is not None:
        set_data_root(cfg, data_root)
    overrides = parse_cfg_options(cfg_options)
    for key in overrides:
        if not key.startswith(allow_new_keys):
            _check_key(cfg, key)
    cfg.merge_from_dict(overrides)
    return cfg
