"""Each synthetic quick detector overfits 4 synthetic frames: Car BEV AP (R40, IoU 0.7) >= 90 within
300 iterations on the CPU. The AP is computed here with ``boxes_iou_bev``."""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from voxformer.ops import boxes_iou_bev

from voxformer.registry import MODELS
from voxformer.structures import Boxes3D
from voxformer.structures.det3d_sample import Det3DSample

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"
CROP = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]  # 80 x 80 pillars of 0.32 m in front of the sensor
CLASSES = ["Car", "Pedestrian", "Cyclist"]
MAX_ITERATIONS = 300
CHECK_EVERY = 25


def bev_average_precision(predictions, ground_truths, iou_threshold=0.7, recall_points=40):
    """KITTI-style interpolated AP (R40 by default) over frames; greedy matching by descending score."""
    scored, num_gt = [], sum(len(g) for g in ground_truths)
    for pred, gt in zip(predictions, ground_truths):
        boxes, scores = pred
        order = scores.argsort(descending=True)
        iou = boxes_iou_bev(boxes[order], gt) if len(gt) and len(boxes) else torch.zeros(len(boxes), len(gt))
        taken = torch.zeros(len(gt), dtype=torch.bool)
        for row, score in zip(iou, scores[order].tolist()):
            candidates = torch.where(taken, -1.0, row)
            best = int(candidates.argmax()) if len(gt) else -1
            hit = best >= 0 and candidates[best] >= iou_threshold
            if hit:
                taken[best] = True
            scored.append((score, hit))
    if num_gt == 0:
        return 0.0
    scored.sort(key=lambda item: -item[0])
    hits = np.array([hit for _, hit in scored], dtype=float)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / num_gt
    points = np.linspace(1.0 / recall_points, 1.0, recall_points)
    interpolated = [precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in points]
    return 100.0 * float(np.mean(interpolated))


def test_bev_average_precision_helper():
    gt = Boxes3D(torch.tensor([[0.0, 0, 0, 4, 2, 1.5, 0], [10, 0, 0, 4, 2, 1.5, 0]])).tensor
    perfect = (gt.clone(), torch.tensor([0.9, 0.8]))
    assert bev_average_precision([perfect], [gt]) == pytest.approx(100.0)
    half = (gt[:1].clone(), torch.tensor([0.9]))
    assert bev_average_precision([half], [gt]) == pytest.approx(50.0)
    shifted = gt.clone()
    shifted[:, 0] += 1.5  # BEV IoU 2.5 / 5.5 < 0.7
    assert bev_average_precision([(shifted, torch.tensor([0.9, 0.8]))], [gt]) == 0.0


@pytest.fixture(scope="module")
def frames():
    pytest.importorskip("open3d", reason="the synthetic generator ray-casts with Open3D")
    from voxformer.datasets.synthetic.generate import generate_frame

    low, high = torch.tensor(CROP[:3]), torch.tensor(CROP[3:])
    out = []
    for index in range(4):
        frame = generate_frame(seed=17, index=index)
        points = torch.from_numpy(frame.points)
        points = points[((points[:, :3] >= low) & (points[:, :3] < high)).all(dim=1)]
        boxes = torch.from_numpy(frame.annos["boxes"]).float()
        inside = ((boxes[:, :2] >= low[:2]) & (boxes[:, :2] < high[:2])).all(dim=1)
        names = frame.annos["names"][inside.numpy()]
        labels = torch.tensor([CLASSES.index(n) for n in names], dtype=torch.long)
        out.append((points, boxes[inside], labels))
    assert sum(int((labels == 0).sum()) for _, _, labels in out) >= 8, "too few cars in the crop"
    return out


def _batch(frames):
    samples = []
    for _, boxes, labels in frames:
        gt = InstanceData()
        gt.bboxes_3d = Boxes3D(boxes)
        gt.labels_3d = labels
        sample = Det3DSample()
        sample.gt_instances_3d = gt
        samples.append(sample)
    return dict(inputs=dict(points=[p for p, _, _ in frames]), data_samples=samples)


def _car_ap(model, data, frames):
    model.eval()
    with torch.no_grad():
        samples = model(**model.data_preprocessor(data), mode="predict")
    model.train()
    predictions, truths = [], []
    for sample, (_, boxes, labels) in zip(samples, frames):
        pred = sample.pred_instances_3d
        car = pred.labels_3d == 0
        predictions.append((pred.bboxes_3d.tensor[car], pred.scores_3d[car]))
        truths.append(boxes[labels == 0])
    return bev_average_precision(predictions, truths)


@pytest.mark.slow
@pytest.mark.parametrize(
    "config",
    [
        "dsvt/dsvt_synthetic_quick.py",
        "flatformer/flatformer_synthetic_quick.py",
        "scatterformer/scatterformer_synthetic_quick.py",
    ],
)
def test_synthetic_detector_overfits_four_frames(config, frames):
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIG_ROOT / config)
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor.point_cloud_range = CROP
    model_cfg.head.test_cfg.post_center_range = None
    model = MODELS.build(model_cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    data = _batch(frames)
    model.train()
    ap = 0.0
    for iteration in range(1, MAX_ITERATIONS + 1):
        losses = model(**model.data_preprocessor(data, True), mode="loss")
        optimizer.zero_grad()
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        if iteration % CHECK_EVERY == 0 and iteration >= 50:
            ap = _car_ap(model, data, frames)
            if ap >= 90.0:
                break
    assert ap >= 90.0, f"{config}: Car BEV AP {ap:.1f} after {iteration} iterations"
