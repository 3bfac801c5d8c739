"""mmengine child registries of voxformer (scope ``voxformer``).

Each registry imports its ``locations`` lazily on the first build, so ``import voxformer`` stays
fast. Configs set ``default_scope = 'voxformer'``. The registries of config-built parts (models,
datasets, transforms, metrics) check a config before building it (:func:`check_build_config`): an
unknown type or an option the type does not take is a :class:`~voxformer.errors.ConfigError`.
"""

import difflib
import inspect

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

from voxformer.errors import ConfigError


def check_build_config(cfg: dict, registry: Registry, default_args: dict | None = None) -> None:
    """Raise :class:`ConfigError` when ``cfg`` (with ``default_args``) names no type, a type that is not
    in ``registry``, an option the type's constructor does not take, or misses one it needs."""
    options = {**(default_args or {}), **cfg}
    if "_scope_" in options:  # built in another scope: mmengine resolves it
        return
    obj_type = options.pop("type", None)
    if obj_type is None:
        raise ConfigError(f"a {registry.name} config needs a 'type'; got the keys {sorted(options)}")
    if not isinstance(obj_type, str):  # a class or function given directly
        return
    obj_cls = registry.get(obj_type)
    if obj_cls is None:
        choices = sorted(registry.module_dict)
        close = difflib.get_close_matches(obj_type, choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"voxformer's are {', '.join(choices)}"
        raise ConfigError(f"unknown {registry.name} type {obj_type!r}; {hint}")
    try:
        parameters = list(inspect.signature(obj_cls).parameters.values())
    except (TypeError, ValueError):  # no signature to check against
        return
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        for key in options:
            if key not in named:
                close = difflib.get_close_matches(key, named, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"it takes {', '.join(named)}"
                raise ConfigError(f"{obj_type} has no option {key!r}; {hint}")
    missing = [p.name for p in parameters if p.name in named and p.default is p.empty and p.name not in options]
    if missing:
        raise ConfigError(f"{obj_type} needs the option(s) {', '.join(missing)}")


def _checked_registry(name: str, parent: Registry, location: str) -> Registry:
    """A child of ``parent`` whose builds run :func:`check_build_config` on a dict config first."""

    def build(cfg, *args, registry: Registry, **kwargs):
        if isinstance(cfg, dict):
            check_build_config(cfg, registry, kwargs.get("default_args", args[0] if args else None))
        return parent.build_func(cfg, *args, registry=registry, **kwargs)

    return Registry(name, parent=parent, scope="voxformer", locations=[location], build_func=build)


# the parts configs build: checked before they are built
MODELS = _checked_registry("model", MMENGINE_MODELS, "voxformer.models")
DATASETS = _checked_registry("dataset", MMENGINE_DATASETS, "voxformer.datasets")
TRANSFORMS = _checked_registry("transform", MMENGINE_TRANSFORMS, "voxformer.datasets.transforms")
METRICS = _checked_registry("metric", MMENGINE_METRICS, "voxformer.evaluation")
DATA_SAMPLERS = Registry(
    "data sampler", parent=MMENGINE_DATA_SAMPLERS, scope="voxformer", locations=["voxformer.datasets"]
)
EVALUATOR = Registry("evaluator", parent=MMENGINE_EVALUATOR, scope="voxformer", locations=["voxformer.evaluation"])
HOOKS = Registry("hook", parent=MMENGINE_HOOKS, scope="voxformer", locations=["voxformer.engine"])
VISUALIZERS = Registry(
    "visualizer", parent=MMENGINE_VISUALIZERS, scope="voxformer", locations=["voxformer.visualization"]
)
VISBACKENDS = Registry(
    "vis_backend", parent=MMENGINE_VISBACKENDS, scope="voxformer", locations=["voxformer.visualization"]
)
OPTIM_WRAPPERS = Registry("optim_wrapper", parent=MMENGINE_OPTIM_WRAPPERS, scope="voxformer")
PARAM_SCHEDULERS = Registry(
    "parameter scheduler", parent=MMENGINE_PARAM_SCHEDULERS, scope="voxformer", locations=["voxformer.engine"]
)
# Children with no voxformer entries of their own, so that lookups in the voxformer scope resolve
# through them to mmengine without a warning.
LOOPS = Registry("loop", parent=MMENGINE_LOOPS, scope="voxformer")
OPTIMIZERS = Registry("optimizer", parent=MMENGINE_OPTIMIZERS, scope="voxformer")
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    "optimizer wrapper constructor", parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope="voxformer"
)
LOG_PROCESSORS = Registry("log_processor", parent=MMENGINE_LOG_PROCESSORS, scope="voxformer")
WEIGHT_INITIALIZERS = Registry("weight initializer", parent=MMENGINE_WEIGHT_INITIALIZERS, scope="voxformer")
FUNCTIONS = Registry("function", parent=MMENGINE_FUNCTIONS, scope="voxformer")
