"""AugmentationSwitchHook: all augmentations or only the named transform types off for the last epochs."""

from types import SimpleNamespace

import pytest

from voxformer.engine.hooks import AugmentationSwitchHook
from voxformer.errors import ConfigError


class ObjectSample:
    enabled = True


class RandomFlip3D:
    enabled = True


class Pack3DDetInputs:
    """Not an augmentation: no ``enabled``."""


def _runner(epoch, transforms):
    dataset = SimpleNamespace(dataset=SimpleNamespace(pipeline=SimpleNamespace(transforms=transforms)))
    loader = SimpleNamespace(dataset=dataset, persistent_workers=True, _iterator="workers")
    return SimpleNamespace(epoch=epoch, max_epochs=24, train_dataloader=loader, logger=SimpleNamespace(info=print))


def test_only_the_named_types_switch_off_in_the_last_epochs():
    transforms = [ObjectSample(), RandomFlip3D(), Pack3DDetInputs()]
    hook = AugmentationSwitchHook(num_last_epochs=4, transforms=["ObjectSample"])
    runner = _runner(19, transforms)
    hook.before_train_epoch(runner)
    assert transforms[0].enabled and runner.train_dataloader._iterator == "workers"
    runner = _runner(20, transforms)
    hook.before_train_epoch(runner)
    assert not transforms[0].enabled and transforms[1].enabled and runner.train_dataloader._iterator is None


def test_without_types_every_augmentation_switches_off():
    transforms = [ObjectSample(), RandomFlip3D(), Pack3DDetInputs()]
    AugmentationSwitchHook(num_last_epochs=1).before_train_epoch(_runner(23, transforms))
    assert not transforms[0].enabled and not transforms[1].enabled


def test_a_type_missing_from_the_pipeline_is_a_config_error():
    hook = AugmentationSwitchHook(num_last_epochs=1, transforms=["GlobalRotScaleTrans"])
    with pytest.raises(ConfigError, match="GlobalRotScaleTrans"):
        hook.before_train_epoch(_runner(23, [ObjectSample()]))
