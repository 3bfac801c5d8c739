"""Focal and L1 losses against hand-computed values."""

import math

import pytest
import torch

from voxformer.models.losses import gaussian_focal_loss, weighted_l1_loss


def test_focal_loss_single_positive_and_negative():
    logits = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[1.0, 0.5]]]])
    # positive: -log(0.5) * 0.5^2; negative: -log(0.5) * 0.5^2 * (1 - 0.5)^4; one positive
    expected = math.log(2) * 0.25 + math.log(2) * 0.25 * 0.5**4
    assert gaussian_focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_focal_loss_near_zero_for_confident_correct_prediction():
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 2] = 1
    logits = torch.where(target == 1, 12.0, -12.0)
    assert gaussian_focal_loss(logits, target).item() < 1e-6
    assert gaussian_focal_loss(-logits, target).item() > 1.0


def test_focal_loss_without_positives_is_finite_and_shape_checked():
    assert torch.isfinite(gaussian_focal_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)))
    with pytest.raises(ValueError, match="differ"):
        gaussian_focal_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 3, 3))


def test_weighted_l1():
    pred = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    weights = torch.tensor([1.0, 0.5])
    assert weighted_l1_loss(pred, target, weights).item() == pytest.approx((1 + 1 + 1 + 0.5) / 2)
    assert weighted_l1_loss(torch.zeros(0, 2), torch.zeros(0, 2)).item() == 0


def test_registered_loss_modules_compute_the_functions():
    from voxformer.registry import MODELS

    torch.manual_seed(0)
    logits, target = torch.randn(1, 2, 5, 5), torch.rand(1, 2, 5, 5)
    target[0, 0, 2, 2] = 1.0
    focal = MODELS.build(dict(type="GaussianFocalLoss", alpha=3.0))
    assert focal(logits, target).item() == pytest.approx(gaussian_focal_loss(logits, target, alpha=3.0).item())
    pred, goal, weights = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([1.0, 0.5, 0.0])
    l1 = MODELS.build(dict(type="WeightedL1Loss"))
    assert l1(pred, goal, weights).item() == pytest.approx(weighted_l1_loss(pred, goal, weights).item())
