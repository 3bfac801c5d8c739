"""Parameter schedulers whose state survives a ``weights_only`` checkpoint load.

mmengine's ``OneCycleLR`` keeps its annealing function (a bound method) in ``state_dict()``, which
pickles the whole scheduler object, so its checkpoints cannot be loaded with
``weights_only=True``. Ours is the same schedule with that entry left out: the function is fixed by
the constructor arguments and is rebuilt on construction, so nothing is lost.
"""

from mmengine.optim.scheduler import OneCycleLR

from voxformer.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class CheckpointableOneCycleLR(OneCycleLR):
    """mmengine's ``OneCycleLR`` (same arguments) with a plain-data ``state_dict``."""

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop("anneal_func", None)
        return state
