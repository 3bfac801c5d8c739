import json
import pathlib
import pickle
import shutil

import numpy as np
import open3d as o3d
import pytest
import torch

from voxformer.apis.config import load_config
from voxformer.apis.point_files import EmptyScanWarning, config_point_layout, point_layout, read_point_file
from voxformer.cli import main
from voxformer.errors import VoxformerError

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "dsvt" / "dsvt_synthetic_quick.py"
NUSCENES_SCAN = "nuscenes/LIDAR_TOP_1532402927647951.pcd.bin"


@pytest.fixture
def cloud():
    rng = np.random.default_rng(0)
    points = rng.uniform(-20, 20, size=(50, 4)).astype(np.float32)
    points[:, 3] = rng.uniform(0, 1, size=50)
    return points


def nuscenes_rows(count: int) -> np.ndarray:
    """``count`` rows of the nuScenes layout: x y z, intensity 0-255, ring."""
    rng = np.random.default_rng(1)
    rows = rng.uniform(-30, 30, size=(count, 5)).astype(np.float32)
    rows[:, 3] = rng.integers(0, 256, size=count)
    rows[:, 4] = rng.integers(0, 32, size=count)
    return rows


def write_pcd(path, points, data_format):
    header = (
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
        f"WIDTH {len(points)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA {data_format}\n"
    )
    if data_format == "ascii":
        body = "\n".join(" ".join(f"{v:.7g}" for v in row) for row in points).encode()
    else:
        body = points.astype("<f4").tobytes()
    path.write_bytes(header.encode() + body)


@pytest.mark.parametrize("data_format", ["ascii", "binary"])
def test_pcd_round_trip(tmp_path, cloud, data_format):
    write_pcd(tmp_path / "a.pcd", cloud, data_format)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.pcd"), cloud, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("write_ascii", [True, False])
def test_ply_written_by_open3d(tmp_path, cloud, write_ascii):
    pcd = o3d.t.geometry.PointCloud(o3d.core.Tensor(cloud[:, :3]))
    pcd.point["intensity"] = o3d.core.Tensor(cloud[:, 3:4])
    o3d.t.io.write_point_cloud(str(tmp_path / "a.ply"), pcd, write_ascii=write_ascii)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.ply"), cloud, rtol=0, atol=1e-4)  # ascii keeps 4 decimals


def test_ascii_ply_with_faces_after_the_vertices(tmp_path):
    header = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
    header += "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    (tmp_path / "mesh.ply").write_text(header + "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    points = read_point_file(tmp_path / "mesh.ply")
    np.testing.assert_array_equal(points, [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])


def test_unknown_layout_rule_scales_0_255_intensity(tmp_path, cloud):
    scaled = cloud.copy()
    scaled[:, 3] *= 255
    scaled.tofile(tmp_path / "a.bin")  # 800 bytes: 4 or 5 columns, so the count is given
    np.save(tmp_path / "a.npy", cloud)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.bin", 4), cloud, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.npy"), cloud)


def test_a_bin_that_fits_two_layouts_is_refused_naming_both(tmp_path):
    nuscenes_rows(16).tofile(tmp_path / "scan.bin")  # 320 bytes: 20 kitti rows or 16 nuScenes rows
    with pytest.raises(VoxformerError) as caught:
        read_point_file(tmp_path / "scan.bin")
    message = str(caught.value)
    assert str(tmp_path / "scan.bin") in message and "\n" not in message
    assert "kitti (4 float32 a point: 20 points)" in message
    assert "nuscenes / waymo (5 float32 a point: 16 points)" in message
    assert "--point-format" in message


def test_a_bin_that_fits_one_layout_is_read_with_it(tmp_path, cloud):
    nuscenes_rows(3).tofile(tmp_path / "five.bin")  # 60 bytes: only 5 columns fit
    cloud[:21].tofile(tmp_path / "four.bin")  # 336 bytes: only 4 columns fit
    five = read_point_file(tmp_path / "five.bin")
    np.testing.assert_allclose(five[:, :3], nuscenes_rows(3)[:, :3])
    np.testing.assert_allclose(five[:, 3], nuscenes_rows(3)[:, 3] / 255, rtol=1e-6)  # max > 1: 0-255
    np.testing.assert_allclose(read_point_file(tmp_path / "four.bin"), cloud[:21])


def test_an_explicit_layout_is_honoured(tmp_path):
    rows = nuscenes_rows(16)
    rows.tofile(tmp_path / "scan.bin")
    nuscenes = read_point_file(tmp_path / "scan.bin", "nuscenes")
    np.testing.assert_allclose(nuscenes, np.c_[rows[:, :3], rows[:, 3] / 255], rtol=1e-6)
    kitti = read_point_file(tmp_path / "scan.bin", point_format="kitti")
    np.testing.assert_array_equal(kitti, rows.reshape(-1, 4))  # as stored: reflectance is not rescaled
    waymo = read_point_file(tmp_path / "scan.bin", "waymo")
    np.testing.assert_array_equal(waymo, rows[:, :4])  # tanh(intensity) is kept as written
    np.testing.assert_array_equal(read_point_file(tmp_path / "scan.bin", 10)[:, :3], rows.reshape(-1, 10)[:, :3])


def test_a_layout_that_does_not_fit_the_size_is_refused(tmp_path, cloud):
    cloud[:21].tofile(tmp_path / "scan.bin")
    with pytest.raises(VoxformerError, match=r"scan\.bin: 336 bytes does not fit the nuscenes layout \(5 float32"):
        read_point_file(tmp_path / "scan.bin", "nuscenes")
    np.save(tmp_path / "scan.npy", cloud[:, :3])
    with pytest.raises(VoxformerError, match=r"scan\.npy: a \(50, 3\) array does not fit the kitti layout"):
        read_point_file(tmp_path / "scan.npy", "kitti")


@pytest.mark.parametrize("value", ["lidar", "2", "-4", "4.5", ""])
def test_bad_point_format_values_are_user_errors(value):
    with pytest.raises(VoxformerError, match="point format .*use kitti, nuscenes, waymo or a column count"):
        point_layout(value)


def test_the_config_default_is_the_test_pipeline_loader():
    assert config_point_layout(load_config(CONFIG)).columns == 4
    assert config_point_layout(load_config(REPO / "configs/dsvt/dsvt_pillar_nuscenes.py")) == point_layout("nuscenes")
    waymo = config_point_layout(load_config(REPO / "configs/dsvt/dsvt_pillar_waymo.py"))
    assert (waymo.columns, waymo.intensity) == (5, "raw")
    wrapped = {"test_dataloader": {"dataset": {"type": "CBGSDataset", "dataset": {"pipeline": [
        {"type": "LoadPointsFromFile", "num_features": 6, "intensity": "tanh"}]}}}}
    assert (config_point_layout(wrapped).columns, config_point_layout(wrapped).intensity) == (6, "tanh")
    assert config_point_layout({"test_pipeline": [{"type": "LoadPointsFromFile"}]}) is None  # the infos decide


def test_the_config_default_is_honoured_and_the_given_layout_wins(tmp_path):
    rows = nuscenes_rows(16)
    rows.tofile(tmp_path / "scan.bin")
    default = config_point_layout({"test_pipeline": [{"type": "LoadPointsFromFile", "num_features": 5,
                                                      "intensity": "tanh"}]})
    read = read_point_file(tmp_path / "scan.bin", default=default)
    np.testing.assert_allclose(read, np.c_[rows[:, :3], np.tanh(rows[:, 3])], rtol=1e-6)
    assert read_point_file(tmp_path / "scan.bin", "kitti", default=default).shape == (20, 4)


def test_pcd_bin_is_read_as_nuscenes(tmp_path):
    rows = nuscenes_rows(16)  # 320 bytes: would be ambiguous under another name
    rows.tofile(tmp_path / "LIDAR_TOP_1.pcd.bin")
    expected = np.c_[rows[:, :3], rows[:, 3] / 255]
    np.testing.assert_allclose(read_point_file(tmp_path / "LIDAR_TOP_1.pcd.bin"), expected, rtol=1e-6)
    kitti_default = config_point_layout(load_config(CONFIG))
    np.testing.assert_allclose(read_point_file(tmp_path / "LIDAR_TOP_1.pcd.bin", default=kitti_default), expected,
                               rtol=1e-6)
    assert read_point_file(tmp_path / "LIDAR_TOP_1.pcd.bin", "kitti").shape == (20, 4)


@pytest.mark.parametrize("name", ["empty.bin", "empty.npy", "empty.pcd"])
def test_an_empty_scan_warns_and_gives_no_points(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".bin"):
        path.write_bytes(b"")
    elif name.endswith(".npy"):
        np.save(path, np.zeros((0, 4), np.float32))
    else:
        write_pcd(path, np.zeros((0, 4), np.float32), "binary")
    with pytest.warns(EmptyScanWarning, match=f"{name}: the scan is empty"):
        points = read_point_file(path)
    assert points.shape == (0, 4) and points.dtype == np.float32


class _Touch:
    """Unpickling this creates ``marker``: a stand-in for a crafted payload."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_npy_files_that_are_not_numeric_arrays_name_the_problem(tmp_path):
    marker = tmp_path / "unpickled"
    np.save(tmp_path / "payload.npy", np.array([_Touch(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(VoxformerError, match=r"payload\.npy: holds an array of Python objects"):
        read_point_file(tmp_path / "payload.npy")
    assert not marker.exists()
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps([1.0, 2.0]))
    with pytest.raises(VoxformerError, match=r"pickle\.npy: not a readable \.npy file"):
        read_point_file(tmp_path / "pickle.npy")
    np.save(tmp_path / "names.npy", np.array([["a", "b", "c"]]))
    with pytest.raises(VoxformerError, match=r"names\.npy: holds <U1 values"):
        read_point_file(tmp_path / "names.npy")
    np.save(tmp_path / "cut.npy", np.zeros((100, 4), np.float32))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-8])
    with pytest.raises(VoxformerError, match=r"cut\.npy: file is truncated: 1592 bytes of data"):
        read_point_file(tmp_path / "cut.npy")


def test_pcd_and_ply_problems_name_the_line_or_offset(tmp_path, cloud):
    write_pcd(tmp_path / "word.pcd", cloud[:3], "ascii")
    text = (tmp_path / "word.pcd").read_text().splitlines()
    text[-2] = "1.5 two 3 0.5"  # the second data row, after 11 header lines
    (tmp_path / "word.pcd").write_text("\n".join(text))
    with pytest.raises(VoxformerError, match=r"word\.pcd: line 13: 'two' is not a number"):
        read_point_file(tmp_path / "word.pcd")
    write_pcd(tmp_path / "counts.pcd", cloud, "binary")
    data = (tmp_path / "counts.pcd").read_bytes().replace(b"SIZE 4 4 4 4", b"SIZE 4 4 4")
    (tmp_path / "counts.pcd").write_bytes(data)
    with pytest.raises(VoxformerError, match=r"counts\.pcd: the PCD header lists 4 FIELDS, 3 SIZE"):
        read_point_file(tmp_path / "counts.pcd")
    write_pcd(tmp_path / "cut.pcd", cloud, "binary")
    (tmp_path / "cut.pcd").write_bytes((tmp_path / "cut.pcd").read_bytes()[:-10])
    with pytest.raises(VoxformerError, match=r"cut\.pcd: file is truncated: 790 bytes of data from byte offset 1"):
        read_point_file(tmp_path / "cut.pcd")
    (tmp_path / "bad.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nwat\nend_header\n1\n")
    with pytest.raises(VoxformerError, match=r"bad\.ply: PLY header line 5 'wat' is not understood"):
        read_point_file(tmp_path / "bad.ply")


def test_bad_files_name_the_problem(tmp_path, cloud):
    nan = cloud.copy()
    nan[3, 0] = np.nan
    nan.tofile(tmp_path / "nan.bin")
    with pytest.raises(VoxformerError, match=r"nan\.bin: 1 of 50 points have NaN"):
        read_point_file(tmp_path / "nan.bin", "kitti")
    cloud.tofile(tmp_path / "short.bin")
    (tmp_path / "short.bin").write_bytes((tmp_path / "short.bin").read_bytes()[:-3])
    with pytest.raises(VoxformerError, match=r"short\.bin: 797 bytes is not a whole number of points"):
        read_point_file(tmp_path / "short.bin")
    (tmp_path / "x.xyz").write_text("1 2 3")
    with pytest.raises(VoxformerError, match="unsupported point file type"):
        read_point_file(tmp_path / "x.xyz")
    with pytest.raises(VoxformerError, match="not found"):
        read_point_file(tmp_path / "missing.pcd")


# -- through `voxformer infer` ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Untrained weights of CONFIG's model saved as a checkpoint: enough to count the points read."""
    from voxformer.apis.inference import init_detector

    model = init_detector(CONFIG)
    path = tmp_path_factory.mktemp("model") / "untrained.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": list(model.class_names)}}}, path)
    return path


def _infer(path, checkpoint, out, *options) -> int:
    return main(["infer", str(path), "--config", str(CONFIG), "--checkpoint", str(checkpoint), "--pred-dir", str(out),
                 "--score-thr", "0.0", *options])


def test_infer_reads_the_nuscenes_scan_with_all_its_points(real_data, checkpoint, tmp_path, capsys):
    scan = real_data / NUSCENES_SCAN
    assert _infer(scan, checkpoint, tmp_path / "preds") == 0
    result = json.loads((tmp_path / "preds" / (scan.stem + ".json")).read_text())
    assert result["num_points"] == 34688
    assert "34688 points" in capsys.readouterr().out
    renamed = tmp_path / "scan.bin"  # without its suffix the size fits 4 and 5 columns
    shutil.copy(scan, renamed)
    assert main(["vis", str(renamed), "--out-dir", str(tmp_path / "vis")]) == 2  # vis has no model to ask
    error = capsys.readouterr().err
    assert str(renamed) in error and "kitti" in error and "nuscenes" in error and "--point-format" in error
    assert _infer(renamed, checkpoint, tmp_path / "preds", "--point-format", "nuscenes") == 0
    assert json.loads((tmp_path / "preds" / "scan.json").read_text())["num_points"] == 34688
    assert _infer(renamed, checkpoint, tmp_path / "preds") == 0  # the model config's 4 columns decide
    assert json.loads((tmp_path / "preds" / "scan.json").read_text())["num_points"] == 693760 // 16


def test_infer_on_an_empty_scan_warns_and_writes_an_empty_result(checkpoint, tmp_path, capsys):
    (tmp_path / "empty.bin").write_bytes(b"")
    assert _infer(tmp_path / "empty.bin", checkpoint, tmp_path / "preds") == 0
    result = json.loads((tmp_path / "preds" / "empty.json").read_text())
    assert result["num_points"] == 0 and result["boxes_3d"] == [] and result["names"] == []
    captured = capsys.readouterr()
    assert "empty.bin: 0 points, 0 objects" in captured.out
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("voxformer infer: warning: "), captured.err
    assert warning[0].endswith("empty.bin: the scan is empty (0 points)")


def test_the_python_api_reads_a_file_with_the_given_or_the_config_layout(tmp_path):
    from voxformer.apis.inference import inference_detector, init_detector

    model = init_detector(CONFIG)
    nuscenes_rows(16).tofile(tmp_path / "scan.bin")  # 20 rows of 4 or 16 rows of 5
    assert inference_detector(model, tmp_path / "scan.bin").num_points == 20  # the config's 4 columns
    assert inference_detector(model, tmp_path / "scan.bin", point_format="nuscenes").num_points == 16
    assert inference_detector(model, np.zeros((0, 4), np.float32)).to_json()["boxes_3d"] == []
