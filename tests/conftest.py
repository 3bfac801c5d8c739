"""Shared fixtures. Triton kernels run under the interpreter when no GPU is present; the variable
must be set before any kernel module is imported, hence here."""

import os
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

SYNTHETIC_FRAMES = 6
REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def real_data() -> Path:
    """``../shared/data/real`` beside the project; tests using it skip when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real samples not present at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def synthetic_frames() -> int:
    """How many frames the session's ``synthetic_root`` dataset holds."""
    return SYNTHETIC_FRAMES


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """A small synthetic dataset written once per test session through ``voxformer create-data``."""
    pytest.importorskip("open3d")
    from voxformer.cli import main

    root = tmp_path_factory.mktemp("synthetic")
    code = main(
        [
            "create-data",
            "synthetic",
            "--out-dir",
            str(root),
            "--frames",
            str(SYNTHETIC_FRAMES),
            "--workers",
            "2",
            "--seed",
            "3",
            "--val-fraction",
            "0.34",
        ]
    )
    assert code == 0
    return root
