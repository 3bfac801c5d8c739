"""mmengine child registries of voxformer (scope ``voxformer``).

Each registry imports its ``locations`` lazily on the first build, so ``import voxformer`` stays
fast. Configs set ``default_scope = 'voxformer'``.
"""

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

MODELS = Registry("model", parent=MMENGINE_MODELS, scope="voxformer", locations=["voxformer.models"])
DATASETS = Registry("dataset", parent=MMENGINE_DATASETS, scope="voxformer", locations=["voxformer.datasets"])
DATA_SAMPLERS = Registry(
    "data sampler", parent=MMENGINE_DATA_SAMPLERS, scope="voxformer", locations=["voxformer.datasets"]
)
TRANSFORMS = Registry(
    "transform", parent=MMENGINE_TRANSFORMS, scope="voxformer", locations=["voxformer.datasets.transforms"]
)
METRICS = Registry("metric", parent=MMENGINE_METRICS, scope="voxformer", locations=["voxformer.evaluation"])
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
