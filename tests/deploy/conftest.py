"""Exported quick-config detectors (random weights), written once per test module."""

import pytest
import torch

pytest.importorskip("onnxruntime")

QUICK = {
    "dsvt_pillar": "configs/dsvt/dsvt_synthetic_quick.py",
    "flatformer": "configs/flatformer/flatformer_synthetic_quick.py",
}


def build(config: str):
    from voxformer.apis.inference import init_detector

    torch.manual_seed(0)
    return init_detector(config)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """family -> (model, path of its ONNX file), exported on first use."""
    from voxformer.deploy import export_model

    cache = {}

    def get(family: str):
        if family not in cache:
            model = build(QUICK[family])
            path = tmp_path_factory.mktemp("onnx") / f"{family}.onnx"
            cache[family] = model, export_model(model, model.cfg, path)
        return cache[family]

    return get
