"""VoxelSegmentor, SparseUNet and the segmentation losses: back-projection to points, ignore index, overfit."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from voxformer.models.losses.seg_losses import CrossEntropySegLoss, LovaszSoftmaxLoss, lovasz_softmax
from voxformer.models.segmentors import nearest_voxel_index
from voxformer.models.segmentors.voxel_segmentor import voxel_majority_labels
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels
from voxformer.structures.det3d_sample import Det3DSample, PointData

pytest.importorskip("spconv", reason="the sparse-convolution U-Net needs spconv")

RANGE = [0.0, 0.0, 0.0, 3.2, 3.2, 1.6]
VOXEL = [0.2, 0.2, 0.2]
NUM_CLASSES = 3


def _segmentor(**overrides):
    cfg = dict(
        type="VoxelSegmentor",
        data_preprocessor=dict(type="VoxelDataPreprocessor", voxel_size=VOXEL, point_cloud_range=RANGE),
        voxel_encoder=dict(type="DynamicVFE", in_channels=4, feat_channels=[16], normalize_inputs=True),
        backbone3d=dict(type="SparseUNet", in_channels=16, channels=[16, 16, 32], blocks=1),
        head=dict(type="VoxelSegHead", in_channels=16, num_classes=NUM_CLASSES),
    )
    cfg.update(overrides)
    return MODELS.build(cfg)


def _batch(points, labels=None):
    samples = [Det3DSample() for _ in points]
    if labels is not None:
        for sample, label in zip(samples, labels):
            sample.gt_pts_seg = PointData(pts_semantic_mask=label)
    return dict(inputs=dict(points=points), data_samples=samples)


def _random_points(generator, n):
    xyz = torch.rand(n, 3, generator=generator) * torch.tensor(RANGE[3:])
    return torch.cat([xyz, torch.rand(n, 1, generator=generator)], dim=1)


def test_points_sharing_a_voxel_get_their_voxels_logits_and_label():
    torch.manual_seed(0)
    model = _segmentor().eval()
    generator = torch.Generator().manual_seed(1)
    base = _random_points(generator, 60)
    # five more points in the voxel of point 0 (same 0.2 m cell, other offsets)
    cell = torch.floor(base[0, :3] / 0.2) * 0.2
    twins = torch.cat([cell + torch.rand(5, 3, generator=generator) * 0.19, torch.rand(5, 1, generator=generator)], 1)
    points = torch.cat([base, twins])
    with torch.no_grad():
        data = model.data_preprocessor(_batch([points]))
        inputs = data["inputs"]
        voxel_logits = model(**data, mode="tensor")
        point_logits = model.point_logits(inputs)
        labels = model(**data, mode="predict")[0].pred_pts_seg.pts_semantic_mask
    assert torch.equal(point_logits, voxel_logits[inputs["point_to_voxel"].long()])
    shared = inputs["point_to_voxel"][[0, 60, 61, 62, 63, 64]]
    assert len(set(shared.tolist())) == 1
    assert len(set(labels[[0, 60, 61, 62, 63, 64]].tolist())) == 1
    assert labels.shape == (len(points),)
    assert torch.equal(labels, voxel_logits.argmax(1)[inputs["point_to_voxel"].long()])


def test_points_outside_the_grid_take_the_nearest_voxel_of_their_sample():
    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 9], [1, 0, 0, 5]], dtype=torch.int32)  # (b, z, y, x)
    xyz = torch.tensor([[0.1, 0.1, 0.1], [5.0, 0.1, 0.1], [-3.0, 0.1, 0.1], [5.0, 0.1, 0.1], [0.1, 0.1, 0.1]])
    point_to_voxel = torch.tensor([0, -1, -1, -1, 2])
    point_batch = torch.tensor([0, 0, 0, 1, 1])
    index = nearest_voxel_index(point_to_voxel, xyz, point_batch, coords, VOXEL, RANGE[:3], chunk=1)
    # x = 5 m is nearest to the voxel at x cell 9 (centre 1.9 m) of sample 0; x = -3 m to cell 0;
    # the sample-1 point at x = 5 m goes to sample 1's only voxel, not to sample 0's nearer one
    assert index.tolist() == [0, 1, 0, 2, 2]
    no_voxels = nearest_voxel_index(torch.tensor([-1]), xyz[:1], torch.tensor([2]), coords, VOXEL, RANGE[:3])
    assert no_voxels.tolist() == [-1]


def test_every_input_point_is_labelled_including_points_outside_the_range():
    torch.manual_seed(0)
    model = _segmentor().eval()
    generator = torch.Generator().manual_seed(2)
    inside = _random_points(generator, 40)
    outside = torch.tensor([[10.0, 1.0, 0.5, 0.3], [-4.0, 2.0, 0.5, 0.3]])
    points = torch.cat([inside[:20], outside, inside[20:]])
    with torch.no_grad():
        samples = model.test_step(_batch([points, inside]))
    assert samples[0].pred_pts_seg.pts_semantic_mask.shape == (42,)
    assert samples[1].pred_pts_seg.pts_semantic_mask.shape == (40,)


def test_unet_keeps_the_voxels_and_their_row_order():
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(type="SparseUNet", in_channels=4, sparse_shape=[8, 16, 16], channels=[8, 16, 16], blocks=1)
    ).eval()
    generator = torch.Generator().manual_seed(3)
    flat = torch.randperm(8 * 16 * 16, generator=generator)[:200]
    coords = torch.stack([torch.zeros_like(flat), flat // 256, flat // 16 % 16, flat % 16], 1).int()
    features = torch.randn(200, 4, generator=generator)
    order = torch.randperm(200, generator=generator)
    with torch.no_grad():
        out = backbone(SparseVoxels(features, coords, (8, 16, 16), 1))
        permuted = backbone(SparseVoxels(features[order], coords[order], (8, 16, 16), 1))
    assert out.features.shape == (200, 8)
    assert torch.equal(out.coords, coords)
    assert torch.allclose(permuted.features, out.features[order], atol=1e-5)


@pytest.mark.parametrize("loss_type", [CrossEntropySegLoss, LovaszSoftmaxLoss])
def test_losses_ignore_the_ignore_index(loss_type):
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(50, 5, generator=generator)
    target = torch.randint(0, 5, (50,), generator=generator)
    target[::3] = 255
    loss = loss_type(ignore_index=255)
    changed = logits.clone()
    changed[::3] = torch.randn(len(changed[::3]), 5, generator=generator) * 10  # only ignored rows change
    assert torch.allclose(loss(logits, target), loss(changed, target))
    keep = target != 255
    assert torch.allclose(loss(logits, target), loss(logits[keep], target[keep]))
    if loss_type is CrossEntropySegLoss:
        assert torch.allclose(loss(logits, target), F.cross_entropy(logits[keep], target[keep]))
    empty = torch.full((50,), 255)
    leaf = logits.clone().requires_grad_()
    value = loss(leaf, empty)
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(leaf.grad).all()


def test_lovasz_is_zero_for_a_perfect_prediction_and_positive_otherwise():
    target = torch.tensor([0, 0, 1, 2, 2, 2])
    perfect = F.one_hot(target, 3).float() * 50
    assert lovasz_softmax(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    wrong = F.one_hot((target + 1) % 3, 3).float() * 50
    # every class entirely wrong: each present class's Jaccard loss is 1
    assert lovasz_softmax(wrong, target).item() == pytest.approx(1.0, abs=1e-5)


def test_tiny_overfit_reaches_high_point_accuracy():
    torch.manual_seed(0)
    model = _segmentor(
        losses=dict(ce=dict(type="CrossEntropySegLoss"), lovasz=dict(type="LovaszSoftmaxLoss", loss_weight=0.5))
    )
    generator = torch.Generator().manual_seed(5)
    points = _random_points(generator, 300)
    # classes by position: low points, then a left and a right half above them
    labels = torch.where(points[:, 2] < 0.5, 0, torch.where(points[:, 0] < 1.6, 1, 2))
    labels[:10] = 255  # ignored points take no part
    batch = _batch([points], [labels])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        losses = model(**model.data_preprocessor(batch, True), mode="loss")
        assert set(losses) == {"loss_ce", "loss_lovasz"}
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(**model.data_preprocessor(batch), mode="predict")[0].pred_pts_seg.pts_semantic_mask
    scored = labels != 255
    accuracy = (predicted[scored] == labels[scored]).float().mean().item()
    assert accuracy >= 0.95


def test_voxel_labels_are_the_majority_of_their_counted_points():
    labels = torch.tensor([2, 2, 1, 255, 255, 255, 0, 1, 1, 0, 2])
    point_to_voxel = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, -1, -1, 3])
    # voxel 0: 2, 2, 1 (the ignored point does not count); voxel 1: only ignored points; voxel 2: a tie -> 0;
    # the points outside the grid (-1) count nowhere
    assert voxel_majority_labels(labels, point_to_voxel, 4, 3).tolist() == [2, 255, 0, 2]


def test_voxel_level_loss_scores_one_row_per_voxel():
    torch.manual_seed(0)
    model = _segmentor(loss_level="voxel")
    points = _random_points(torch.Generator().manual_seed(7), 100)
    labels = torch.randint(0, NUM_CLASSES, (100,), generator=torch.Generator().manual_seed(8))
    data = model.data_preprocessor(_batch([points], [labels]), True)
    loss = model(**data, mode="loss")["loss_ce"]
    inputs = data["inputs"]
    logits = model(**data, mode="tensor")
    target = voxel_majority_labels(labels, inputs["point_to_voxel"], logits.shape[0], NUM_CLASSES)
    assert torch.allclose(loss, F.cross_entropy(logits, target, ignore_index=255))


def test_test_time_augmentation_votes_over_views():
    centred = dict(type="VoxelDataPreprocessor", voxel_size=VOXEL, point_cloud_range=[-1.6, -1.6, 0.0, 1.6, 1.6, 1.6])
    torch.manual_seed(0)
    plain = _segmentor(data_preprocessor=centred).eval()
    identity = _segmentor(data_preprocessor=centred, tta_views=[dict()]).eval()
    identity.load_state_dict(plain.state_dict())
    views = [dict(), dict(flip_x=True), dict(rotation=0.3, flip_y=True)]
    voting = _segmentor(data_preprocessor=centred, tta_views=views).eval()
    voting.load_state_dict(plain.state_dict())
    points = _random_points(torch.Generator().manual_seed(6), 80) - torch.tensor([1.6, 1.6, 0.0, 0.0])
    with torch.no_grad():
        expected = plain.test_step(_batch([points]))[0].pred_pts_seg.pts_semantic_mask
        same = identity.test_step(_batch([points]))[0].pred_pts_seg.pts_semantic_mask
        voted = voting.test_step(_batch([points]))[0].pred_pts_seg.pts_semantic_mask
    assert torch.equal(expected, same)
    assert voted.shape == (80,) and voted.max() < NUM_CLASSES


def test_a_batch_with_no_voxel_gives_labels_and_a_zero_loss():
    model = _segmentor()
    points = torch.tensor([[9.0, 9.0, 9.0, 0.5], [-5.0, 1.0, 0.5, 0.5]])  # both outside RANGE
    batch = _batch([points], [torch.tensor([1, 2])])
    losses = model(**model.data_preprocessor(batch, True), mode="loss")
    sum(losses.values()).backward()
    assert sum(losses.values()).item() == 0.0
    model.eval()
    with torch.no_grad():
        labels = model.test_step(_batch([points]))[0].pred_pts_seg.pts_semantic_mask
    assert labels.tolist() == [0, 0]


def test_a_bad_tta_view_is_a_config_error():
    from voxformer.errors import ConfigError

    with pytest.raises(ConfigError, match="tta_views"):
        _segmentor(tta_views=[dict(rotate=1.0)])


CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"


def _segmentation_configs():
    """configs/segmentation/*.py and the segmentors among configs/sphereformer/*.py (it holds a detector too)."""
    from mmengine.config import Config

    mixed = (CONFIG_ROOT / "sphereformer").glob("*.py")
    paths = [*(CONFIG_ROOT / "segmentation").glob("*.py"),
             *(p for p in mixed if Config.fromfile(p).model.type == "VoxelSegmentor")]
    return sorted(str(p.relative_to(CONFIG_ROOT)) for p in paths)


SEG_CONFIGS = _segmentation_configs()


@pytest.mark.parametrize("name", SEG_CONFIGS)
def test_segmentation_configs_build_and_agree_with_their_datasets(name):
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIG_ROOT / name)
    assert cfg.default_scope == "voxformer"
    grid = cfg.model.data_preprocessor.point_cloud_range
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.point_cloud_range == grid
    assert cfg.val_evaluator.type == "SegMetric"
    if "class_names" in cfg:
        assert len(cfg.class_names) == cfg.model.head.num_classes
    model = MODELS.build(cfg.model)
    assert model.num_classes == cfg.model.head.num_classes
    assert sum(p.numel() for p in model.backbone3d.parameters()) > 0
