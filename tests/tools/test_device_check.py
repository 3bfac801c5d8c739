"""tools/device_check.sh in dry-run mode (no GPU needed) and the pieces it runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from voxformer.benchmark.timing import Row, write_json
from voxformer.cli import main

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "imports",
    "nvidia_smi",
    "env",
    "gpu_tests",
    "bench_attention_float32",
    "bench_attention_bfloat16",
    "forward_backward",
    "ops_tests",
    "bench_ops",
    "bench_rpe",
)
# A sitecustomize that makes the modules named in BLOCKED_MODULES fail to import.
BLOCKER = """
import os, sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in os.environ["BLOCKED_MODULES"].split():
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Blocked())
"""


def _run(command: list[str], blocked: str = "", tmp_path: Path | None = None, timeout: int = 240):
    env = {**os.environ, "PYTHON": sys.executable}
    if blocked:
        (tmp_path / "sitecustomize.py").write_text(BLOCKER)
        env.update(PYTHONPATH=str(tmp_path), BLOCKED_MODULES=blocked)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_dry_run_passes_and_records_every_step(tmp_path):
    out = tmp_path / "out"
    result = _run(["bash", "tools/device_check.sh", "--dry-run", "--out", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "device_check.json").read_text())
    assert report["dry_run"] is True
    assert tuple(step["name"] for step in report["steps"]) == STEPS
    statuses = {step["name"]: step["status"] for step in report["steps"]}
    assert statuses["nvidia_smi"] in ("passed", "skipped")
    assert statuses["gpu_tests"] in ("passed", "no tests")
    others = set(STEPS) - {"nvidia_smi", "gpu_tests"}
    assert all(statuses[name] == "passed" for name in others), statuses
    for step in report["steps"]:
        assert step["command"] and step["seconds"] >= 0 and step["output_tail"]
    by_name = {step["name"]: step for step in report["steps"]}
    assert "would run attention on cuda (bfloat16)" in by_name["bench_attention_bfloat16"]["output_tail"]
    assert "collected" in by_name["ops_tests"]["output_tail"]
    table = (out / "device_check.md").read_text()
    assert all(f"| {name} |" in table for name in STEPS)
    built = json.loads((out / "forward_backward.json").read_text())
    assert built and all(row["status"] in ("built", "skipped") for row in built)


def test_a_spent_budget_fails_the_check(tmp_path):
    result = _run(["bash", "tools/device_check.sh", "--dry-run", "--budget", "5", "--out", str(tmp_path)])
    assert result.returncode == 1
    steps = json.loads((tmp_path / "device_check.json").read_text())["steps"]
    statuses = {step["name"]: step["status"] for step in steps}
    assert statuses["imports"] == "not run" and statuses["forward_backward"] in ("not run", "skipped")


def test_wrong_arguments_exit_2(tmp_path):
    assert _run(["bash", "tools/device_check.sh", "--bogus"]).returncode == 2
    assert _run(["bash", "tools/device_check.sh", "--budget", "soon", "--out", str(tmp_path)]).returncode == 2


def test_env_report_fails_on_a_needed_module_and_not_on_an_optional_one(tmp_path):
    result = _run([sys.executable, "tools/device_env.py"], blocked="numba mmengine", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "missing, needed by the check: numba" in result.stdout
    assert "mmengine         not usable: ModuleNotFoundError" in result.stdout
    assert _run([sys.executable, "tools/device_env.py"], blocked="mmengine", tmp_path=tmp_path).returncode == 0


def test_optional_plugin_skips_a_module_that_misses_an_optional_package(tmp_path):
    (tmp_path / "test_needs_missing.py").write_text("import voxformer_missing_package\n\n\ndef test_x():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "tools.pytest_optional"]
    skipped = _run([*command, "--optional-package", "voxformer_missing_package", str(tmp_path)])
    assert skipped.returncode == 5, skipped.stdout  # a skipped module leaves no test: "no tests collected"
    assert "needs voxformer_missing_package, which is not installed" in skipped.stdout
    errored = _run([*command, str(tmp_path)])
    assert errored.returncode == 2 and "ModuleNotFoundError" in errored.stdout


def test_forward_backward_of_a_small_config_on_the_cpu(tmp_path):
    rows_file = tmp_path / "rows.json"
    command = [sys.executable, "tools/device_forward.py", "dsvt/dsvt_synthetic_quick.py", "--device", "cpu"]
    result = _run([*command, "--points", "3000", "--steps", "1", "--json", str(rows_file)])
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = json.loads(rows_file.read_text())
    assert row["status"] == "passed" and row["voxels"] > 0 and math.isfinite(row["loss"]) and row["first_s"] > 0
    assert _run([sys.executable, "tools/device_forward.py", "no/such_config.py", "--check"]).returncode == 2


def test_report_tables_the_steps_and_the_benchmark_rows(tmp_path):
    log = tmp_path / "step.log"
    log.write_text("cuda:0 NVIDIA H200 sm_90 140 GiB\n")
    records = tmp_path / "records.tsv"
    records.write_text(f"imports\tpassed\t3\t0\t{log}\tpython3 tools/device_env.py\n")
    write_json([Row("varlen fwd", "N=100", "cuda:0", 0.5, "padded SDPA", 2.0)], tmp_path / "bench_attention_x.json")
    result = _run([sys.executable, "tools/device_report.py", str(records), str(tmp_path), "--budget", "60"])
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["gpu"] == "NVIDIA H200 sm_90 140 GiB" and report["dry_run"] is False
    assert report["steps"] == [
        dict(name="imports", status="passed", seconds=3, exit_code=0, command="python3 tools/device_env.py",
             output_tail=log.read_text())
    ]  # fmt: skip
    table = (tmp_path / "device_check.md").read_text()
    assert "| imports | passed | 3 | `python3 tools/device_env.py` |" in table
    assert "| varlen fwd | N=100 | 0.500 | padded SDPA | 2.000 | 0.25 |" in table


def test_bench_dtype_reaches_the_suite_and_is_refused_where_a_suite_has_none(monkeypatch, capsys):
    from voxformer.benchmark import attention

    seen = []
    monkeypatch.setattr(attention, "run", lambda device, quick, dtype=None: seen.append(dtype) or [])
    assert main(["bench", "attention", "--device", "cpu", "--dtype", "bfloat16"]) == 0
    assert seen == [torch.bfloat16]
    assert main(["bench", "attention", "ops", "--device", "cuda", "--dry-run"]) == 0
    assert "would run attention, ops on cuda" in capsys.readouterr().out
    assert main(["bench", "ops", "--dtype", "bfloat16", "--dry-run"]) == 2
    assert "has no --dtype option" in capsys.readouterr().err
