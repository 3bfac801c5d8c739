"""Parameter schedulers whose state survives a ``weights_only`` checkpoint load.

mmengine's ``OneCycleLR`` keeps its annealing function (a bound method) in ``state_dict()``, which
pickles the whole scheduler object, so its checkpoints cannot be loaded with
``weights_only=True``. Ours is the same schedule with that entry left out: the function is fixed by
the constructor arguments and is rebuilt on construction, so nothing is lost.

Its peak (``eta_max``) defaults to the optimizer's learning rate and, as for every mmengine scheduler,
``end`` defaults to the train loop's length, so a config changes ``lr`` or ``max_epochs`` in one place.
:class:`OneCycleMomentum` cycles the momentum (Adam's beta1) against it, as OpenPCDet's ``adam_onecycle``.
"""

import math

from mmengine.optim.scheduler import OneCycleLR
from mmengine.optim.scheduler.momentum_scheduler import MomentumSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from voxformer.errors import ConfigError
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


@PARAM_SCHEDULERS.register_module()
class OneCycleMomentum(MomentumSchedulerMixin, _ParamScheduler):
    """The momentum (SGD) or Adam's beta1 cycled against :class:`CheckpointableOneCycleLR`, as OpenPCDet's
    ``adam_onecycle`` does with its ``MOMS``: cosine from ``moms[0]`` down to ``moms[1]`` while the learning
    rate rises (the first ``pct_start`` of the steps), then back up to ``moms[0]`` while it falls.

    The phases are those of mmengine's ``OneCycleLR`` (same ``pct_start``, ``begin``, ``end``), so the two
    schedules turn at the same step. ``total_steps`` defaults to ``end - begin``.
    """

    def __init__(
        self,
        optimizer,
        moms: tuple[float, float] = (0.95, 0.85),
        pct_start: float = 0.3,
        total_steps: int | None = None,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ):
        if len(moms) != 2:
            raise ConfigError(f"OneCycleMomentum.moms needs (high, low), got {moms}")
        if not 0 < pct_start < 1:
            raise ConfigError(f"OneCycleMomentum.pct_start must lie in (0, 1), got {pct_start}")
        self.moms = (float(moms[0]), float(moms[1]))
        self.pct_start = float(pct_start)
        self.total_steps = total_steps if total_steps is not None else end - begin
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(
        cls, *args, begin=0, end=INF, total_steps=None, by_epoch=True, epoch_length=None, **kwargs
    ):
        """An iteration-based instance from an epoch-based config (``convert_to_iter_based=True``)."""
        if not by_epoch or not epoch_length:
            raise ConfigError("OneCycleMomentum: convert_to_iter_based needs by_epoch=True and an epoch length")
        return cls(
            *args,
            begin=int(begin * epoch_length),
            end=end if end == INF else int(end * epoch_length),
            total_steps=None if total_steps is None else total_steps * epoch_length,
            by_epoch=False,
            **kwargs,
        )

    def _get_value(self) -> list[float]:
        high, low = self.moms
        turn = self.pct_start * self.total_steps - 1  # the last step of the first phase, as OneCycleLR
        step = self.last_step
        if step <= turn:
            start, end, fraction = high, low, step / turn
        else:
            start, end, fraction = low, high, (step - turn) / (self.total_steps - 1 - turn)
        value = end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return [value for _ in self.optimizer.param_groups]
