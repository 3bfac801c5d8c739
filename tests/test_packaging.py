"""The package list in pyproject.toml names every package folder (voxformer.ops lives in ops/)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def package_folders() -> set[str]:
    found = set()
    for root, prefix in ((REPO / "voxformer", "voxformer"), (REPO / "ops", "voxformer.ops")):
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join((prefix, *parts)))
    return found


def test_every_package_folder_is_listed():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert package_folders() == listed


def test_ops_import_from_the_installed_package():
    import voxformer.ops

    assert Path(voxformer.ops.__file__).parent == REPO / "ops"


@pytest.mark.slow
def test_wheel_contains_both_import_packages(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run([*command, str(REPO)], check=True)
    (wheel,) = tmp_path.glob("voxformer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{package.replace('.', '/')}/__init__.py" for package in package_folders()}
    assert expected <= names
    assert "voxformer/ops/voxelize.py" in names and not any(name.startswith("ops/") for name in names)
