"""Base classes of the 3D transforms: a transform maps a results dict to a results dict.

Results keys used across transforms: ``points`` (N, C) float32 tensor (x, y, z, intensity, ...),
``gt_bboxes_3d`` (:class:`Boxes3D`), ``gt_labels_3d`` (M,) int64 array (-1 = not a trained class),
``gt_names`` (M,) str array, ``point_cloud_range`` (6,) from the dataset, ``data_root``; for
segmentation ``pts_semantic_mask`` (N,) int64 tensor row-aligned with ``points`` (:data:`POINT_KEYS`:
a transform that drops or reorders points applies the same index to them, see :func:`select_points`).

Augmentations derive from :class:`RandomTransform`: setting ``enabled = False`` turns them into
the identity. :class:`voxformer.engine.hooks.AugmentationSwitchHook` does that for the last epochs.
"""

from __future__ import annotations

from voxformer.errors import ConfigError

POINT_KEYS = ("pts_semantic_mask", "pts_instance_mask")  # per-point results, row-aligned with points


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


def select_points(results: dict, index) -> None:
    """Keep / reorder ``results['points']`` by ``index`` (bool mask or indices), and every per-point key with it."""
    results["points"] = results["points"][index]
    for key in POINT_KEYS:
        if key in results:
            results[key] = results[key][index]


def range_of(transform_range, results: dict, name: str):
    """The point-cloud range a transform uses: its own, else the dataset's ``results['point_cloud_range']``."""
    value = transform_range if transform_range is not None else results.get("point_cloud_range")
    if value is None:
        raise ConfigError(f"{name}: give point_cloud_range to the transform or to the dataset")
    return value
