"""onnxruntime vs PyTorch for every family: raw head maps to 1e-4 relative (fp32), the same boxes, scores and
labels, two scan sizes through one file, a real KITTI scan."""

import pytest
import torch

from voxformer.deploy import OnnxDetector
from voxformer.deploy.export import example_scan, reference_ops

from .conftest import FAMILIES, kitti_points

TOLERANCE = 1e-4


def pytorch_outputs(model, points):
    with torch.no_grad(), reference_ops():
        inputs = model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]
        return model(inputs, mode="tensor"), len(inputs["coords"])


def max_relative_difference(got, expected) -> float:
    worst = 0.0
    assert [sorted(task) for task in got] == [sorted(task) for task in expected]
    for got_task, expected_task in zip(got, expected):
        for name, value in expected_task.items():
            assert got_task[name].shape == value.shape, name
            worst = max(worst, float((got_task[name] - value).abs().max() / value.abs().max().clamp(min=1e-12)))
    return worst


def separated_threshold(heads, most: int = 20, cut: float = 1e-4, tie: float = 1e-5) -> float:
    """A score threshold keeping the highest heatmap cells (as many as possible, at most ``most``) with the cut
    ``cut`` clear of the next logit and no two kept logits within ``tie``: random weights put nearly every logit
    within 1e-3 of the prior, where fp32 noise (about 1e-6) would reorder boxes or move them across the
    config's threshold; the kept ones are clear of that."""
    top = torch.cat([task["heatmap"].flatten() for task in heads]).sort(descending=True).values[: most + 1]
    gaps = top[:-1] - top[1:]  # gaps[i]: cell i to cell i + 1
    untied = torch.cat([gaps.new_ones(1, dtype=torch.bool), (gaps > tie).cumprod(0).bool()])  # [t]: gaps[:t] > tie
    kept = [t for t in range(1, len(gaps) + 1) if gaps[t - 1] > cut and untied[t - 1]]
    assert kept, f"no cut {cut} clear of the top heatmap logits that keeps them {tie} apart"
    return float(((top[kept[-1] - 1] + top[kept[-1]]) / 2).sigmoid())


def assert_same_predictions(model, got_raw, expected_raw, monkeypatch):
    """The head's decoding and NMS of onnxruntime's and PyTorch's raw maps above :func:`separated_threshold`: the
    same boxes (to 1e-4), scores (1e-5) and labels, matched by centre. Scores are the heatmap's own (no IoU
    rectification, whose random-weight IoU branch would bring near-equal scores back; the IoU maps are compared
    raw)."""
    monkeypatch.setitem(model.head.test_cfg, "score_threshold", separated_threshold(expected_raw))
    monkeypatch.setitem(model.head.test_cfg, "iou_rectifier", None)
    monkeypatch.setitem(model.head.test_cfg, "iou_power", None)
    with torch.no_grad():
        expected, got = model.head.predict(expected_raw)[0], model.head.predict(got_raw)[0]
    assert len(expected.scores_3d) > 0 and len(got.scores_3d) == len(expected.scores_3d)
    boxes, expected_boxes = got.bboxes_3d.tensor, expected.bboxes_3d.tensor
    match = torch.cdist(expected_boxes[:, :3], boxes[:, :3]).argmin(dim=1)
    assert len(set(match.tolist())) == len(match)
    assert torch.equal(got.labels_3d[match], expected.labels_3d)
    torch.testing.assert_close(boxes[match], expected_boxes, rtol=0, atol=1e-4)
    torch.testing.assert_close(got.scores_3d[match], expected.scores_3d, rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_two_scan_sizes_through_one_file(exported, family, monkeypatch):
    model, path = exported(family)
    runtime = OnnxDetector(path, model)
    voxel_counts = []
    for num_points, seed in ((1500, 1), (6000, 2)):
        points = example_scan(model.cfg, num_points, seed)
        expected, num_voxels = pytorch_outputs(model, points)
        voxel_counts.append(num_voxels)
        got = runtime.raw_outputs(points)
        assert max_relative_difference(got, expected) < TOLERANCE
    assert voxel_counts[0] < voxel_counts[1]  # two different voxel (and set, window, pooled voxel) counts
    assert_same_predictions(model, got, expected, monkeypatch)


@pytest.mark.parametrize("family", FAMILIES)
def test_real_kitti_scan(exported, family, real_data, monkeypatch):
    model, path = exported(family)
    points = kitti_points(real_data / "kitti" / "training" / "velodyne" / "000003.bin", model)
    expected, num_voxels = pytorch_outputs(model, points)
    assert num_voxels > 1000  # a real scan fills the +-19.2 m crops and the quick configs' 51.2 m range
    got = OnnxDetector(path, model).raw_outputs(points)
    assert max_relative_difference(got, expected) < TOLERANCE
    assert_same_predictions(model, got, expected, monkeypatch)
