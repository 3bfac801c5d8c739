"""docs/configs.md holds the parity table as ``tools/parity_table.py`` prints it from the built models."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_docs_hold_the_current_parity_table():
    result = subprocess.run(
        [sys.executable, "tools/parity_table.py", "--check", "docs/configs.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
