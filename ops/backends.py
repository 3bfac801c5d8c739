"""Backend selection shared by every op in ``voxformer.ops``.

Each op has a plain-PyTorch ``reference`` implementation (the definition of correct, any device)
and optional fast ones: ``numba`` (CPU), ``triton`` (CUDA; on the CPU under ``TRITON_INTERPRET=1``,
when forced) and ``torch`` (vectorized PyTorch tuned for speed). An op lists its backends in
order of preference; :func:`select` picks the first one usable for the input's device, unless the
caller forces one with ``backend=`` or the process sets ``VOXFORMER_OPS_BACKEND``. PyTorch's own
attention paths (``sdpa_padded``, ``nested_sdpa``, ``flex``) are ``builtin`` backends, picked
automatically only on the devices where they were measured to win (``docs/benchmarks.md``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

BACKEND_ENV = "VOXFORMER_OPS_BACKEND"
KNOWN_BACKENDS = ("reference", "torch", "numba", "triton", "sdpa_padded", "nested_sdpa", "flex")


@functools.cache
def package_available(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def numba_available() -> bool:
    return package_available("numba")


def triton_available() -> bool:
    return package_available("triton")


def triton_interpreted() -> bool:
    """True when Triton kernels run on the CPU through the interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@dataclass(frozen=True)
class Backend:
    """One implementation of an op and what it can do; :func:`select` decides from these fields only.

    - ``name``: what ``backend=`` and ``VOXFORMER_OPS_BACKEND`` call it.
    - ``devices``: the device types on which it is picked automatically.
    - ``package``: the optional package it needs (it is usable only where that is installed); None
      for plain PyTorch, which runs on every device when forced.
    - ``cpu_interpreter``: when forced, it also runs on the CPU under ``TRITON_INTERPRET=1``.
    - ``dtypes``: the floating dtypes it takes, None for any; an op passing its input dtype to
      :func:`select` gets ``ValueError`` for another.
    - ``deterministic``: False when its output may vary between runs (it is then skipped while
      ``torch.use_deterministic_algorithms(True)`` is on).

    Build one with the constructor of its kind: :meth:`reference`, :meth:`vectorized` (``torch``),
    :meth:`numba`, :meth:`triton`, :meth:`builtin`.
    """

    name: str
    fn: Callable
    devices: tuple[str, ...] = ("cpu", "cuda")
    package: str | None = None
    cpu_interpreter: bool = False
    dtypes: tuple[torch.dtype, ...] | None = None
    deterministic: bool = True

    @classmethod
    def reference(cls, fn: Callable) -> Backend:
        """Plain PyTorch, the definition of correct; every device."""
        return cls("reference", fn)

    @classmethod
    def vectorized(cls, fn: Callable, devices: tuple[str, ...] = ("cpu", "cuda")) -> Backend:
        """The ``torch`` backend: vectorized PyTorch tuned for speed, picked on ``devices`` (forced, any)."""
        return cls("torch", fn, devices)

    @classmethod
    def numba(cls, fn: Callable) -> Backend:
        """Numba CPU kernels."""
        return cls("numba", fn, ("cpu",), package="numba")

    @classmethod
    def triton(cls, fn: Callable, dtypes: tuple[torch.dtype, ...] | None = None) -> Backend:
        """Triton GPU kernels; forced, also on the CPU through the interpreter."""
        return cls("triton", fn, ("cuda",), package="triton", cpu_interpreter=True, dtypes=dtypes)

    @classmethod
    def builtin(cls, name: str, fn: Callable, devices: tuple[str, ...] = ()) -> Backend:
        """A path PyTorch itself offers, under its own ``name``; picked automatically on ``devices`` only
        (none by default), forced on any device."""
        return cls(name, fn, devices)

    def installed(self) -> bool:
        return self.package is None or package_available(self.package)

    def runs_on(self, device_type: str) -> bool:
        """Whether it can run on ``device_type`` when forced."""
        if self.package is None or device_type in self.devices:
            return True
        return self.cpu_interpreter and device_type == "cpu" and triton_interpreted()

    def takes(self, dtype: torch.dtype | None) -> bool:
        return dtype is None or self.dtypes is None or dtype in self.dtypes


def select(
    op: str,
    backends: Sequence[Backend],
    device: torch.device | str,
    backend: str | None = None,
    dtype: torch.dtype | None = None,
):
    """Return the implementation of ``op`` to run on ``device``.

    ``backend`` (or the ``VOXFORMER_OPS_BACKEND`` environment variable) forces one; a forced
    backend that the op lacks, that is not installed or that cannot run on the device raises
    ``RuntimeError`` saying why. An environment-wide choice the op does not implement falls back
    to the automatic choice, so the variable can name a backend only some ops have. When ``dtype``
    is given, a chosen backend that does not take it raises ``ValueError``.
    """
    chosen = _choose(op, backends, torch.device(device).type, backend)
    if not chosen.takes(dtype):
        names = [str(t).replace("torch.", "") for t in chosen.dtypes]
        taken = " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
        raise ValueError(f"{op}: the {chosen.name} backend takes {taken}, not {str(dtype).replace('torch.', '')}")
    return chosen.fn


def _choose(op: str, backends: Sequence[Backend], device_type: str, backend: str | None) -> Backend:
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
            raise RuntimeError(f"{op}: backend {forced!r} is not installed (pip install {chosen.package})")
        elif not chosen.runs_on(device_type):
            hint = " (set TRITON_INTERPRET=1 to run Triton on the CPU)" if chosen.cpu_interpreter else ""
            raise RuntimeError(f"{op}: backend {forced!r} cannot run on {device_type}{hint}")
        else:
            return chosen
    deterministic = torch.are_deterministic_algorithms_enabled()
    for candidate in backends:
        if (
            device_type in candidate.devices
            and candidate.installed()
            and (candidate.deterministic or not deterministic)
        ):
            return candidate
    return by_name["reference"]


def usable_backends() -> dict[str, bool]:
    """Which backends this machine can run (for ``voxformer env``)."""
    return {
        "reference (PyTorch, CPU)": True,
        "numba (CPU)": numba_available(),
        "triton (CUDA)": triton_available() and torch.cuda.is_available(),
        "triton (CPU interpreter, TRITON_INTERPRET=1)": triton_available() and triton_interpreted(),
        "CUDA": torch.cuda.is_available(),
    }
