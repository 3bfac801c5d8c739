"""Detection and segmentation metrics: pure functions (``kitti_eval``, ``waymo_eval``, ``nuscenes_eval``,
``seg_eval``) and their mmengine wrappers (``metrics``), which importing this package registers in
``voxformer.registry.METRICS``."""

from . import metrics  # noqa: F401  (registers the metrics)
