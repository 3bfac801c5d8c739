"""``voxformer env``: versions of the stack, the op backends usable here and (``--kernels``) the kernels'
compiled resource use."""

from __future__ import annotations

import argparse
import importlib
import platform

NAME = "env"
HELP = "print versions of Python and the libraries, and which op backends run on this machine"

_LIBRARIES = ("torch", "triton", "spconv", "open3d", "numba", "mmengine", "numpy")

# public op -> (module of voxformer.ops, tuple of its backends in order of preference)
OP_BACKENDS = {
    "voxelize": ("voxelize", "BACKENDS"),
    "window_partition": ("partition", "_WINDOW_BACKENDS"),
    "dsvt_sets": ("partition", "_SET_BACKENDS"),
    "flat_groups": ("partition", "_GROUP_BACKENDS"),
    "segment_reduce": ("segment", "BACKENDS"),
    "sparse_depthwise_conv": ("sparse_conv", "BACKENDS"),
    "varlen_window_attention": ("attention", "VARLEN_BACKENDS"),
    "set_attention": ("attention", "SET_BACKENDS"),
    "scattered_linear_attention": ("attention", "LINEAR_BACKENDS"),
    "radial_window_partition": ("radial_partition", "_BACKENDS"),
    "cubic_window_partition": ("radial_partition", "_BACKENDS"),
    "rpe_window_attention": ("rpe_attention", "RPE_BACKENDS"),
    "boxes_iou_bev": ("boxes", "IOU_MATRIX_BACKENDS"),
    "boxes_iou3d": ("boxes", "IOU_MATRIX_BACKENDS"),
    "boxes_iou_aligned": ("boxes", "IOU_ALIGNED_BACKENDS"),
    "nms_rotated": ("boxes", "NMS_ROTATED_BACKENDS"),
    "circle_nms": ("boxes", "CIRCLE_NMS_BACKENDS"),
    "points_in_boxes": ("boxes", "POINTS_IN_BOXES_BACKENDS"),
    "count_points_in_boxes": ("boxes", "COUNT_POINTS_BACKENDS"),
}


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed (version unknown)")
    except Exception as error:  # a broken install is reported, not raised
        return f"not usable ({type(error).__name__}: {error})".splitlines()[0]


def op_backends(device_type: str) -> dict[str, str]:
    """Per op, the backends an input on ``device_type`` gets: those picked automatically, in order of
    preference (the first installed one runs; ``reference`` is the last resort), then those that run there
    only when forced (``backend=``); backends whose package is missing are marked."""
    table = {}
    for op, (module, attribute) in OP_BACKENDS.items():
        backends = getattr(importlib.import_module(f"voxformer.ops.{module}"), attribute)
        named = {b.name: b.name if b.installed() else f"{b.name} (not installed)" for b in backends}
        auto = [named[b.name] for b in backends if device_type in b.devices]
        forced = [named[b.name] for b in backends if device_type not in b.devices and b.runs_on(device_type)]
        table[op] = ", ".join(auto) + (f"; forced: {', '.join(forced)}" if forced else "")
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kernels",
        action="store_true",
        help="also compile every Triton kernel for sm_80 and sm_90 (no GPU needed, about a minute) and print "
        "registers, spilled bytes and shared memory per launch configuration",
    )


def _print_kernels() -> int:
    from voxformer.ops.triton import compile_report

    rows = compile_report.report()
    print(compile_report.format_table(rows))
    over = compile_report.problems(rows)
    limits = f"shared memory <= {compile_report.SHARED_MEMORY_LIMIT} B, spills <= {compile_report.SPILL_BUDGET} B"
    print(f"{len(rows)} cases, {len(over)} over budget ({limits})")
    for line in over:
        print(f"  {line}")
    return 0


def run(args: argparse.Namespace) -> int:
    import voxformer
    from voxformer.ops import usable_backends

    print(f"voxformer {voxformer.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for module in _LIBRARIES:
        print(f"{module:10s} {_version(module)}")
    print("op backends:")
    for name, usable in usable_backends().items():
        print(f"  {name:46s} {'yes' if usable else 'no'}")
    for device_type in ("cuda", "cpu"):
        print(f"backends per op for a {device_type.upper()} input, in order of preference:")
        for op, backends in op_backends(device_type).items():
            print(f"  {op:28s} {backends}")
    if args.kernels:
        return _print_kernels()
    return 0
