"""Detection metrics: pure functions (``kitti_eval``, ``waymo_eval``, ``nuscenes_eval``) and their mmengine
wrappers (``metrics``), which importing this package registers in ``voxformer.registry.METRICS``."""

from . import metrics  # noqa: F401  (registers the metrics)
