"""Training hooks of the data pipeline."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.hooks import Hook

from voxformer.errors import ConfigError
from voxformer.registry import HOOKS


def _pipelines(dataset):
    """The pipelines of a dataset and of the datasets it wraps (Repeat/ClassBalanced/Concat wrappers)."""
    if hasattr(dataset, "pipeline"):
        yield dataset.pipeline
    if hasattr(dataset, "dataset"):
        yield from _pipelines(dataset.dataset)
    for inner in getattr(dataset, "datasets", ()):
        yield from _pipelines(inner)


def set_augmentation(dataset, enabled: bool, types: Sequence[str] | None = None) -> int:
    """Switch the augmentations (``enabled`` attribute) of ``dataset``'s pipelines, all of them or those whose
    class name is in ``types``; returns how many."""
    count = 0
    for pipeline in _pipelines(dataset):
        for transform in getattr(pipeline, "transforms", pipeline):
            if hasattr(transform, "enabled") and (types is None or type(transform).__name__ in types):
                transform.enabled = enabled
                count += 1
    return count


@HOOKS.register_module()
class AugmentationSwitchHook(Hook):
    """Turn the augmentations of the training pipeline off for the last ``num_last_epochs`` epochs: all of them
    (DSVT's recipe: the model ends on unaugmented data) or only the transform types named in ``transforms``
    (ScatterFormer's: ``["ObjectSample"]``, GT sampling off for the last 4 epochs).

    The flag is set on the dataset in the main process before the epoch starts. Worker processes
    see it because they are started afresh each epoch (``persistent_workers=False``); with
    persistent workers the hook drops the loader's worker iterator so that new workers, with the
    new flag, are started.
    """

    def __init__(self, num_last_epochs: int = 1, transforms: Sequence[str] | None = None):
        if num_last_epochs < 0:
            raise ConfigError(f"num_last_epochs must be >= 0, got {num_last_epochs}")
        self.num_last_epochs = num_last_epochs
        self.transforms = None if transforms is None else list(transforms)

    def before_train_epoch(self, runner) -> None:
        if runner.epoch < runner.max_epochs - self.num_last_epochs:
            return
        loader = runner.train_dataloader
        switched = set_augmentation(loader.dataset, False, self.transforms)
        if self.transforms is not None and not switched:
            raise ConfigError(
                f"AugmentationSwitchHook.transforms: no augmentation of the types {self.transforms} in the training "
                "pipeline"
            )
        if switched and getattr(loader, "persistent_workers", False):
            loader._iterator = None  # torch restarts workers (with the new flag) on the next iter()
        which = "augmentation" if self.transforms is None else ", ".join(self.transforms)
        runner.logger.info(f"epoch {runner.epoch + 1}: {which} off for the last {self.num_last_epochs} epochs")
