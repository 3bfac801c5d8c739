"""Build an mmengine Runner from a config and the flags of ``voxformer train`` / ``voxformer test``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from voxformer.apis.config import load_config
from voxformer.errors import VoxformerError


def _work_dir(args: argparse.Namespace, cfg) -> str:
    return args.work_dir or cfg.get("work_dir") or str(Path("work_dirs") / Path(args.config).stem)


def _setup_cpu_distributed(cfg) -> None:
    """DDP on CPUs: mmengine's launcher assumes a GPU per process, so join the gloo group here and
    wrap the model without device ids."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    cfg.model_wrapper_cfg = dict(
        type="MMDistributedDataParallel",
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=cfg.get("find_unused_parameters", False),
    )


def build_runner(args: argparse.Namespace, mode: str):
    """A Runner for ``mode`` 'train' or 'test', with checkpoints loaded through the safe allow-list."""
    import torch
    from mmengine.runner import Runner

    from voxformer.engine.safe_checkpoint import allow_checkpoint_types

    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = _work_dir(args, cfg)
    cfg.launcher = getattr(args, "launcher", "none")
    if cfg.launcher != "none":
        os.environ.setdefault("LOCAL_RANK", str(getattr(args, "local_rank", 0)))
        if not torch.cuda.is_available():
            _setup_cpu_distributed(cfg)
    if mode == "train":
        if args.amp:
            if not torch.cuda.is_available():
                raise VoxformerError("--amp needs a CUDA device; train without --amp on a CPU")
            cfg.optim_wrapper.type = "AmpOptimWrapper"
            cfg.optim_wrapper.loss_scale = "dynamic"
        if args.resume == "auto":
            cfg.resume, cfg.load_from = True, None
        elif args.resume:
            if not Path(args.resume).is_file():
                raise VoxformerError(f"--resume: checkpoint {args.resume} not found")
            cfg.resume, cfg.load_from = True, args.resume
        if args.seed is not None or args.deterministic:
            seed = args.seed if args.seed is not None else cfg.get("randomness", {}).get("seed", 0)
            cfg.randomness = dict(seed=seed, deterministic=args.deterministic)
    else:
        if not Path(args.checkpoint).is_file():
            raise VoxformerError(f"checkpoint {args.checkpoint} not found")
        cfg.load_from = args.checkpoint
    allow_checkpoint_types()
    return Runner.from_cfg(cfg)
