"""onnxruntime vs PyTorch: raw head maps to 1e-4 relative (fp32), two scan sizes through one file."""

import numpy as np
import pytest
import torch
from mmengine import Config

from voxformer.deploy import OnnxDetector
from voxformer.deploy.export import example_scan, reference_ops

from .conftest import QUICK

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


@pytest.mark.parametrize("family", sorted(QUICK))
def test_two_scan_sizes_through_one_file(exported, family):
    model, path = exported(family)
    runtime = OnnxDetector(path, model)
    voxel_counts = []
    for num_points, seed in ((1500, 1), (6000, 2)):
        points = example_scan(model.cfg, num_points, seed)
        expected, num_voxels = pytorch_outputs(model, points)
        voxel_counts.append(num_voxels)
        assert max_relative_difference(runtime.raw_outputs(points), expected) < TOLERANCE
    assert voxel_counts[0] < voxel_counts[1]  # two different voxel (and set) counts


@pytest.mark.parametrize("family", sorted(QUICK))
def test_real_kitti_scan(exported, family, real_data):
    model, path = exported(family)
    scan = np.fromfile(real_data / "kitti" / "training" / "velodyne" / "000003.bin", dtype=np.float32).reshape(-1, 4)
    points = torch.from_numpy(scan)
    expected, num_voxels = pytorch_outputs(model, points)
    assert num_voxels > 1000  # a real scan fills the quick configs' 51.2 m range
    assert max_relative_difference(OnnxDetector(path, model).raw_outputs(points), expected) < TOLERANCE


@pytest.mark.parametrize("family", sorted(QUICK))
def test_same_boxes_scores_labels(exported, family):
    model, path = exported(family)
    points = example_scan(model.cfg, 3000, 5)
    with torch.no_grad(), reference_ops():
        inputs = model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]
        expected = model.head.predict(model(inputs, mode="tensor"))[0]
    got = OnnxDetector(path, model).predict(points)
    assert len(expected.scores_3d) > 0
    torch.testing.assert_close(got.bboxes_3d.tensor, expected.bboxes_3d.tensor, rtol=0, atol=1e-4)
    torch.testing.assert_close(got.scores_3d, expected.scores_3d, rtol=0, atol=1e-5)
    assert torch.equal(got.labels_3d, expected.labels_3d)


def test_official_flatformer_through_one_file(tmp_path):
    """The published FlatFormer (mirrored in-window order, overlap padding, mmdet3d voxelizer) on a ±19.2 m crop
    of its Waymo grid: its groups come from the voxels' partition cache, so they are fed to the graph too."""
    from voxformer.apis.inference import init_detector
    from voxformer.deploy import export_model

    cfg = Config.fromfile("configs/flatformer/flatformer_waymo.py")
    cfg.model.data_preprocessor.point_cloud_range = [-19.2, -19.2, -2.0, 19.2, 19.2, 4.0]
    cfg.dump(tmp_path / "flatformer_crop.py")
    torch.manual_seed(0)
    model = init_detector(str(tmp_path / "flatformer_crop.py"))
    path = export_model(model, model.cfg, tmp_path / "flatformer.onnx")
    runtime = OnnxDetector(path, model)
    for num_points, seed in ((1500, 1), (6000, 2)):
        points = example_scan(model.cfg, num_points, seed)
        expected, _ = pytorch_outputs(model, points)
        assert max_relative_difference(runtime.raw_outputs(points), expected) < TOLERANCE
