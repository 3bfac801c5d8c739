"""Build an mmengine Runner from a config and the flags of ``voxformer train`` / ``voxformer test``."""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from voxformer.apis.config import load_config, naming_config_key
from voxformer.engine.safe_checkpoint import load_checkpoint_file
from voxformer.errors import VoxformerError
from voxformer.models.checkpoint import load_model_weights
from voxformer.registry import DATASETS, METRICS, MODELS, check_build_config

_RUNNERS = itertools.count(1)


class CheckedRunner(Runner):
    """mmengine's Runner with voxformer's rules: a user error raised while building the model, a dataset
    or an evaluator names the config file and key (``configs/x.py: model: <error>``), and checkpoints
    load through the safe loader and must match the model exactly (the error names the file)."""

    _loop = "train"  # the loop being built, whose dataloader and evaluator are built next

    def build_model(self, model):
        with naming_config_key(self.cfg.filename, "model"):
            if isinstance(model, dict):
                check_build_config(model, MODELS)
            return super().build_model(model)

    def build_train_loop(self, loop):
        self._loop = "train"
        return super().build_train_loop(loop)

    def build_val_loop(self, loop):
        self._loop = "val"
        return super().build_val_loop(loop)

    def build_test_loop(self, loop):
        self._loop = "test"
        return super().build_test_loop(loop)

    def build_dataloader(self, dataloader, seed=None, diff_rank_seed=False):
        with naming_config_key(self.cfg.filename, f"{self._loop}_dataloader.dataset"):
            if isinstance(dataloader, dict) and isinstance(dataloader.get("dataset"), dict):
                check_build_config(dataloader["dataset"], DATASETS)
            return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def build_evaluator(self, evaluator):
        with naming_config_key(self.cfg.filename, f"{self._loop}_evaluator"):
            for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
                if isinstance(metric, dict) and "metrics" not in metric:
                    check_build_config(metric, METRICS)
            return super().build_evaluator(evaluator)

    _resuming = False

    def resume(self, filename, *args, **kwargs):
        self._resuming = True
        try:
            return super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename, map_location="cpu", strict: bool = True):
        checkpoint = load_checkpoint_file(filename, map_location=map_location)
        if self._resuming:
            _check_resumable(checkpoint, filename)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_model_weights(model, checkpoint, strict=strict, source=filename)
        self._has_loaded = True
        self.logger.info(f"loaded checkpoint {filename}")
        return checkpoint


def _check_resumable(checkpoint, filename) -> None:
    """A checkpoint to resume from records where training stopped (``meta.epoch`` and ``meta.iter``)."""
    meta = checkpoint.get("meta") if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(key), int) for key in ("epoch", "iter")):
        raise VoxformerError(
            f"{filename}: not a training checkpoint (no meta.epoch / meta.iter) and cannot be resumed; "
            "start a new run from its weights with --cfg-options load_from=FILE"
        )


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


def _use_amp(cfg) -> None:
    """Mixed precision for ``--amp``: bf16 autocast on a CPU or a GPU with bf16 (no loss scaling needed:
    bf16 has fp32's exponent range), fp16 with dynamic loss scaling on a GPU without bf16."""
    import torch

    import voxformer.engine.amp  # noqa: F401  (registers CpuAmpOptimWrapper)

    if not torch.cuda.is_available():
        cfg.optim_wrapper.type = "CpuAmpOptimWrapper"
    elif torch.cuda.is_bf16_supported():
        cfg.optim_wrapper.update(type="AmpOptimWrapper", dtype="bfloat16", loss_scale=1.0)
    else:
        cfg.optim_wrapper.update(type="AmpOptimWrapper", dtype="float16", loss_scale="dynamic")


def build_runner(args: argparse.Namespace, mode: str):
    """A :class:`CheckedRunner` for ``mode`` 'train' or 'test' (the data in ``args.data_root`` when given)."""
    import torch

    cfg = load_config(args.config, args.cfg_options, data_root=getattr(args, "data_root", None))
    cfg.work_dir = _work_dir(args, cfg)
    # mmengine names its logger and visualizer instances after the experiment and the second it started:
    # a second runner in the same process and second would reuse the first one's (its streams, its folder)
    cfg.experiment_name = cfg.get("experiment_name") or f"{Path(args.config).stem}_{next(_RUNNERS)}"
    cfg.launcher = getattr(args, "launcher", "none")
    if cfg.launcher != "none":
        os.environ.setdefault("LOCAL_RANK", str(getattr(args, "local_rank", 0)))
        if not torch.cuda.is_available():
            _setup_cpu_distributed(cfg)
    if mode == "train":
        if args.amp:
            _use_amp(cfg)
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
    return CheckedRunner.from_cfg(cfg)
