"""Backend selection decides from each backend's capability fields."""

import pytest
import torch
from voxformer.ops.backends import BACKEND_ENV, Backend, select


def _fn(tag):
    return lambda: tag


@pytest.fixture(autouse=True)
def no_forced_backend(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)


def test_automatic_choice_follows_devices_and_installed_package():
    missing = Backend("numba", _fn("missing"), ("cpu",), package="no_such_package_for_voxformer")
    backends = (missing, Backend.vectorized(_fn("torch"), devices=("cuda",)), Backend.reference(_fn("reference")))
    assert select("op", backends, "cpu")() == "reference"  # numba not installed, torch only picked on CUDA
    assert select("op", backends, "cuda")() == "torch"
    with pytest.raises(RuntimeError, match="not installed .pip install no_such_package_for_voxformer"):
        select("op", backends, "cpu", backend="numba")


def test_forced_plain_pytorch_runs_anywhere_and_kernels_only_where_they_can():
    backends = (Backend.triton(_fn("triton")), Backend.vectorized(_fn("torch"), devices=("cuda",)),
                Backend.reference(_fn("reference")))  # fmt: skip
    assert select("op", backends, "cpu", backend="torch")() == "torch"
    assert Backend.triton(_fn("t")).runs_on("cuda") and not Backend.numba(_fn("n")).runs_on("cuda")
    assert Backend.triton(_fn("t")).cpu_interpreter and not Backend.numba(_fn("n")).cpu_interpreter
    assert select("op", backends, "cpu")() == "reference"  # the interpreter is never chosen automatically


def test_dtype_a_backend_does_not_take_is_refused():
    half_only = Backend("torch", _fn("half"), dtypes=(torch.float16, torch.bfloat16))
    backends = (half_only, Backend.reference(_fn("reference")))
    assert select("op", backends, "cpu", dtype=torch.float16)() == "half"
    with pytest.raises(ValueError, match="op: the torch backend takes float16 or bfloat16, not float32"):
        select("op", backends, "cpu", dtype=torch.float32)
    with pytest.raises(ValueError, match="unknown backend"):
        select("op", backends, "cpu", backend="cuda-graphs")
