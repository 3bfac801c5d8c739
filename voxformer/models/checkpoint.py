"""Loading weights into a model with a clear account of what did not match."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from voxformer.errors import VoxformerError


@dataclass
class LoadReport:
    """Keys that were not loaded: absent from the checkpoint, unknown to the model, or of another shape."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 20) -> str:
        parts = []
        for title, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape-mismatched", self.mismatched),
        ):
            if keys:
                shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
                parts.append(f"{len(keys)} {title} key(s): {shown}")
        return "; ".join(parts)


def load_model_weights(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True, source: str | Path | None = None
) -> LoadReport:
    """Copy ``state_dict`` into ``model``; ``source`` (the checkpoint file) is named in the error.

    Accepts a bare state dict or a checkpoint holding one under ``state_dict`` (mmengine) or
    ``model_state`` (OpenPCDet); a ``module.`` prefix left by DistributedDataParallel is removed.
    With ``strict=True`` any missing, unexpected or shape-mismatched key raises
    :class:`VoxformerError` listing the first few and nothing is loaded. With ``strict=False`` the matching
    keys are loaded and the report of the others is returned.
    """
    for wrapper in ("state_dict", "model_state"):
        if wrapper in state_dict and isinstance(state_dict[wrapper], Mapping):
            state_dict = state_dict[wrapper]
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    own = model.state_dict()
    report = LoadReport(
        missing=sorted(k for k in own if k not in state_dict),
        unexpected=sorted(k for k in state_dict if k not in own),
        mismatched=sorted(
            f"{k} (checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)})"
            for k, v in state_dict.items()
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ),
    )
    if strict and report:
        checkpoint = f"checkpoint {source}" if source is not None else "the checkpoint"
        raise VoxformerError(
            f"{checkpoint} does not match the model of the config: {report.describe(limit=5)} "
            "(a checkpoint of another model or config?)"
        )
    matching = {k: v for k, v in state_dict.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(matching, strict=False)
    return report
