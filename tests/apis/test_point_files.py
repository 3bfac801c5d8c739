import numpy as np
import open3d as o3d
import pytest

from voxformer.apis.point_files import read_point_file
from voxformer.errors import VoxformerError


@pytest.fixture
def cloud():
    rng = np.random.default_rng(0)
    points = rng.uniform(-20, 20, size=(50, 4)).astype(np.float32)
    points[:, 3] = rng.uniform(0, 1, size=50)
    return points


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


def test_bin_npy_and_intensity_scaling(tmp_path, cloud):
    scaled = cloud.copy()
    scaled[:, 3] *= 255
    scaled.tofile(tmp_path / "a.bin")
    np.save(tmp_path / "a.npy", cloud)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.bin"), cloud, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(read_point_file(tmp_path / "a.npy"), cloud)


def test_bad_files_name_the_problem(tmp_path, cloud):
    nan = cloud.copy()
    nan[3, 0] = np.nan
    nan.tofile(tmp_path / "nan.bin")
    with pytest.raises(VoxformerError, match=r"nan\.bin: 1 of 50 points have NaN"):
        read_point_file(tmp_path / "nan.bin")
    cloud.tofile(tmp_path / "short.bin")
    (tmp_path / "short.bin").write_bytes((tmp_path / "short.bin").read_bytes()[:-3])
    with pytest.raises(VoxformerError, match="short.bin"):
        read_point_file(tmp_path / "short.bin")
    write_pcd(tmp_path / "cut.pcd", cloud, "binary")
    (tmp_path / "cut.pcd").write_bytes((tmp_path / "cut.pcd").read_bytes()[:-10])
    with pytest.raises(VoxformerError, match="cut.pcd: file is truncated"):
        read_point_file(tmp_path / "cut.pcd")
    (tmp_path / "x.xyz").write_text("1 2 3")
    with pytest.raises(VoxformerError, match="unsupported point file type"):
        read_point_file(tmp_path / "x.xyz")
    with pytest.raises(VoxformerError, match="not found"):
        read_point_file(tmp_path / "missing.pcd")
