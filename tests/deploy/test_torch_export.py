"""``--format torch-export``: the same graph as a ``torch.export`` program; one file serves two scan sizes (a
pillar model and a pooled one, whose pooled levels' partitions are inputs too)."""

import json

import pytest
import torch

from voxformer.deploy import config_hash, export_model
from voxformer.deploy.export import example_scan, graph_inputs, reference_ops
from voxformer.deploy.indexing import record_plan

from .conftest import QUICK, build


@pytest.mark.parametrize("family", ["dsvt_pillar", "scatterformer"])
def test_torch_export_program_matches_pytorch_on_two_sizes(tmp_path, family):
    model = build(QUICK[family])
    path = export_model(model, model.cfg, tmp_path / "model.pt2", fmt="torch-export")
    extra = {"voxformer_metadata.json": ""}
    program = torch.export.load(str(path), extra_files=extra).module()
    metadata = json.loads(extra["voxformer_metadata.json"])
    assert metadata["voxformer_config_hash"] == config_hash(model.cfg)
    assert json.loads(metadata["voxformer_outputs"])[0] == "task0_heatmap"
    with torch.no_grad(), reference_ops():
        example = model.data_preprocessor(dict(inputs=dict(points=[example_scan(model.cfg)])))["inputs"]
        plan = record_plan(model, example)
        for num_points, seed in ((1500, 1), (6000, 2)):
            points = example_scan(model.cfg, num_points, seed)
            named = graph_inputs(model, plan, points)
            got = program(*named.values())
            inputs = model.data_preprocessor(dict(inputs=dict(points=[points])))["inputs"]
            expected = [value for task in model(inputs, mode="tensor") for value in task.values()]
            assert len(got) == len(expected)
            for value, reference in zip(got, expected):
                assert value.shape == reference.shape
                assert float((value - reference).abs().max() / reference.abs().max()) < 1e-4
