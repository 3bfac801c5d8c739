"""Every subcommand end to end on a tiny generated dataset."""

import json
import shutil

import numpy as np
import open3d as o3d
import pytest

from voxformer.cli import main
from voxformer.datasets.infos import load_infos
from voxformer.engine.safe_checkpoint import load_checkpoint_file

from .conftest import CONFIG

pytestmark = pytest.mark.slow


def test_train_writes_checkpoint_log_and_tensorboard(trained):
    work_dir, _ = trained
    assert (work_dir / "epoch_1.pth").is_file()
    assert (work_dir / "last_checkpoint").read_text().strip().endswith("epoch_1.pth")
    assert list(work_dir.glob("*/*.log")), "no log file"
    assert list(work_dir.glob("*/vis_data/events.out.tfevents.*")), "no TensorBoard scalars"


def test_resume_auto_continues_from_the_last_checkpoint(trained, tmp_path, capsys):
    work_dir, options = trained
    resumed = tmp_path / "resumed"
    shutil.copytree(work_dir, resumed)
    options = [o for o in options if not o.startswith("train_cfg.max_epochs")] + ["train_cfg.max_epochs=2"]
    assert main(["train", CONFIG, "--work-dir", str(resumed), "--resume", "auto", "--cfg-options", *options]) == 0
    checkpoint = load_checkpoint_file(resumed / "epoch_2.pth")
    assert checkpoint["meta"]["epoch"] == 2 and checkpoint["meta"]["iter"] == 4  # 2 iterations per epoch


def test_test_command_reports_metrics_dumps_results_and_pictures(trained, tmp_path, capsys):
    work_dir, options = trained
    out = tmp_path / "results.pkl"
    show = tmp_path / "show"
    code = main(["test", CONFIG, str(work_dir / "epoch_1.pth"), "--work-dir", str(tmp_path), "--out", str(out),
                 "--show-dir", str(show), "--score-thr", "0.0", "--cfg-options", *options])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "synthetic/Car_3d/moderate_R40" in printed
    assert out.is_file() and len(list(show.glob("*.png"))) == 2  # two validation frames


def _write_formats(points: np.ndarray, folder):
    folder.mkdir()
    points.astype(np.float32).tofile(folder / "frame.bin")
    np.save(folder / "frame_npy.npy", points)
    cloud = o3d.t.geometry.PointCloud(o3d.core.Tensor(points[:, :3]))
    cloud.point["intensity"] = o3d.core.Tensor(points[:, 3:4])
    o3d.t.io.write_point_cloud(str(folder / "frame_pcd.pcd"), cloud)
    o3d.t.io.write_point_cloud(str(folder / "frame_ply.ply"), cloud)


def test_infer_reads_every_format_and_vis_draws_the_predictions(trained, synthetic_root, tmp_path, capsys):
    work_dir, _ = trained
    frame = load_infos(synthetic_root / "synthetic_infos_val.pkl")["data_list"][0]
    points = np.fromfile(synthetic_root / frame["lidar_path"], dtype=np.float32).reshape(-1, 4)
    inputs = tmp_path / "inputs"
    _write_formats(points, inputs)
    preds, pictures = tmp_path / "preds", tmp_path / "pictures"
    code = main(["infer", str(inputs), "--config", CONFIG, "--checkpoint", str(work_dir / "epoch_1.pth"),
                 "--score-thr", "0.0", "--pred-dir", str(preds), "--out-dir", str(pictures)])  # fmt: skip
    assert code == 0
    results = {path.stem: json.loads(path.read_text()) for path in preds.glob("*.json")}
    assert sorted(results) == ["frame", "frame_npy", "frame_pcd", "frame_ply"]
    reference = np.asarray(results["frame"]["boxes_3d"])
    assert len(reference) > 0  # score threshold 0 keeps the decoder's top-K
    for name, result in results.items():
        np.testing.assert_allclose(np.asarray(result["boxes_3d"]), reference, atol=1e-3, err_msg=name)
        assert set(result["names"]) <= {"Car", "Pedestrian", "Cyclist"}
    assert {p.name for p in pictures.iterdir()} == {f"{stem}_{kind}.png" for stem in results for kind in ("bev", "3d")}

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"boxes_3d": frame["annos"]["boxes"].tolist()}))
    vis_dir = tmp_path / "vis"
    assert main(["vis", str(inputs / "frame.bin"), "--point-format", "kitti", "--gt", str(gt),
                 "--pred", str(preds / "frame.json"), "--out-dir", str(vis_dir)]) == 0  # fmt: skip
    assert {p.name for p in vis_dir.iterdir()} == {"frame_bev.png", "frame_3d.png"}


def test_browse_and_bench(synthetic_root, tmp_path):
    from .conftest import data_options

    out = tmp_path / "browse"
    options = data_options(synthetic_root)
    assert main(["browse", CONFIG, "--num", "1", "--out-dir", str(out), "--cfg-options", *options]) == 0
    assert list(out.glob("*_bev.png"))
    rows = tmp_path / "rows.json"
    assert main(["bench", "ops", "--quick", "--device", "cpu", "--json", str(rows)]) == 0
    table = json.loads(rows.read_text())
    assert table and {"name", "shape", "device", "time_ms", "baseline", "baseline_ms", "ratio"} <= set(table[0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "configs/nope.py"], "config configs/nope.py not found"),
        (["train", CONFIG, "--cfg-options", "model.backbone3d.chanels=3"], "did you mean 'model.backbone3d.channels'"),
        (["test", CONFIG, "missing.pth"], "checkpoint missing.pth not found"),
        (["infer", "missing.bin", "--config", CONFIG, "--checkpoint", "x.pth"], "missing.bin not found"),
    ],
)
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
