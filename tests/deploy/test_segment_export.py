"""Segment reductions and the linear attention exported to ONNX (element scatters with a reduction, segment ids
by a prefix sum) agree with the eager ops, with ignored rows (-1), repeated segments and empty segments."""

import numpy as np
import pytest
import torch
from voxformer.ops import scattered_linear_attention, segment_reduce


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


class LinearAttention(torch.nn.Module):
    def forward(self, q, k, v, offsets):
        return scattered_linear_attention(q, k, v, offsets, feature_map="relu", backend="reference")


def test_exported_linear_attention_matches_eager_on_other_segments(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    generator = torch.Generator().manual_seed(0)

    def inputs(n, offsets):
        q, k, v = (torch.randn(n, 2, 4, generator=generator) for _ in range(3))
        return q, k, v, torch.tensor(offsets)

    path = tmp_path / "linear.onnx"
    names = ["q", "k", "v", "offsets"]
    axes = {"q": {0: "n"}, "k": {0: "n"}, "v": {0: "n"}, "offsets": {0: "s"}}
    traced = inputs(12, [0, 5, 12])
    torch.onnx.export(LinearAttention(), traced, str(path), input_names=names, dynamic_axes=axes, dynamo=False)
    session = ort.InferenceSession(str(path))
    other = inputs(20, [0, 3, 3, 11, 11, 11, 20])  # more tokens and segments, empty ones among them
    got = session.run(None, {name: value.numpy() for name, value in zip(names, other)})[0]
    expected = scattered_linear_attention(*other, feature_map="relu", backend="reference")
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
