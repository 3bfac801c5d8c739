"""Parameter schedulers whose state survives a ``weights_only`` checkpoint load.

mmengine's ``OneCycleLR`` keeps its annealing function (a bound method) in ``state_dict()``, which
pickles the whole scheduler object, so its checkpoints cannot be loaded with
``weights_only=True``. Ours is the same schedule with that entry left out: the function is fixed by
the constructor arguments and is rebuilt on construction, so nothing is lost.

Its peak (``eta_max``) defaults to the optimizer's learning rate and, as for every mmengine scheduler,
``end`` defaults to the train loop's length, so a config changes ``lr`` or ``max_epochs`` in one place.
"""

from mmengine.optim.scheduler import OneCycleLR

from voxformer.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class CheckpointableOneCycleLR(OneCycleLR):
    """mmengine's ``OneCycleLR`` (same arguments) with a plain-data ``state_dict``; ``eta_max``
    defaults to each parameter group's configured learning rate."""

    def __init__(self, optimizer, *args, eta_max=None, **kwargs):
        if eta_max is None:
            eta_max = [group["lr"] for group in optimizer.param_groups]
        super().__init__(optimizer, *args, eta_max=eta_max, **kwargs)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop("anneal_func", None)
        return state
