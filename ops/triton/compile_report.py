"""Ahead-of-time compilation of every Triton entry kernel at every launch configuration the dispatchers pick.

No GPU is needed: each case is lowered to a cubin for a target (``sm_80``, ``sm_90``) and ptxas's verbose log
gives registers and spilled bytes per thread; Triton's metadata gives the shared memory per block. The Triton
interpreter never lowers a kernel, so compiling must run in a process without ``TRITON_INTERPRET=1``:
:func:`report` starts one (``python -m voxformer.ops.triton.compile_report``) with a fresh Triton cache, so that
ptxas runs for every case and its log is read.

Covered, to keep the run to a few minutes on two cores: the attention kernels at every tile the dispatchers
pick, both variants (``GATHER``, ``ELU``) and head dims 16 .. 128 (``BLOCK_D`` 16, 32, 64, 128) in bf16 for
``sm_90`` (``FULL``); for the other (target, dtype) pairs (fp32, fp16 on ``sm_90``; fp32, bf16, fp16 on
``sm_80``) the same tiles and variants at head dim 32 only (``SUBSET_HEAD_DIMS``). The RPE attention kernels
(``attention_rpe``) are compiled at every tile they pick, the radial variant at head dims 16 and 64 and the cubic
one at 16 in bf16 for ``sm_90``, the radial variant at head dim 16 in fp32 for both targets. The depth-wise
convolution is compiled at every ``BLOCK_C`` for every dtype and target.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import torch

ARCHES = (80, 90)
HEAD_DIMS = (16, 32, 64, 128)
SUBSET_HEAD_DIMS = (32,)
FULL = (90, torch.bfloat16)  # (target, dtype) compiled at every head dim
ATTENTION_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
CONV_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)

# Dynamic shared memory one block may use on an A100 (sm_80) after opting in, which Triton's launcher does:
# 163 KiB. An H100 allows 227 KiB; the smaller limit holds for both targets.
SHARED_MEMORY_LIMIT = 163 * 1024
# Spilled bytes per thread (ptxas "spill stores") a case may have. Spills go to local memory (L1/L2);
# a few hundred bytes per thread cost little next to the tiles' HBM reads, more means the tile is too big.
SPILL_BUDGET = 256

_TYPES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16", torch.float64: "fp64"}


@dataclass(frozen=True)
class Case:
    """One kernel compiled at one launch configuration for one target."""

    kernel: str  # function name in ``module``
    module: str  # module of voxformer.ops.triton
    arch: int  # compute capability, 80 = sm_80
    dtype: str  # input dtype of the launch
    signature: dict = field(hash=False)  # argument name -> Triton type ("*bf16", "i32", "constexpr")
    constexprs: dict = field(hash=False)  # constexpr argument name -> value (tl.dtype as its name)
    num_warps: int = 4
    num_stages: int = 3

    @property
    def config(self) -> str:
        meta = " ".join(f"{k}={v}" for k, v in self.constexprs.items())
        return f"{self.dtype} {meta} warps={self.num_warps} stages={self.num_stages}"


@dataclass(frozen=True)
class Row:
    """What compiling one case gave; ``error`` is set (and the numbers are -1) when it failed."""

    kernel: str
    arch: str
    config: str
    registers: int
    spills: int  # bytes spilled per thread
    shared: int  # bytes of shared memory per block
    error: str = ""


def _pointers(names: str, type_: str) -> dict[str, str]:
    return {name: f"*{type_}" for name in names.split()}


def _scalars(names: str, type_: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), type_)


def _softmax_cases(arch: int, dtype: torch.dtype, head_dims) -> Iterator[Case]:
    from . import attention_softmax as module

    t = _TYPES[dtype]
    for gather in (False, True):
        index = "i64" if gather else "i32"  # a plain launch passes the int32 segment ids as placeholders
        gathered = {"ROWS": f"*{index}", "KEY_VALID": f"*{'i8' if gather else 'i32'}"}
        grads = "fp32" if gather else t
        common = _pointers("SEG", "i32") | _pointers("SEG_START", "i64") | gathered
        common |= _scalars("num_slots num_heads head_dim", "i32") | _scalars("qk_scale", "fp32")
        forward = _pointers("Q K V OUT", t) | _pointers("LSE", "fp32") | common
        forward |= {"WRITER": "*i8" if gather else "*i32"}
        backward = _pointers("Q K V DO", t) | _pointers("LSE DELTA", "fp32")
        signatures = {
            "_fwd_kernel": forward,
            "_bwd_dq_kernel": backward | _pointers("DQ", grads) | common | _scalars("scale", "fp32"),
            "_bwd_dkv_kernel": backward | _pointers("DK DV", grads) | common | _scalars("scale", "fp32"),
        }
        for head_dim in head_dims:
            for block_m, block_n, block_d, warps in module.launch_configs(head_dim, dtype):
                meta = module.kernel_meta(gather, block_m, block_n, block_d, dtype)
                for kernel, signature in signatures.items():
                    yield _case(module, kernel, arch, t, signature, meta, warps, 2)


# (AXES, TOTAL_AXES) of the RPE kernels: radial windows (θ, β positions + the range split, the larger kernel),
# cubic windows (x, y, z positions)
RPE_VARIANTS = ((2, 3), (3, 3))
RPE_SUBSET_HEAD_DIMS = (16,)  # SphereFormer's head dim
RPE_FULL_HEAD_DIMS = (16, 64)


def _rpe_cases(arch: int, dtype: torch.dtype, head_dims, variants=RPE_VARIANTS) -> Iterator[Case]:
    from . import attention_rpe as module

    t = _TYPES[dtype]
    bins = _pointers("POS", "i32") | _pointers("RNG", "fp32")
    tail = _pointers("SEG", "i32") | _pointers("SEG_START", "i64")
    tail |= _scalars("num_tokens num_heads head_dim length", "i32") | _scalars("scale unit", "fp32")
    inputs = _pointers("Q K V", t) | _pointers("PQ PK", "fp32") | bins
    backward = inputs | _pointers("DO", t) | _pointers("DMASS LSE DELTA", "fp32")
    signatures = {
        "_rpe_fwd_kernel": inputs | _pointers("OUT LSE MASS", "fp32") | tail,
        "_rpe_bwd_dq_kernel": backward | _pointers("DQ", t) | _pointers("DPQ", "fp32") | tail,
        "_rpe_bwd_dkv_kernel": backward | _pointers("DK DV", t) | _pointers("DPK", "fp32") | tail,
    }
    for axes, total_axes in variants:
        for head_dim in head_dims:
            for block_m, block_n, block_d, warps in module.launch_configs(head_dim, dtype):
                meta = module.kernel_meta(axes, total_axes, block_m, block_n, block_d, dtype)
                for kernel, signature in signatures.items():
                    yield _case(module, kernel, arch, t, signature, meta, warps, 2)


def _linear_cases(arch: int, dtype: torch.dtype, head_dims) -> Iterator[Case]:
    from . import attention_linear as module

    t = _TYPES[dtype]
    table = _pointers("PIECE_SEG", "i32") | _pointers("PIECE_START PIECE_SLOT SEG_START SEG_PIECES", "i64")
    tail = _scalars("num_heads head_dim", "i32") | _scalars("eps", "fp32")
    state = _pointers("STATE NORM", "fp32")
    signatures = {
        "_piece_kernel": _pointers("Q K V Y", t) | state | table | tail,
        "_split_output_kernel": _pointers("Q Y", t) | state | table | _pointers("SEG_FIRST_PIECE", "i64") | tail,
    }
    for feature_map in ("relu", "elu"):
        for head_dim in head_dims:
            meta, warps = module.launch_config(head_dim, feature_map, dtype)
            for kernel, signature in signatures.items():
                yield _case(module, kernel, arch, t, signature, meta, warps, 3)


def _conv_cases(arch: int, dtype: torch.dtype) -> Iterator[Case]:
    from . import depthwise_conv as module

    t = _TYPES[dtype]
    signature = _pointers("features_ptr weight_ptr", t) | _pointers("neighbors_ptr", "i64")
    signature |= _pointers("out_ptr", t) | _scalars("num_rows channels volume", "i32")
    channel_counts = [2**i for i in range(module.MAX_BLOCK_C.bit_length())]  # every power of two up to the cap
    for block_c in sorted({module.launch_config(c, dtype)[0] for c in channel_counts}):
        acc_dtype = module.launch_config(block_c, dtype)[1]
        meta = {"BLOCK_M": module.BLOCK_M, "BLOCK_C": block_c, "ACC_DTYPE": acc_dtype}
        yield _case(module, "_gather_conv_kernel", arch, t, signature, meta, 4, 3)


def _case(module, kernel, arch, dtype, signature, meta, warps, stages) -> Case:
    constexprs = {name: _plain(value) for name, value in meta.items()}
    full = signature | dict.fromkeys(meta, "constexpr")
    fn = getattr(module, kernel)
    missing = set(fn.arg_names) ^ set(full)
    if missing:
        raise RuntimeError(f"{kernel}: the compile case and the kernel disagree on arguments {sorted(missing)}")
    ordered = {name: full[name] for name in fn.arg_names}
    return Case(kernel, module.__name__.rsplit(".", 1)[1], arch, dtype, ordered, constexprs, warps, stages)


def _plain(value):
    """A constexpr value as JSON can carry it (a tl.dtype becomes its name)."""
    return value if isinstance(value, bool | int | float | str) else str(value)


def cases() -> list[Case]:
    """Every compile case: kernels x launch configurations x dtypes x targets (see the module docstring)."""
    found = []
    for arch in ARCHES:
        for dtype in ATTENTION_DTYPES:
            head_dims = HEAD_DIMS if (arch, dtype) == FULL else SUBSET_HEAD_DIMS
            found += [*_softmax_cases(arch, dtype, head_dims), *_linear_cases(arch, dtype, head_dims)]
            if (arch, dtype) == FULL:
                found += _rpe_cases(arch, dtype, RPE_FULL_HEAD_DIMS, RPE_VARIANTS[:1])
                found += _rpe_cases(arch, dtype, (16,))
            elif dtype == torch.float32:
                found += _rpe_cases(arch, dtype, RPE_SUBSET_HEAD_DIMS, RPE_VARIANTS[:1])
        for dtype in CONV_DTYPES:
            found += _conv_cases(arch, dtype)
    return list(dict.fromkeys(found))  # the same configuration reached twice is compiled once


_SPILLS = re.compile(r"(\d+) bytes spill stores")
_REGISTERS = re.compile(r"Used (\d+) registers")


def compile_case(case: Case) -> Row:
    """Compile ``case`` (in a process without ``TRITON_INTERPRET=1``) and read its resource use."""
    import importlib

    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    triton.knobs.nvidia.dump_ptxas_log = True
    log = io.StringIO()
    try:
        fn = getattr(importlib.import_module(f"{__package__}.{case.module}"), case.kernel)
        dtypes = {str(t): t for t in (tl.float16, tl.bfloat16, tl.float32, tl.float64)}
        constexprs = {k: dtypes.get(v, v) if k == "ACC_DTYPE" else v for k, v in case.constexprs.items()}
        with contextlib.redirect_stdout(log):
            compiled = triton.compile(
                ASTSource(fn=fn, signature=case.signature, constexprs=constexprs),
                target=GPUTarget("cuda", case.arch, 32),
                options={"num_warps": case.num_warps, "num_stages": case.num_stages},
            )
    except Exception as error:  # reported in the row: one broken case must not hide the others
        return Row(case.kernel, f"sm_{case.arch}", case.config, -1, -1, -1, f"{type(error).__name__}: {error}")
    text = log.getvalue()
    registers, spills = _REGISTERS.search(text), _SPILLS.search(text)
    if registers is None or spills is None:
        return Row(case.kernel, f"sm_{case.arch}", case.config, -1, -1, -1, "no ptxas log (cached compile?)")
    shared = compiled.metadata.shared
    return Row(case.kernel, f"sm_{case.arch}", case.config, int(registers[1]), int(spills[1]), shared)


def compile_all(jobs: int = 1) -> list[Row]:
    """Compile every case with ``jobs`` worker processes; rows in the order of :func:`cases`."""
    todo = cases()
    if jobs <= 1:
        return [compile_case(case) for case in todo]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(compile_case, todo, chunksize=4))


def report(jobs: int | None = None, timeout: float = 1200) -> list[Row]:
    """Rows of every case, compiled in a child process without ``TRITON_INTERPRET`` and with an empty cache."""
    jobs = jobs or min(2, os.cpu_count() or 1)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    with tempfile.TemporaryDirectory() as cache:
        env["TRITON_CACHE_DIR"] = cache
        env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # Triton's current default, stated to silence its warning
        command = [sys.executable, "-m", __name__, "--jobs", str(jobs)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"kernel compilation failed to run:\n{result.stderr[-3000:]}")
    return [Row(**row) for row in json.loads(result.stdout)]


def problems(rows: list[Row]) -> list[str]:
    """Rows over a budget or that failed to compile, one line each."""
    found = []
    for row in rows:
        where = f"{row.kernel} {row.arch} {row.config}"
        if row.error:
            found.append(f"{where}: {row.error.splitlines()[0]}")
        elif row.shared > SHARED_MEMORY_LIMIT:
            found.append(f"{where}: {row.shared} bytes of shared memory > {SHARED_MEMORY_LIMIT}")
        elif row.spills > SPILL_BUDGET:
            found.append(f"{where}: {row.spills} bytes spilled per thread > {SPILL_BUDGET}")
    return found


def format_table(rows: list[Row]) -> str:
    """The rows as a fixed-width table (kernel, arch, configuration, registers, spills, shared memory)."""
    width = max([len(row.config) for row in rows] + [13])
    lines = [f"{'kernel':22s} {'arch':6s} {'configuration':{width}s} {'regs':>5s} {'spills':>6s} {'shared':>7s}"]
    for row in rows:
        numbers = f"{row.registers:5d} {row.spills:6d} {row.shared:7d}" if not row.error else f"error: {row.error}"
        lines.append(f"{row.kernel:22s} {row.arch:6s} {row.config:{width}s} {numbers}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="compile every Triton kernel case; print JSON rows")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        print("unset TRITON_INTERPRET: the interpreter does not compile kernels", file=sys.stderr)
        return 2
    json.dump([asdict(row) for row in compile_all(args.jobs)], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
