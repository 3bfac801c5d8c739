import json
import math

import numpy as np
import pytest
import torch

from voxformer.registry import METRICS

CLASSES = ("Car", "Pedestrian", "Cyclist")


def make_samples(num_frames=45, as_dict=False):
    from mmengine.structures import InstanceData

    from voxformer.structures import Boxes3D
    from voxformer.structures.det3d_sample import Det3DSample

    rng = np.random.default_rng(0)
    samples = []
    for frame in range(num_frames):
        labels = np.array([0, 1, 2])
        boxes = np.c_[np.array([[10.0, 0, -1], [20.0, 5, -1], [30.0, -5, -1]]), [[4, 1.8, 1.5], [0.8, 0.6, 1.7],
                      [1.8, 0.6, 1.7]], rng.uniform(-math.pi, math.pi, 3)]  # fmt: skip
        sample = Det3DSample(metainfo={"frame_id": f"{frame:06d}"})
        sample.gt_instances_3d = InstanceData(
            bboxes_3d=Boxes3D(torch.tensor(boxes, dtype=torch.float32)), labels_3d=torch.tensor(labels),
            difficulty=torch.tensor([0, 1, 2]), num_points=torch.tensor([50, 3, 20]), level=torch.tensor([1, 2, 1]),
        )  # fmt: skip
        sample.pred_instances_3d = InstanceData(
            bboxes_3d=torch.tensor(boxes, dtype=torch.float32), scores_3d=torch.tensor([0.9, 0.8, 0.7]),
            labels_3d=torch.tensor(labels),
        )  # fmt: skip
        samples.append(sample.to_dict() if as_dict else sample)
    return samples


@pytest.mark.parametrize("as_dict", [False, True])
def test_kitti_metric_perfect_predictions(as_dict, tmp_path):
    metric = METRICS.build(dict(type="KittiMetric", class_names=CLASSES, output_dir=str(tmp_path)))
    metric.process({}, make_samples(as_dict=as_dict))
    results = metric.compute_metrics(metric.results)
    assert results["Car_3d/easy_R40"] == pytest.approx(100.0)
    assert results["Pedestrian_bev/moderate_R40"] == pytest.approx(100.0)
    assert results["Cyclist_aos/hard_R40"] == pytest.approx(100.0)
    saved = json.loads((tmp_path / "kitti_results.json").read_text())
    assert saved["metrics"]["Car_3d/easy_R40"] == pytest.approx(100.0)


def test_synthetic_metric_reports_both_styles(tmp_path):
    metric = METRICS.build(dict(type="SyntheticMetric", output_dir=str(tmp_path)))
    metric.dataset_meta = {"classes": CLASSES}
    samples = make_samples()
    for sample in samples:  # the pedestrian prediction flipped by pi: full AP, zero heading accuracy
        sample.pred_instances_3d.bboxes_3d[1, 6] += math.pi
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    assert results["Car_3d/moderate_R40"] == pytest.approx(100.0)
    assert results["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1/mAPH"] == pytest.approx(1.0)
    assert results["OBJECT_TYPE_TYPE_PEDESTRIAN_LEVEL_2/mAP"] == pytest.approx(1.0)
    assert results["OBJECT_TYPE_TYPE_PEDESTRIAN_LEVEL_2/mAPH"] == pytest.approx(0.0, abs=1e-6)
    assert (tmp_path / "synthetic_results.json").is_file()


def test_waymo_metric_drops_boxes_without_points():
    metric = METRICS.build(dict(type="WaymoMetric", class_names=CLASSES))
    samples = make_samples(as_dict=True)
    for sample in samples:
        sample["gt_instances_3d"]["num_points"] = torch.tensor([50, 0, 20])
        sample["pred_instances_3d"]["scores_3d"] = torch.tensor([0.9, 0.95, 0.7])  # an FP that outranks the rest
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    assert results["OBJECT_TYPE_TYPE_PEDESTRIAN_LEVEL_2/mAP"] == 0.0
    assert results["OBJECT_TYPE_TYPE_VEHICLE_LEVEL_2/mAP"] == pytest.approx(1.0)


def test_nuscenes_metric_uses_eval_ann_info():
    metric = METRICS.build(dict(type="NuScenesMetric", class_names=("car", "pedestrian")))
    boxes = np.array([[10.0, 0, 0, 4, 2, 1.5, 0.2, 1.0, 0.0], [5.0, 5, 0, 0.7, 0.7, 1.8, 0, 0, 0]])
    annos = {"boxes": boxes, "names": np.array(["car", "pedestrian"]), "num_points": np.array([10, 0]),
             "num_radar_points": np.array([0, 2]), "velocity": boxes[:, 7:9],
             "attributes": np.array(["vehicle.parked", "pedestrian.moving"])}  # fmt: skip
    sample = {"frame_id": "token", "eval_ann_info": annos,
              "pred_instances_3d": {"bboxes_3d": torch.tensor(boxes), "scores_3d": torch.tensor([0.9, 0.8]),
                                    "labels_3d": torch.tensor([0, 1])}}  # fmt: skip
    metric.process({}, [sample])
    results = metric.compute_metrics(metric.results)
    assert results["car_AP"] == pytest.approx(1.0) and results["pedestrian_AP"] == pytest.approx(1.0)
    assert results["mATE"] == pytest.approx(0.0)


def test_clear_errors():
    metric = METRICS.build(dict(type="KittiMetric"))
    with pytest.raises(ValueError, match="class_names"):
        metric.process({}, make_samples(1))
    metric = METRICS.build(dict(type="KittiMetric", class_names=CLASSES))
    with pytest.raises(ValueError, match="pred_instances_3d"):
        metric.process({}, [{"frame_id": "x"}])


def test_point_cloud_range_scores_only_the_region_the_model_sees():
    """A car outside the range that nothing detects counts as missed only when no range is given."""
    samples = make_samples()
    for sample in samples:  # the car at x = 10 m goes undetected
        sample.pred_instances_3d = sample.pred_instances_3d[1:]
    everywhere = METRICS.build(dict(type="SyntheticMetric", class_names=CLASSES))
    forward_range = [15, -40, -3, 70, 40, 1]
    forward = METRICS.build(dict(type="SyntheticMetric", class_names=CLASSES, point_cloud_range=forward_range))
    for metric in (everywhere, forward):
        metric.process({}, samples)
    assert everywhere.compute_metrics(everywhere.results)["Car_3d/easy_R40"] == pytest.approx(0.0)
    scored = forward.compute_metrics(forward.results)
    assert scored["Pedestrian_3d/moderate_R40"] == pytest.approx(100.0)
    assert all(len(result["gt"]["boxes"]) == 2 and len(result["gt"]["level"]) == 2 for result in forward.results)
