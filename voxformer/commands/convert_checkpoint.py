"""``voxformer convert-checkpoint SRC DST --config CONFIG``: an official checkpoint as a voxformer one.

OpenPCDet checkpoints (DSVT, ScatterFormer, CenterPoint) keep their weights under ``model_state``, mmdet3d ones
(FlatFormer) under ``state_dict``; both are read with the safe loader. Every official key must map onto the
config's model with its shape (:mod:`voxformer.models.conversion`); the result holds ``state_dict`` and ``meta``
and loads strictly into that model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "convert-checkpoint"
HELP = "convert an official OpenPCDet (model_state) or mmdet3d (state_dict) checkpoint onto a config's model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="the official checkpoint (.pth)")
    parser.add_argument("dst", help="where the voxformer checkpoint goes")
    parser.add_argument("--config", required=True, help="the voxformer config whose model the weights are for")
    parser.add_argument(
        "--from",
        dest="source",
        choices=("openpcdet", "mmdet3d"),
        help="the code base that wrote SRC; default: told by its weights key (model_state or state_dict)",
    )


def convert_checkpoint(src: str | Path, dst: str | Path, config: str | Path, source: str | None = None) -> dict:
    """Convert ``src`` for the model of ``config`` and write ``dst``; returns a summary (source, tensor count)."""
    import torch

    from voxformer.apis.config import load_config, naming_config_key
    from voxformer.engine.safe_checkpoint import load_checkpoint_file
    from voxformer.errors import VoxformerError
    from voxformer.models.checkpoint import load_model_weights
    from voxformer.models.conversion import convert_state_dict, source_weights
    from voxformer.registry import MODELS

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise VoxformerError(f"{dst}: the converted checkpoint would overwrite the official one; choose another DST")
    cfg = load_config(config)
    with naming_config_key(cfg.filename, "model"):
        model = MODELS.build(cfg.model)
    source, official = source_weights(load_checkpoint_file(src), src, source)
    converted = convert_state_dict(official, model, cfg.model.to_dict(), source, path=src)
    load_model_weights(model, converted, strict=True, source=src)
    meta = dict(converted_from=str(src), source=source, config=str(config))
    if cfg.get("class_names"):
        meta["dataset_meta"] = dict(classes=list(cfg.class_names))
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.save(dict(state_dict=converted, meta=meta), dst)
    except OSError as error:
        raise VoxformerError(f"cannot write {dst}: {error.strerror or error}") from None
    load_checkpoint_file(dst)  # what we wrote, the safe loader reads
    return dict(source=source, tensors=len(converted))


def run(args: argparse.Namespace) -> int:
    summary = convert_checkpoint(args.src, args.dst, args.config, args.source)
    print(f"{args.src} ({summary['source']}): {summary['tensors']} tensors mapped onto {args.config} -> {args.dst}")
    return 0
