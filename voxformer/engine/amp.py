"""Mixed precision on the CPU: mmengine's ``AmpOptimWrapper`` needs an accelerator, so ``voxformer train
--amp`` on a CPU uses :class:`CpuAmpOptimWrapper` (bf16 autocast around the forward and loss)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from voxformer.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CpuAmpOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose ``optim_context`` runs ``torch.autocast("cpu", dtype=torch.bfloat16)``.

    bf16 keeps fp32's exponent range, so gradients do not underflow and no loss scaling is needed; the
    weights, gradients and optimizer state stay fp32.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield
