"""Official checkpoint -> voxformer state dict, by key rules registered per source and module type.

A :data:`KeyRule` is ``(pattern, template)`` or ``(pattern, template, transform)``: ``pattern`` is a regex that
must match an OFFICIAL full key entirely (``re.fullmatch``), ``template`` gives OUR full key in ``re`` expand
syntax (``\\1``, ``\\g<name>``), and ``transform`` (default identity) maps the official tensor onto our layout
(e.g. a spconv weight permute). A ``template`` of ``None`` drops the key on purpose (state that our model does
not keep, such as OpenPCDet's ``global_step`` counter).

Rule functions are registered with ``@register_rules(source, module_type)``: ``source`` is ``"openpcdet"`` or
``"mmdet3d"``, ``module_type`` OUR registered class name of a module in the model config. A rule function is
called with the whole model config (a plain dict, ``cfg.model``) and returns its list of rules, written with the
full prefixes: OpenPCDet ``vfe.``, ``backbone_3d.``, ``map_to_bev_module.``, ``backbone_2d.``, ``dense_head.``;
mmdet3d single-stage detectors (FlatFormer's DynamicCenterPoint, a VoxelNet) ``voxel_encoder.``,
``middle_encoder.``, ``backbone.``, ``neck.``, ``bbox_head.`` (two-stage ones add ``pts_``); ours
``voxel_encoder.``, ``backbone3d.``, ``to_bev.``, ``bev_backbone.``, ``bev_neck.``, ``head.``.

:func:`convert_state_dict` gathers the rules of every module type named in the model config (in the order the
config names them), maps each official key by the first rule that matches, and requires every official key
mapped, every key of our state dict filled once and every shape equal; otherwise one :class:`VoxformerError`
line names the file and the first few missing / left-over / mis-shaped keys with their counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from voxformer.errors import VoxformerError

Transform = Callable[[torch.Tensor], torch.Tensor]
KeyRule = tuple[str, str | None] | tuple[str, str | None, Transform]  # see the module docstring
RuleFunction = Callable[[dict], list[KeyRule]]
SOURCES = ("openpcdet", "mmdet3d")
# where each source's checkpoint keeps its weights
WEIGHTS_KEY = {"openpcdet": "model_state", "mmdet3d": "state_dict"}

_RULES: dict[tuple[str, str], list[RuleFunction]] = {}
_SHOWN = 5  # keys listed per kind of problem in an error


def register_rules(source: str, module_type: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register a function ``(model_cfg) -> list[KeyRule]`` for ``module_type`` checkpoints from ``source``."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")

    def decorate(function: RuleFunction) -> RuleFunction:
        _RULES.setdefault((source, module_type), []).append(function)
        return function

    return decorate


def module_types(model_cfg: Mapping) -> list[str]:
    """The ``type`` names of every config dict inside ``model_cfg`` (itself included), first appearance first."""
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("type"), str) and node["type"] not in found:
                found.append(node["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(model_cfg)
    return found


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def gather_rules(model_cfg: Mapping, source: str) -> list[tuple[re.Pattern, str | None, Transform]]:
    """The compiled rules of every module type of ``model_cfg`` for ``source``, in config order."""
    if source not in SOURCES:
        raise VoxformerError(f"unknown checkpoint source {source!r}; voxformer converts from {', '.join(SOURCES)}")
    plain = _plain(model_cfg)
    rules = []
    for module_type in module_types(plain):
        for function in _RULES.get((source, module_type), []):
            for rule in function(plain):
                pattern, template, *rest = rule
                rules.append((re.compile(pattern), template, rest[0] if rest else _identity))
    return rules


def _plain(node):
    """A config (mmengine ``ConfigDict`` included) as plain dicts and lists."""
    if isinstance(node, Mapping):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(value) for value in node]
    return node


def _listed(title: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN]) + (f", ... ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")
    return f"{len(keys)} {title}: {shown}"


def _shape(tensor: torch.Tensor) -> str:
    return f"({', '.join(str(n) for n in tensor.shape)})"


def convert_state_dict(
    official: Mapping[str, torch.Tensor],
    model: nn.Module | Mapping[str, torch.Tensor],
    model_cfg: Mapping,
    source: str,
    path: str | Path | None = None,
) -> dict[str, torch.Tensor]:
    """Map ``official`` (a state dict of ``source``) onto the keys of ``model`` (a module or its state dict),
    in our key order; floating tensors take our dtype. Raises :class:`VoxformerError` naming ``path`` unless
    every official key maps, every key of ours is filled exactly once and every shape agrees."""
    ours = model.state_dict() if isinstance(model, nn.Module) else model
    rules = gather_rules(model_cfg, source)
    converted: dict[str, torch.Tensor] = {}
    unmapped, unknown, duplicated, misshaped = [], [], [], []
    misshaped_targets = set()
    for key, value in official.items():
        rule = next(((p, t, f) for p, t, f in rules if p.fullmatch(key)), None)
        if rule is None:
            unmapped.append(key)
            continue
        pattern, template, transform = rule
        if template is None:
            continue
        target = pattern.fullmatch(key).expand(template)
        value = transform(value)
        if target not in ours:
            unknown.append(f"{key} -> {target}")
        elif target in converted:
            duplicated.append(f"{key} -> {target}")
        elif tuple(value.shape) != tuple(ours[target].shape):
            misshaped.append(f"{key} {_shape(value)} -> {target} {_shape(ours[target])}")
            misshaped_targets.add(target)
        else:
            same_kind = value.is_floating_point() and ours[target].is_floating_point()
            converted[target] = value.to(ours[target].dtype) if same_kind else value
    missing = [key for key in ours if key not in converted and key not in misshaped_targets]
    problems = [
        _listed(title, keys)
        for title, keys in (
            ("official key(s) no rule maps", unmapped),
            ("official key(s) mapped onto no key of the model", unknown),
            ("official key(s) mapped onto a key already filled", duplicated),
            ("shape mismatch(es)", misshaped),
            ("model key(s) left missing", missing),
        )
        if keys
    ]
    if problems:
        where = f"checkpoint {path}" if path is not None else f"the {source} state dict"
        raise VoxformerError(f"{where} does not convert onto the model of the config: {'; '.join(problems)}")
    return {key: converted[key] for key in ours}


def source_weights(checkpoint: Mapping, path: str | Path, source: str | None = None) -> tuple[str, Mapping]:
    """``(source, state dict)`` of an official checkpoint: OpenPCDet keeps its weights under ``model_state``,
    mmdet3d under ``state_dict``; without ``source`` the wrapper found decides. A ``module.`` prefix left by
    DistributedDataParallel is removed."""
    if source is None:
        found = [name for name, wrapper in WEIGHTS_KEY.items() if wrapper in checkpoint]
        if len(found) != 1:
            raise VoxformerError(
                f"checkpoint {path}: cannot tell its source (keys {sorted(map(str, checkpoint))[:8]}); "
                f"pass --from {' or --from '.join(SOURCES)}"
            )
        source = found[0]
    if source not in SOURCES:
        raise VoxformerError(f"unknown checkpoint source {source!r}; voxformer converts from {', '.join(SOURCES)}")
    wrapper = WEIGHTS_KEY[source]
    if not isinstance(checkpoint.get(wrapper), Mapping):
        raise VoxformerError(
            f"checkpoint {path}: no {wrapper!r} dict, which a {source} checkpoint keeps its weights in "
            f"(keys {sorted(map(str, checkpoint))[:8]})"
        )
    return source, {key.removeprefix("module."): value for key, value in checkpoint[wrapper].items()}
