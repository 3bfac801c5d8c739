"""Sensor presets and the mount-height override of the synthetic generator, the default frames pinned,
and the intensity comparison (voxformer.datasets.synthetic.sensors, realism; tools/compare_intensity.py)."""

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from voxformer.datasets.synthetic.realism import compare, distances, histogram
from voxformer.datasets.synthetic.sensors import get_sensor

# sha256 of generate_frame(seed, index) (points, point labels, annos) with the default sensor: the default data
# moves only on purpose (a change of the world or of the sensor model updates these, and every quick-start
# figure of the README with them). Ray casting is Open3D's (Embree): another Open3D version may round a hit
# differently.
DEFAULT_FRAME_SHA256 = {
    (0, 0): "5543c39532c98f17ac43d31dd7b635d297fe56054f7faaaa701945ecbcebe474",
    (3, 1): "c53dc1b4ee4b45888ec50f7bc4a107991f226ca3867d721d15c6146ce1134357",
}


def frame_digest(frame) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(frame.points).tobytes())
    digest.update(np.ascontiguousarray(frame.point_labels).tobytes())
    for key in sorted(frame.annos):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(np.asarray(frame.annos[key])).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("seed, index", sorted(DEFAULT_FRAME_SHA256))
def test_default_frames_are_unchanged(seed, index):
    pytest.importorskip("open3d")
    from voxformer.datasets.synthetic.generate import generate_frame

    explicit = generate_frame(seed, index, sensor="hdl64", mount_height=None)
    assert frame_digest(explicit) == DEFAULT_FRAME_SHA256[(seed, index)]
    assert frame_digest(generate_frame(seed, index)) == DEFAULT_FRAME_SHA256[(seed, index)]


def test_hdl32_and_pandar128_beams():
    hdl32 = get_sensor("hdl32")
    elevations = np.array(hdl32.elevations_deg)
    assert hdl32.num_beams == 32 and hdl32.mount_height == 1.84 and hdl32.azimuth_steps == 1084
    assert elevations[0] == pytest.approx(10.67) and elevations[-1] == pytest.approx(-30.67)
    assert np.allclose(np.diff(elevations), -41.34 / 31)
    pandar = np.array(get_sensor("pandar128").elevations_deg)
    assert len(pandar) == 128 and pandar[0] == pytest.approx(15.0) and pandar[-1] == pytest.approx(-25.0)
    assert np.all(np.diff(pandar) < 0)
    band = (pandar <= 2.0 + 1e-9) & (pandar >= -6.0 - 1e-9)
    assert band.sum() == 65 and np.allclose(np.diff(pandar[band]), -0.125)


def test_mount_height_override():
    assert get_sensor("hdl64", None) is get_sensor("hdl64")
    raised = get_sensor("hdl32", 2.5)
    assert raised.mount_height == 2.5 and raised.elevations_deg == get_sensor("hdl32").elevations_deg
    assert get_sensor("hdl32").mount_height == 1.84  # the preset is untouched
    with pytest.raises(ValueError, match="above 0"):
        get_sensor("hdl64", 0.0)


@pytest.mark.parametrize("sensor, mount", [("hdl32", None), ("hdl32", 2.5), ("pandar128", None)])
def test_ground_lies_one_mount_height_below(sensor, mount):
    pytest.importorskip("open3d")
    from voxformer.datasets.synthetic.generate import generate_frame
    from voxformer.datasets.synthetic.semantics import ROAD

    frame = generate_frame(0, 0, sensor, mount_height=mount)
    height = get_sensor(sensor, mount).mount_height
    road = (frame.point_labels & 0xFFFF) == ROAD
    assert road.sum() > 1000 and abs(np.median(frame.points[road, 2]) + height) < 0.15
    assert len(frame.annos["names"]) > 0


def test_create_data_with_a_sensor_and_mount_height(tmp_path, capsys):
    pytest.importorskip("open3d")
    from voxformer.cli import main
    from voxformer.datasets.infos import load_infos, load_pickle

    args = ["create-data", "synthetic", "--out-dir", str(tmp_path), "--frames", "2", "--workers", "1"]
    assert main(args + ["--sensor", "hdl32", "--mount-height", "2.0", "--val-fraction", "0.5"]) == 0
    record = load_pickle(tmp_path / "labels" / "000000.pkl")
    assert record["generator"] == {"seed": 0, "sensor": "hdl32", "index": 0, "mount_height": 2.0}
    assert load_infos(tmp_path / "synthetic_infos_train.pkl")["metainfo"]["mount_height"] == 2.0
    assert main(args + ["--sensor", "hdl32", "--val-fraction", "0.5"]) == 0  # another height: regenerated
    assert "resuming" not in capsys.readouterr().out
    assert "mount_height" not in load_pickle(tmp_path / "labels" / "000000.pkl")["generator"]
    assert main(args + ["--mount-height", "-1"]) == 2
    assert "--mount-height must be above 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--sensor", "vlp16"])


def test_histogram_distances():
    low, high = histogram(np.full(10, 0.05), bins=10), histogram(np.full(10, 0.95), bins=10)
    assert distances(low, low) == {"wasserstein1": 0.0, "total_variation": 0.0}
    apart = distances(low, high)
    assert apart["wasserstein1"] == pytest.approx(0.9) and apart["total_variation"] == pytest.approx(1.0)
    half = histogram(np.array([0.05, 0.95]), bins=10)
    assert distances(low, half)["total_variation"] == pytest.approx(0.5)
    assert histogram(np.array([1.0, 2.0]), bins=4).tolist() == [0, 0, 0, 1.0]  # 1 and above: the last bin


def cloud(distance: float, intensity: float, count: int) -> np.ndarray:
    return np.tile(np.array([[distance, 0.0, 0.0, intensity]], np.float32), (count, 1))


def test_compare_by_range():
    synthetic = [np.concatenate([cloud(5, 0.2, 30), cloud(30, 0.1, 10)]), cloud(0.5, 0.9, 50)]  # the last: < 1 m
    real = [np.concatenate([cloud(5, 0.2, 10), cloud(30, 0.5, 10)])]
    result = compare(synthetic, real)
    assert result["1-10 m"]["synthetic_share"] == 0.75 and result["1-10 m"]["real_share"] == 0.5
    assert result["1-10 m"]["total_variation"] == 0 and result["20-40 m"]["wasserstein1"] == pytest.approx(0.4)
    assert result["all"]["synthetic_mean"] == pytest.approx(0.175)
    assert np.isnan(result["10-20 m"]["wasserstein1"])


def test_compare_intensity_tool_on_the_shared_scans(real_data, tmp_path, capsys):
    pytest.importorskip("open3d")
    spec = importlib.util.spec_from_file_location(
        "compare_intensity", Path(__file__).parents[2] / "tools" / "compare_intensity.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "intensity.json"
    scans = real_data / "kitti" / "training" / "velodyne"
    assert tool.main(["--real", str(scans), "--frames", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert 0 < result["all"]["wasserstein1"] < 1 and 0 < result["all"]["total_variation"] < 1
    assert result["all"]["real_mean"] == pytest.approx(0.26, abs=0.02)
    assert "W1" in capsys.readouterr().out
    assert tool.main(["--real", str(tmp_path / "absent")]) == 2
