"""``voxformer env`` lists, per op, the backends a CUDA and a CPU input get."""

from __future__ import annotations

import importlib

import pytest
import voxformer.ops as ops
from voxformer.ops.backends import Backend

from voxformer.commands import env

ATTENTION_OPS = ("varlen_window_attention", "set_attention", "scattered_linear_attention")
BOX_OPS = (
    "boxes_iou_bev",
    "boxes_iou3d",
    "boxes_iou_aligned",
    "nms_rotated",
    "circle_nms",
    "points_in_boxes",
    "count_points_in_boxes",
)
GPU_OPS = (*ATTENTION_OPS, *BOX_OPS, "sparse_depthwise_conv")


def test_every_backend_tuple_of_the_ops_is_listed():
    listed = {(module, attribute) for module, attribute in env.OP_BACKENDS.values()}
    tuples = set()
    for module in {module for module, _ in env.OP_BACKENDS.values()} | {"bev", "grid", "serialization"}:
        namespace = vars(importlib.import_module(f"voxformer.ops.{module}"))
        tuples |= {
            (module, name)
            for name, value in namespace.items()
            if isinstance(value, tuple) and value and all(isinstance(b, Backend) for b in value)
        }
    assert tuples == listed
    assert set(env.OP_BACKENDS) <= set(ops.__all__)


@pytest.mark.parametrize("op", GPU_OPS)
def test_a_cuda_input_gets_a_gpu_backend(op):
    first = env.op_backends("cuda")[op].split(",")[0]
    assert first != "reference"


def test_env_prints_both_tables(capsys):
    from voxformer.cli import main

    assert main(["env"]) == 0
    out = capsys.readouterr().out
    cuda = out[out.index("for a CUDA input") : out.index("for a CPU input")]
    assert all(f"  {op} " in cuda for op in env.OP_BACKENDS)
    assert "varlen_window_attention      triton" in cuda
