"""Base classes of the 3D transforms: a transform maps a results dict to a results dict.

Results keys used across transforms: ``points`` (N, C) float32 tensor (x, y, z, intensity, ...),
``gt_bboxes_3d`` (:class:`Boxes3D`), ``gt_labels_3d`` (M,) int64 array (-1 = not a trained class),
``gt_names`` (M,) str array, ``point_cloud_range`` (6,) from the dataset, ``data_root``.

Augmentations derive from :class:`RandomTransform`: setting ``enabled = False`` turns them into
the identity. :class:`voxformer.engine.hooks.AugmentationSwitchHook` does that for the last epochs.
"""

from __future__ import annotations

from voxformer.errors import ConfigError


class Transform:
    """A callable on a results dict; subclasses implement :meth:`transform`."""

    def __call__(self, results: dict) -> dict:
        return self.transform(results)

    def transform(self, results: dict) -> dict:
        raise TypeError(f"{type(self).__name__} must implement transform(results)")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class RandomTransform(Transform):
    """An augmentation: applied only while ``enabled`` (random numbers from NumPy's global generator,
    which mmengine seeds per data-loader worker)."""

    enabled = True

    def __call__(self, results: dict) -> dict:
        return self.transform(results) if self.enabled else results


def range_of(transform_range, results: dict, name: str):
    """The point-cloud range a transform uses: its own, else the dataset's ``results['point_cloud_range']``."""
    value = transform_range if transform_range is not None else results.get("point_cloud_range")
    if value is None:
        raise ConfigError(f"{name}: give point_cloud_range to the transform or to the dataset")
    return value
