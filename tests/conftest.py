"""Shared fixtures. Triton kernels run under the interpreter when no GPU is present; the variable
must be set before any kernel module is imported, hence here."""

import os
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

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
