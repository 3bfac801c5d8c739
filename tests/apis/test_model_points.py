"""Inference gives a model the points its dataset's test pipeline would: nuScenes and Waymo models
(5 point features) run `voxformer infer` on their own layouts, 4-feature models are unchanged."""

import json
import pathlib

import numpy as np
import pytest
import torch

from voxformer.apis.config import load_config
from voxformer.apis.inference import inference_detector, init_detector
from voxformer.apis.point_files import read_model_points, read_point_file
from voxformer.cli import main
from voxformer.datasets import LoadNuScenesPoints
from voxformer.datasets.transforms import LoadPointsFromFile
from voxformer.errors import VoxformerError

REPO = pathlib.Path(__file__).resolve().parents[2]
NUSCENES_CONFIG = REPO / "configs" / "dsvt" / "dsvt_pillar_nuscenes.py"
WAYMO_CONFIG = REPO / "configs" / "dsvt" / "dsvt_pillar_waymo.py"
SYNTHETIC_CONFIG = REPO / "configs" / "dsvt" / "dsvt_synthetic_quick.py"
NUSCENES_SCAN = "nuscenes/LIDAR_TOP_1532402927647951.pcd.bin"


def nuscenes_rows(count: int) -> np.ndarray:
    """``count`` nuScenes rows (x y z, intensity 0-255, ring), the first quarter within 1 m of the sensor."""
    rng = np.random.default_rng(2)
    rows = rng.uniform(-30, 30, size=(count, 5)).astype(np.float32)
    rows[:, 0] = rng.choice([-1, 1], size=count) * rng.uniform(2, 30, size=count)
    rows[: count // 4, :2] = rng.uniform(-0.9, 0.9, size=(count // 4, 2))
    rows[:, 3] = rng.integers(0, 256, size=count)
    rows[:, 4] = rng.integers(0, 32, size=count)
    return rows


def waymo_rows(count: int) -> np.ndarray:
    """``count`` rows as `create-data waymo` writes them: x y z, tanh(intensity), elongation."""
    rng = np.random.default_rng(3)
    rows = rng.uniform(-40, 40, size=(count, 5)).astype(np.float32)
    rows[:, 3] = np.tanh(rng.uniform(0, 3, size=count))
    rows[:, 4] = rng.uniform(0, 1.5, size=count)
    return rows


def outside_one_metre(rows: np.ndarray) -> int:
    return int((~((np.abs(rows[:, 0]) < 1) & (np.abs(rows[:, 1]) < 1))).sum())


def write_pcd(path, points):
    header = (
        "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
        f"WIDTH {len(points)}\nHEIGHT 1\nPOINTS {len(points)}\nDATA binary\n"
    )
    path.write_bytes(header.encode() + points.astype("<f4").tobytes())


def save_untrained(config, path):
    model = init_detector(config)
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": list(model.class_names)}}}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"nuscenes": save_untrained(NUSCENES_CONFIG, folder / "nuscenes.pth"),
            "waymo": save_untrained(WAYMO_CONFIG, folder / "waymo.pth")}


def infer(path, config, checkpoint, out) -> int:
    return main(["infer", str(path), "--config", str(config), "--checkpoint", str(checkpoint), "--pred-dir", str(out),
                 "--score-thr", "0.0"])


def test_a_nuscenes_model_runs_on_the_shared_scan(real_data, checkpoints, tmp_path, capsys):
    scan = real_data / NUSCENES_SCAN
    assert infer(scan, NUSCENES_CONFIG, checkpoints["nuscenes"], tmp_path) == 0
    kept = outside_one_metre(np.fromfile(scan, "<f4").reshape(-1, 5))
    assert 20000 < kept < 34688  # the loader drops the points within 1 m (about 8k of them)
    assert json.loads((tmp_path / (scan.stem + ".json")).read_text())["num_points"] == kept
    assert f"{kept} points" in capsys.readouterr().out


def test_a_nuscenes_model_runs_on_a_generated_nuscenes_bin(checkpoints, tmp_path):
    rows = nuscenes_rows(400)
    rows.tofile(tmp_path / "scan.bin")  # 8000 bytes: 4 or 5 columns; the model's layout decides
    assert infer(tmp_path / "scan.bin", NUSCENES_CONFIG, checkpoints["nuscenes"], tmp_path / "preds") == 0
    assert json.loads((tmp_path / "preds" / "scan.json").read_text())["num_points"] == outside_one_metre(rows) == 300


def test_a_waymo_model_runs_on_a_generated_waymo_npy(checkpoints, tmp_path):  # a .bin: the next test
    np.save(tmp_path / "scan.npy", waymo_rows(300))
    assert infer(tmp_path / "scan.npy", WAYMO_CONFIG, checkpoints["waymo"], tmp_path / "preds") == 0
    assert json.loads((tmp_path / "preds" / "scan.json").read_text())["num_points"] == 300


def fed_points(model, path, **options) -> torch.Tensor:
    """The points ``inference_detector`` hands to the model for ``path``."""
    seen = []
    test_step = model.test_step

    def recording(batch):
        seen.append(batch["inputs"]["points"][0].clone())
        return test_step(batch)

    model.test_step = recording
    try:
        inference_detector(model, path, **options)
    finally:
        model.test_step = test_step
    return seen[0]


def test_the_model_gets_what_the_dataset_loader_gives_for_the_same_file(tmp_path):
    nuscenes = init_detector(NUSCENES_CONFIG)
    rows = nuscenes_rows(200)
    rows.tofile(tmp_path / "LIDAR_TOP_1.pcd.bin")
    loader = LoadNuScenesPoints(max_sweeps=9)  # the config's test pipeline: a file is a key frame, no sweeps
    expected = loader.transform({"lidar_path": str(tmp_path / "LIDAR_TOP_1.pcd.bin"), "sweeps": []})["points"]
    assert expected.shape == (150, 5) and (expected[:, 4] == 0).all()
    torch.testing.assert_close(fed_points(nuscenes, tmp_path / "LIDAR_TOP_1.pcd.bin"), expected, rtol=0, atol=0)

    waymo = init_detector(WAYMO_CONFIG)
    waymo_rows(120).tofile(tmp_path / "segment.bin")
    expected = LoadPointsFromFile(num_features=5).transform({"lidar_path": str(tmp_path / "segment.bin")})["points"]
    torch.testing.assert_close(fed_points(waymo, tmp_path / "segment.bin"), expected, rtol=0, atol=0)
    torch.testing.assert_close(expected, torch.from_numpy(waymo_rows(120)), rtol=0, atol=0)  # stored as is


def test_a_pcd_for_a_nuscenes_model_is_filled_as_a_single_key_frame(tmp_path):
    rows = nuscenes_rows(80)
    rows[:, 4] = 0  # the ring, which the loader does not read
    rows.tofile(tmp_path / "LIDAR_TOP_2.pcd.bin")
    write_pcd(tmp_path / "scan.pcd", np.c_[rows[:, :3], rows[:, 3] / 255])  # intensity 0-1 as a .pcd holds it
    cfg = load_config(NUSCENES_CONFIG)
    from_pcd = read_model_points(tmp_path / "scan.pcd", cfg)
    torch.testing.assert_close(from_pcd, read_model_points(tmp_path / "LIDAR_TOP_2.pcd.bin", cfg))
    assert from_pcd.shape == (60, 5) and (from_pcd[:, 4] == 0).all()
    kitti = np.c_[rows[:, :3], rows[:, 3] / 255].astype(np.float32)  # reflectance 0-1
    kitti.tofile(tmp_path / "kitti.bin")
    given_kitti = read_model_points(tmp_path / "kitti.bin", cfg, "kitti")  # rewritten in the nuScenes layout
    torch.testing.assert_close(given_kitti, from_pcd)


def test_a_waymo_model_refuses_a_file_without_its_fifth_column(tmp_path, capsys, checkpoints):
    write_pcd(tmp_path / "scan.pcd", waymo_rows(10)[:, :4])
    with pytest.raises(VoxformerError) as caught:
        read_model_points(tmp_path / "scan.pcd", load_config(WAYMO_CONFIG))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "scan.pcd")) and "\n" not in message
    assert "5 values a point" in message and "no column 5" in message
    waymo_rows(10).tofile(tmp_path / "nuscenes_layout.bin")
    with pytest.raises(VoxformerError, match=r"nuscenes_layout\.bin: .* nuscenes layout, has no column 5"):
        read_model_points(tmp_path / "nuscenes_layout.bin", load_config(WAYMO_CONFIG), "nuscenes")  # ring != col 5
    assert infer(tmp_path / "scan.pcd", WAYMO_CONFIG, checkpoints["waymo"], tmp_path / "preds") == 2
    assert "no column 5" in capsys.readouterr().err


def test_a_four_feature_model_gets_the_points_as_before(tmp_path):
    cfg = load_config(SYNTHETIC_CONFIG)
    rows = nuscenes_rows(40)
    rows.tofile(tmp_path / "LIDAR_TOP_3.pcd.bin")
    write_pcd(tmp_path / "scan.pcd", rows[:, :4])
    for name in ("LIDAR_TOP_3.pcd.bin", "scan.pcd"):
        np.testing.assert_array_equal(read_model_points(tmp_path / name, cfg).numpy(), read_point_file(tmp_path / name))
    assert read_model_points(tmp_path / "LIDAR_TOP_3.pcd.bin", cfg).shape == (40, 4)  # nothing dropped
