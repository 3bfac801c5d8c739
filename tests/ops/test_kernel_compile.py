"""Every Triton entry kernel compiles for sm_80 and sm_90 at every launch configuration the dispatchers pick,
within the shared-memory limit and the spill budget of ``voxformer.ops.triton.compile_report``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from voxformer.ops.backends import triton_available

pytestmark = pytest.mark.skipif(not triton_available(), reason="triton is not installed")

TRITON_DIR = Path(__file__).resolve().parents[2] / "ops" / "triton"


def _is_jit(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Attribute) and target.attr == "jit") or (
        isinstance(target, ast.Name) and target.id == "jit"
    )


def entry_kernels() -> set[tuple[str, str]]:
    """(module, function) of every ``@triton.jit`` function of ops/triton/ launched with a grid (``f[grid](...)``)."""
    found = set()
    for path in sorted(TRITON_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        jitted = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and any(_is_jit(d) for d in node.decorator_list)
        }
        launched = {
            node.func.value.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Subscript)
            and isinstance(node.func.value, ast.Name)
        }
        found |= {(path.stem, name) for name in jitted & launched}
    return found


def test_the_kernel_scan_finds_the_known_entry_kernels():
    known = {
        ("attention_softmax", "_fwd_kernel"),
        ("attention_softmax", "_bwd_dq_kernel"),
        ("attention_softmax", "_bwd_dkv_kernel"),
        ("attention_linear", "_piece_kernel"),
        ("attention_linear", "_split_output_kernel"),
        ("depthwise_conv", "_gather_conv_kernel"),
        ("attention_rpe", "_rpe_fwd_kernel"),
        ("attention_rpe", "_rpe_bwd_dq_kernel"),
        ("attention_rpe", "_rpe_bwd_dkv_kernel"),
    }
    found = entry_kernels()
    assert known <= found
    assert ("attention_softmax", "_load_tile") not in found  # a helper called from kernels only


def test_every_entry_kernel_has_a_compile_case_for_every_target():
    from voxformer.ops.triton import compile_report

    covered = {(case.module, case.kernel, case.arch) for case in compile_report.cases()}
    missing = [
        f"{module}.{kernel} for sm_{arch}"
        for module, kernel in sorted(entry_kernels())
        for arch in compile_report.ARCHES
        if (module, kernel, arch) not in covered
    ]
    assert not missing, f"Triton kernels without a compile case in compile_report.py: {missing}"


def test_cases_follow_the_dispatchers_choices():
    from voxformer.ops.triton import attention_softmax, compile_report

    bf16, fp32 = torch.bfloat16, torch.float32
    picked = {attention_softmax.block_sizes(3600, 100, 32, fp32), attention_softmax.block_sizes(10**5, 10, 128, bf16)}
    compiled = {
        (c.constexprs["BLOCK_M"], c.constexprs["BLOCK_N"], c.constexprs["BLOCK_D"], c.num_warps)
        for c in compile_report.cases()
        if c.kernel == "_fwd_kernel"
    }
    assert picked <= compiled
    dtypes = {(c.kernel, c.arch, c.dtype) for c in compile_report.cases()}
    assert {("_fwd_kernel", 80, "bf16"), ("_fwd_kernel", 90, "fp16"), ("_gather_conv_kernel", 80, "fp64")} <= dtypes


def test_budget_check_flags_errors_shared_memory_and_spills():
    from voxformer.ops.triton.compile_report import SHARED_MEMORY_LIMIT, SPILL_BUDGET, Row, problems

    fine = [Row("k", "sm_80", "fp32 B=1", 64, SPILL_BUDGET, 1024), Row("k", "sm_90", "bf16 B=1", 64, 0, 1024)]
    rows = [
        *fine,
        Row("k", "sm_80", "bf16 B=1", -1, -1, -1, "CompilationError: bad"),
        Row("k", "sm_90", "fp16 B=1", 128, 0, SHARED_MEMORY_LIMIT + 1),
        Row("k", "sm_90", "bf16 B=1", 255, SPILL_BUDGET + 4, 1024),
    ]
    found = problems(rows)
    assert len(found) == 3
    assert "CompilationError" in found[0] and "shared memory" in found[1] and f"> {SPILL_BUDGET}" in found[2]
    assert problems(fine) == []


@pytest.fixture(scope="module")
def compiled_rows():
    """Every case compiled once for the module, in a child process without TRITON_INTERPRET."""
    from voxformer.ops.triton import compile_report

    return compile_report.report()


def test_every_case_compiles_within_budget(compiled_rows):
    from voxformer.ops.triton import compile_report

    assert len(compiled_rows) == len(compile_report.cases())
    over = compile_report.problems(compiled_rows)
    assert not over, "\n".join(over)
    assert all(row.registers > 0 and row.shared >= 0 for row in compiled_rows)


def test_env_kernels_prints_the_table(monkeypatch, capsys):
    from voxformer.ops.triton import compile_report

    from voxformer.cli import main

    rows = [compile_report.Row("_fwd_kernel", "sm_90", "bf16 GATHER=True", 168, 0, 24832)]
    monkeypatch.setattr(compile_report, "report", lambda: rows)
    assert main(["env", "--kernels"]) == 0
    out = capsys.readouterr().out
    assert "_fwd_kernel" in out and "168" in out and "24832" in out
    assert "1 cases, 0 over budget" in out
