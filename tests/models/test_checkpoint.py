"""load_model_weights: strict loading lists every problem; partial loading on request."""

import pytest
import torch
from torch import nn

from voxformer.errors import VoxformerError
from voxformer.models import load_model_weights


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_exact_state_dict_loads_from_wrappers():
    source, target = _model(), _model()
    load_model_weights(target, {"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}})
    for a, b in zip(source.parameters(), target.parameters()):
        assert torch.equal(a, b)


def test_strict_error_lists_missing_unexpected_and_mismatched():
    state = _model().state_dict()
    del state["2.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["0.weight"] = torch.zeros(5, 3)
    target = _model()
    before = target[0].bias.clone()
    with pytest.raises(VoxformerError) as error:
        load_model_weights(target, state)
    message = str(error.value)
    assert "2.bias" in message and "extra.weight" in message and "0.weight (checkpoint (5, 3), model (4, 3))" in message
    assert torch.equal(target[0].bias, before)  # nothing loaded


def test_partial_load_reports_and_loads_the_rest():
    source = _model()
    state = source.state_dict()
    state["0.weight"] = torch.zeros(5, 3)
    target = _model()
    report = load_model_weights(target, state, strict=False)
    assert report.mismatched and not report.missing and not report.unexpected
    assert torch.equal(target[2].weight, source[2].weight)
    assert not torch.equal(target[0].weight, torch.zeros(4, 3))
