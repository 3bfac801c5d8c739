"""``voxformer export`` and ``voxformer infer --backend onnxruntime``: same JSON boxes; bad input as one line."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from voxformer.cli import main
from voxformer.deploy import OnnxDetector, export_model
from voxformer.deploy.export import NOT_EXPORTABLE, example_scan
from voxformer.errors import VoxformerError

from .conftest import QUICK, build

DSVT = QUICK["dsvt_pillar"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of the DSVT-P quick config (random weights, dataset classes in its meta)."""
    model = build(DSVT)
    path = tmp_path_factory.mktemp("ckpt") / "dsvt_quick.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": list(model.class_names)}}}, path)
    return path


def test_infer_onnxruntime_writes_the_same_json(tmp_path, checkpoint):
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", DSVT, str(checkpoint), "--out", str(onnx_path)]) == 0
    scan = tmp_path / "scan.bin"
    example_scan(build(DSVT).cfg, 5000, 7).numpy().astype(np.float32).tofile(scan)
    common = ["infer", str(scan), "--config", DSVT, "--checkpoint", str(checkpoint), "--score-thr", "0.02"]
    assert main([*common, "--pred-dir", str(tmp_path / "pt")]) == 0
    onnxruntime = ["--backend", "onnxruntime", "--onnx", str(onnx_path)]
    assert main([*common, "--pred-dir", str(tmp_path / "ort"), *onnxruntime]) == 0
    expected = json.loads((tmp_path / "pt" / "scan.json").read_text())
    got = json.loads((tmp_path / "ort" / "scan.json").read_text())
    assert expected["boxes_3d"], "the random-weight model should give some boxes above 0.02"
    assert got["labels_3d"] == expected["labels_3d"] and got["names"] == expected["names"]
    np.testing.assert_allclose(got["boxes_3d"], expected["boxes_3d"], rtol=0, atol=1e-4 + 1e-9)
    np.testing.assert_allclose(got["scores_3d"], expected["scores_3d"], rtol=0, atol=1e-4 + 1e-9)


def test_checkpoint_of_another_config_is_refused(tmp_path, checkpoint, capsys):
    code = main(["export", QUICK["flatformer"], str(checkpoint), "--out", str(tmp_path / "x.onnx")])
    error = capsys.readouterr().err.strip()
    assert code != 0 and len(error.splitlines()) == 1 and checkpoint.name in error
    assert not (tmp_path / "x.onnx").exists()


def test_onnx_file_of_another_config_is_refused(tmp_path, exported, checkpoint, capsys):
    _, flatformer_path = exported("flatformer")
    scan = tmp_path / "scan.bin"
    example_scan(build(DSVT).cfg, 500, 1).numpy().tofile(scan)
    command = ["infer", str(scan), "--config", DSVT, "--checkpoint", str(checkpoint), "--backend", "onnxruntime"]
    assert main([*command, "--onnx", str(flatformer_path), "--pred-dir", str(tmp_path)]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"{flatformer_path.name}: exported from config flatformer_synthetic_quick.py" in error


def test_fixed_shape_export_refuses_a_scan_with_more_voxels(tmp_path, checkpoint, capsys):
    static = tmp_path / "static.onnx"
    assert main(["export", DSVT, str(checkpoint), "--out", str(static), "--static"]) == 0
    cfg = build(DSVT).cfg
    command = ["--config", DSVT, "--checkpoint", str(checkpoint), "--backend", "onnxruntime", "--onnx", str(static)]
    for name, points in (("traced.bin", example_scan(cfg)), ("larger.bin", example_scan(cfg, 6000, 4))):
        points.numpy().tofile(tmp_path / name)
    assert main(["infer", str(tmp_path / "traced.bin"), *command, "--pred-dir", str(tmp_path)]) == 0  # its own size
    capsys.readouterr()
    assert main(["infer", str(tmp_path / "larger.bin"), *command, "--pred-dir", str(tmp_path)]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert re.search(r"static\.onnx: exported with a fixed shape of \d+ voxels, the scan has \d+", error)


@pytest.mark.parametrize(
    "config",
    ["configs/centerpoint/centerpoint_voxel_waymo.py", "configs/scatterformer/scatterformer_waymo.py"],
)
def test_spconv_models_are_refused_before_tracing(tmp_path, config):
    pytest.importorskip("spconv")
    from voxformer.apis.inference import init_detector

    model = init_detector(config)
    with pytest.raises(VoxformerError, match=rf"{Path(config).name}: cannot export .*spconv"):
        export_model(model, model.cfg, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_a_module_listed_as_not_exportable_is_refused_before_tracing(tmp_path, monkeypatch):
    monkeypatch.setitem(NOT_EXPORTABLE, "DSVT", "a reason of its own")
    model = build(DSVT)
    with pytest.raises(VoxformerError, match=r"dsvt_synthetic_quick.py: cannot export backbone3d \(DSVT\): a reason"):
        export_model(model, model.cfg, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_infer_onnxruntime_needs_the_file(tmp_path, checkpoint, capsys):
    scan = tmp_path / "scan.bin"
    example_scan(build(DSVT).cfg, 500, 1).numpy().tofile(scan)
    code = main(["infer", str(scan), "--config", DSVT, "--checkpoint", str(checkpoint), "--backend", "onnxruntime"])
    assert code != 0 and "needs --onnx" in capsys.readouterr().err


def test_trtexec_profile_from_scans(tmp_path, exported):
    from voxformer.commands.export import trtexec_command

    model, path = exported("dsvt_pillar")
    for i, num_points in enumerate((1000, 3000, 6000)):
        example_scan(model.cfg, num_points, i).numpy().tofile(tmp_path / f"{i:06d}.bin")
    command = trtexec_command(model, path, tmp_path)
    assert command.startswith(f"trtexec --onnx={path} ")
    profile = dict(flag.removeprefix("--").split("=", 1) for flag in command.split()[1:] if "Shapes=" in flag)
    rows = {key: int(value.split("coords:")[1].split("x")[0]) for key, value in profile.items()}
    assert rows["minShapes"] < rows["optShapes"] < rows["maxShapes"]
    largest = torch.from_numpy(np.fromfile(tmp_path / "000002.bin", np.float32).reshape(-1, 4))
    largest_voxels = len(model.data_preprocessor(dict(inputs=dict(points=[largest])))["inputs"]["coords"])
    assert rows["maxShapes"] >= 1.2 * largest_voxels - 1  # the largest scan with headroom
    import onnx

    graph_inputs = {i.name for i in onnx.load(str(path)).graph.input}
    assert {entry.split(":")[0] for entry in profile["optShapes"].split(",")} == graph_inputs


def test_trt_shapes_need_onnx(tmp_path, checkpoint, capsys):
    out = str(tmp_path / "x.pt2")
    code = main(["export", DSVT, str(checkpoint), "--out", out, "--format", "torch-export", "--trt-shapes-from", "."])
    assert code != 0 and "--trt-shapes-from" in capsys.readouterr().err


def test_segmentation_unet_is_refused():
    pytest.importorskip("spconv")
    from voxformer.apis.config import load_config
    from voxformer.deploy import check_exportable
    from voxformer.registry import MODELS

    model = MODELS.build(load_config("configs/segmentation/unet_synthetic_quick.py").model)
    with pytest.raises(VoxformerError, match="unet.py: cannot export .*spconv"):
        check_exportable(model, "unet.py")


def test_opset_without_scatter_max_is_refused(tmp_path, checkpoint, capsys):
    code = main(["export", DSVT, str(checkpoint), "--out", str(tmp_path / "x.onnx"), "--opset", "13"])
    assert code != 0 and "--opset 13" in capsys.readouterr().err


def test_onnx_file_without_voxformer_metadata_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    plain = tmp_path / "plain.onnx"
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]), plain)
    with pytest.raises(VoxformerError, match=r"plain\.onnx: not a file of voxformer export"):
        OnnxDetector(plain, build(DSVT))


def test_a_partition_the_runtime_cannot_rebuild_is_refused_before_tracing(tmp_path, monkeypatch):
    from voxformer.deploy import indexing

    monkeypatch.delitem(indexing.BUILDERS, "neighbours")
    model = build(QUICK["scatterformer"])
    with pytest.raises(VoxformerError, match=r"scatterformer_synthetic_quick.py: .* partition 'neighbours'"):
        export_model(model, model.cfg, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
