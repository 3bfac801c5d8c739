"""voxformer.engine: hooks, schedulers and checkpoint safety used with the mmengine runner.

Importing it registers the hooks and schedulers (the HOOKS and PARAM_SCHEDULERS registries list
this package as their location)."""

from . import hooks, schedulers, visualization_hook  # noqa: F401  (registration)
