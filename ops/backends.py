"""Backend selection shared by every op in ``voxformer.ops``.

Each op has a plain-PyTorch ``reference`` implementation (the definition of correct, any device)
and optional fast ones: ``numba`` (CPU), ``triton`` (CUDA; on the CPU under ``TRITON_INTERPRET=1``,
when forced) and ``torch`` (vectorized PyTorch tuned for speed). An op lists its backends in
order of preference; :func:`select` picks the first one usable for the input's device, unless the
caller forces one with ``backend=`` or the process sets ``VOXFORMER_OPS_BACKEND``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

BACKEND_ENV = "VOXFORMER_OPS_BACKEND"
KNOWN_BACKENDS = ("reference", "torch", "numba", "triton")


@functools.cache
def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


@functools.cache
def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_interpreted() -> bool:
    """True when Triton kernels run on the CPU through the interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@dataclass(frozen=True)
class Backend:
    """One implementation of an op.

    ``devices`` are the device types on which it is picked automatically; ``deterministic`` is
    False when its output may vary between runs (it is then skipped while
    ``torch.use_deterministic_algorithms(True)`` is on).
    """

    name: str
    fn: Callable
    devices: tuple[str, ...] = ("cpu", "cuda")
    deterministic: bool = True

    def installed(self) -> bool:
        if self.name == "numba":
            return numba_available()
        if self.name == "triton":
            return triton_available()
        return True

    def runs_on(self, device_type: str) -> bool:
        if self.name == "triton":
            return device_type == "cuda" or (device_type == "cpu" and triton_interpreted())
        return device_type in self.devices or self.name in ("reference", "torch")


def select(op: str, backends: Sequence[Backend], device: torch.device | str, backend: str | None = None):
    """Return the implementation of ``op`` to run on ``device``.

    ``backend`` (or the ``VOXFORMER_OPS_BACKEND`` environment variable) forces one; a forced
    backend that the op lacks, that is not installed or that cannot run on the device raises
    ``RuntimeError`` saying why. An environment-wide choice the op does not implement falls back
    to the automatic choice, so the variable can name a backend only some ops have.
    """
    device_type = torch.device(device).type
    by_name = {b.name: b for b in backends}
    forced = backend
    from_env = False
    if forced is None and os.environ.get(BACKEND_ENV):
        forced, from_env = os.environ[BACKEND_ENV], True
    if forced is not None:
        if forced not in KNOWN_BACKENDS:
            raise ValueError(f"{op}: unknown backend {forced!r}; choose one of {KNOWN_BACKENDS}")
        chosen = by_name.get(forced)
        if chosen is None:
            if not from_env:
                raise RuntimeError(f"{op}: no {forced!r} backend; this op has {sorted(by_name)}")
        elif not chosen.installed():
            raise RuntimeError(f"{op}: backend {forced!r} is not installed (pip install {forced})")
        elif not chosen.runs_on(device_type):
            hint = " (set TRITON_INTERPRET=1 to run Triton on the CPU)" if forced == "triton" else ""
            raise RuntimeError(f"{op}: backend {forced!r} cannot run on {device_type}{hint}")
        else:
            return chosen.fn
    deterministic = torch.are_deterministic_algorithms_enabled()
    for candidate in backends:
        if candidate.name == "triton" and device_type != "cuda":
            continue  # the interpreter is for tests; never chosen automatically
        if (
            device_type in candidate.devices
            and candidate.installed()
            and (candidate.deterministic or not deterministic)
        ):
            return candidate.fn
    return by_name["reference"].fn


def usable_backends() -> dict[str, bool]:
    """Which backends this machine can run (for ``voxformer env``)."""
    return {
        "reference (PyTorch, CPU)": True,
        "numba (CPU)": numba_available(),
        "triton (CUDA)": triton_available() and torch.cuda.is_available(),
        "triton (CPU interpreter, TRITON_INTERPRET=1)": triton_available() and triton_interpreted(),
        "CUDA": torch.cuda.is_available(),
    }
