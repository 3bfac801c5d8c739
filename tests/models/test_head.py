"""CenterHead: output shapes, losses with gradients, decoding of perfect outputs back to the boxes."""

import pytest
import torch
from voxformer.ops import circle_nms, nms_rotated

from voxformer.models.heads import CenterHead, assign_targets

RANGE = [0.0, -6.4, -3.0, 12.8, 6.4, 1.0]
VOXEL = [0.2, 0.2, 4.0]
CLASSES = ["Car", "Pedestrian", "Cyclist"]


def _head(**kwargs):
    defaults = dict(
        in_channels=8,
        class_names=CLASSES,
        point_cloud_range=RANGE,
        voxel_size=VOXEL,
        tasks=[["Car"], ["Pedestrian", "Cyclist"]],
        feature_stride=2,
        shared_channels=8,
        head_channels=8,
        with_iou=True,
        test_cfg=dict(nms=dict(type="rotate", iou_threshold=[0.7, 0.5, 0.5])),
    )
    return CenterHead(**{**defaults, **kwargs})


GT_BOXES = [
    torch.tensor([[3.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.4], [9.0, -4.0, -0.8, 0.8, 0.6, 1.7, -2.5]]),
    torch.tensor([[6.1, 2.9, -1.2, 1.8, 0.6, 1.7, 3.0]]),
]
GT_LABELS = [torch.tensor([0, 1]), torch.tensor([2])]


def test_forward_shapes_and_loss_backward():
    head = _head()
    bev = torch.randn(2, 8, 32, 32, requires_grad=True)
    outputs = head(bev)
    assert [o["heatmap"].shape[1] for o in outputs] == [1, 2]
    assert outputs[0]["rot"].shape == (2, 2, 32, 32) and outputs[0]["iou"].shape == (2, 1, 32, 32)
    losses = head.loss(outputs, GT_BOXES, GT_LABELS)
    assert set(losses) == {f"loss_{k}_task{t}" for k in ("heatmap", "bbox", "iou") for t in (0, 1)}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert bev.grad.abs().sum() > 0


def test_loss_without_objects_is_finite():
    head = _head()
    losses = head.loss(head(torch.randn(1, 8, 32, 32)), [torch.zeros(0, 7)], [torch.zeros(0, dtype=torch.long)])
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_bbox_task0"] == 0


def _perfect_outputs(head):
    """Head outputs that encode the ground truth exactly (logit +-12, codes at the centre cells)."""
    branches = dict(reg=2, height=1, dim=3, rot=2, axis=2 * head.with_heading_axis)
    outputs = []
    for task in head.tasks:
        labels = [head._task_labels(task, labels) for labels in GT_LABELS]
        t = assign_targets(GT_BOXES, labels, len(task), (32, 32), head.coder)
        code = torch.zeros(2, head.code_size, 32 * 32)
        code[t.batch, :, t.cell] = t.code
        maps = code.view(2, head.code_size, 32, 32).split(list(branches.values()), dim=1)
        output = dict(heatmap=torch.where(t.heatmap == 1, 12.0, -12.0), iou=torch.full((2, 1, 32, 32), 1.0))
        output.update({name: m for name, m in zip(branches, maps) if m.shape[1]})
        outputs.append(output)
    return outputs


@pytest.mark.parametrize("nms", [dict(type="rotate", iou_threshold=0.5), dict(type="circle", distance_threshold=1.0)])
@pytest.mark.parametrize("with_heading_axis", [False, True])
def test_predict_recovers_ground_truth(nms, with_heading_axis):
    head = _head(test_cfg=dict(nms=nms, iou_rectifier=[0.5, 0.5, 0.5]), with_heading_axis=with_heading_axis)
    results = head.predict(_perfect_outputs(head))
    for result, boxes, labels in zip(results, GT_BOXES, GT_LABELS):
        assert len(result.bboxes_3d) == len(boxes)
        order = result.labels_3d.argsort()
        torch.testing.assert_close(result.bboxes_3d.tensor[order], boxes[labels.argsort()], rtol=1e-4, atol=1e-4)
        assert (result.scores_3d > 0.99).all()


def test_heading_axis_branch_trains_and_sets_the_code_size():
    head = _head(with_heading_axis=True)
    outputs = head(torch.randn(2, 8, 32, 32))
    assert outputs[0]["axis"].shape == (2, 2, 32, 32) and head.code_size == 10
    head.loss(outputs, GT_BOXES, GT_LABELS)["loss_bbox_task0"].backward()
    assert head.task_heads[0]["axis"][-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="code_weights needs 10"):
        _head(with_heading_axis=True, code_weights=[1.0] * 8)


def test_predict_score_threshold_and_nms_suppress_duplicates():
    head = _head(tasks=[CLASSES], test_cfg=dict(nms=dict(type="rotate", iou_threshold=0.1), score_threshold=0.5))
    outputs = head(torch.zeros(1, 8, 32, 32))
    with torch.no_grad():
        outputs[0]["heatmap"].fill_(-12.0)
        outputs[0]["heatmap"][0, 0, 10, 10:12] = 12.0  # two neighbouring car peaks, same box size
        outputs[0]["dim"].fill_(1.0)
    result = head.predict(outputs)[0]
    assert len(result.bboxes_3d) == 1 and result.labels_3d.tolist() == [0]


def _predict_one_class_at_a_time(head, outputs):
    """The head's decoding with one NMS call per class per sample (the loop its single batched call replaces)."""
    nms, cfg = head.test_cfg["nms"], head.test_cfg
    decoded = [head._decode_task(task, output) for task, output in zip(head.tasks, outputs)]
    results = []
    for b in range(len(decoded[0][0])):
        kept = []
        for boxes, scores, labels, valid in decoded:
            boxes, scores, labels = boxes[b][valid[b]], scores[b][valid[b]], labels[b][valid[b]]
            for label in labels.unique().tolist():
                members = (labels == label).nonzero().squeeze(1)
                if nms["type"] == "rotate":
                    keep = nms_rotated(
                        boxes[members], scores[members], head._per_class(nms["iou_threshold"], label),
                        head._per_class_size(nms.get("pre_max_size"), label),
                        head._per_class_size(nms.get("post_max_size"), label),
                    )  # fmt: skip
                else:
                    keep = circle_nms(
                        boxes[members, :2], scores[members], head._per_class(nms["distance_threshold"], label),
                        head._per_class_size(nms.get("post_max_size"), label),
                    )  # fmt: skip
                kept.append((boxes[members[keep]], scores[members[keep]], labels[members[keep]]))
        boxes, scores, labels = (torch.cat(parts) for parts in zip(*kept))
        order = scores.argsort(descending=True)[: cfg["max_per_sample"]]
        results.append((boxes[order], scores[order], labels[order]))
    return results


@pytest.mark.parametrize("backend", [None, "torch"])
@pytest.mark.parametrize(
    "nms",
    [
        dict(type="rotate", iou_threshold=[0.3, 0.1, 0.2], pre_max_size=[60, 30, 40], post_max_size=[20, 5, 10]),
        dict(type="circle", distance_threshold=[0.8, 0.5, 0.3], post_max_size=[25, 10, 8]),
    ],
)
def test_one_batched_nms_keeps_what_one_call_per_class_and_sample_keeps(monkeypatch, backend, nms):
    if backend is not None:
        monkeypatch.setenv("VOXFORMER_OPS_BACKEND", backend)
    torch.manual_seed(0)
    head = _head(test_cfg=dict(nms=nms, top_k=80, score_threshold=0.12, max_per_sample=60, iou_power=0.5))
    with torch.no_grad():
        outputs = head(torch.randn(3, 8, 32, 32))
    results = head.predict(outputs)
    expected = _predict_one_class_at_a_time(head, outputs)
    assert sum(len(r.scores_3d) for r in results) > 40
    for result, (boxes, scores, labels) in zip(results, expected):
        assert torch.equal(result.bboxes_3d.tensor, boxes)
        assert torch.equal(result.scores_3d, scores) and torch.equal(result.labels_3d, labels)


def test_map_size_must_match_grid_and_stride():
    head = _head(feature_stride=4)  # 64 x 64 voxels / 4 = 16 x 16 cells
    with pytest.raises(ValueError, match="feature_stride"):
        head(torch.randn(1, 8, 32, 32))


def test_bad_config_names():
    with pytest.raises(ValueError, match="Truck"):
        _head(tasks=[["Car", "Truck"]])
    with pytest.raises(ValueError, match="code_weights"):
        _head(code_weights=[1.0] * 5)
    with pytest.raises(ValueError, match="nms.type"):
        _head(test_cfg=dict(nms=dict(type="soft")))
    with pytest.raises(ValueError, match="iou_threshold has 2 values"):
        _head(test_cfg=dict(nms=dict(type="rotate", iou_threshold=[0.5, 0.5])))
