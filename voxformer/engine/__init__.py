"""voxformer.engine: hooks, schedulers, the CPU mixed-precision optimizer wrapper and checkpoint safety used
with the mmengine runner.

Importing it registers the hooks, schedulers and optimizer wrapper (the HOOKS and PARAM_SCHEDULERS registries list
this package as their location)."""

from . import amp, hooks, schedulers, visualization_hook  # noqa: F401  (registration)
