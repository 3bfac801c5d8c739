"""Segment reductions exported to ONNX (element scatters with a reduction) agree with the eager op, with
ignored rows (-1), repeated segments and empty segments (0)."""

import numpy as np
import pytest
import torch
from voxformer.ops import segment_reduce


class Reduce(torch.nn.Module):
    def __init__(self, reduce: str):
        super().__init__()
        self.reduce = reduce

    def forward(self, values, index, like):
        return segment_reduce(values, index, num_segments=like.shape[0], reduce=self.reduce)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_exported_segment_reduce_matches_eager(tmp_path, reduce):
    ort = pytest.importorskip("onnxruntime")
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(50, 3, generator=generator) - 2  # mostly negative: an empty segment must give 0, not a max
    index = torch.randint(-1, 8, (50,), generator=generator)
    index[index == 5] = 6  # segment 5 stays empty
    like = torch.zeros(10)  # 10 segments: 8 and 9 are empty too
    path = tmp_path / f"{reduce}.onnx"
    axes = {"values": {0: "n"}, "index": {0: "n"}, "like": {0: "s"}}
    torch.onnx.export(
        Reduce(reduce), (values, index, like), str(path), input_names=list(axes), dynamic_axes=axes, dynamo=False
    )
    got = ort.InferenceSession(str(path)).run(
        None, {"values": values.numpy(), "index": index.numpy(), "like": like.numpy()}
    )
    expected = segment_reduce(values, index, num_segments=10, reduce=reduce)
    assert not expected[5].any() and not expected[8:].any()
    np.testing.assert_allclose(got[0], expected.numpy(), rtol=1e-6, atol=1e-6)
