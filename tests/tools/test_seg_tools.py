"""train / test / infer / vis with the segmentation quick config, on the session's tiny synthetic dataset."""

import matplotlib.image
import numpy as np
import pytest

from voxformer.cli import main
from voxformer.datasets.formats import semantickitti
from voxformer.datasets.infos import load_infos

pytest.importorskip("spconv", reason="the segmentation baseline needs spconv")
pytestmark = pytest.mark.slow

CONFIG = "configs/segmentation/unet_synthetic_quick.py"


@pytest.fixture(scope="session")
def seg_trained(synthetic_root, tmp_path_factory):
    """CONFIG trained for one epoch (its few iterations) and validated once."""
    work_dir = tmp_path_factory.mktemp("seg_train")
    options = ["train_cfg.max_epochs=1", "train_cfg.val_interval=1"]
    args = ["train", CONFIG, "--work-dir", str(work_dir), "--data-root", str(synthetic_root), "--cfg-options", *options]
    assert main(args) == 0
    return work_dir / "epoch_1.pth"


def _val_frame(root):
    infos = load_infos(root / "synthetic_infos_val.pkl")
    frame = infos["data_list"][0]
    return root / frame["lidar_path"], root / frame["pts_semantic_mask_path"]


def test_train_one_epoch_writes_a_checkpoint_and_validates(seg_trained):
    assert seg_trained.is_file()
    logs = list(seg_trained.parent.glob("*/*.log"))
    assert logs and "seg/mIoU" in logs[0].read_text()


def test_infer_writes_one_label_file_per_scan_with_a_label_per_point(seg_trained, synthetic_root, tmp_path, capsys):
    scan, _ = _val_frame(synthetic_root)
    pred_dir = tmp_path / "preds"
    args = ["infer", str(scan), "--config", CONFIG, "--checkpoint", str(seg_trained), "--pred-dir", str(pred_dir)]
    assert main(args) == 0
    num_points = len(np.fromfile(scan, np.float32)) // 4
    semantic, instance = semantickitti.read_label(pred_dir / f"{scan.stem}.label", num_points)
    learning = np.load(pred_dir / f"{scan.stem}.npy")
    assert learning.shape == (num_points,) and learning.dtype == np.int64
    assert ((learning >= 0) & (learning < 19)).all()
    assert np.array_equal(semantickitti.to_learning(semantic), learning)  # the .label holds raw ids of the same classes
    assert not instance.any()
    assert "points" in capsys.readouterr().out


def test_vis_draws_ground_truth_and_prediction_side_by_side(seg_trained, synthetic_root, tmp_path):
    scan, gt_label = _val_frame(synthetic_root)
    pred_dir = tmp_path / "preds"
    args = ["infer", str(scan), "--config", CONFIG, "--checkpoint", str(seg_trained), "--pred-dir", str(pred_dir)]
    assert main(args) == 0
    out_dir = tmp_path / "vis"
    args = ["vis", str(scan), "--point-format", "kitti", "--labels", str(gt_label),
            "--pred-labels", str(pred_dir / f"{scan.stem}.label"),
            "--out-dir", str(out_dir)]
    assert main(args) == 0
    bev = matplotlib.image.imread(out_dir / f"{scan.stem}_bev.png")
    assert bev.shape[1] > 1.5 * bev.shape[0]  # two panels side by side
    assert bev[..., :3].std() > 0.05  # not a blank canvas
    for picture in out_dir.glob("*_3d.png"):  # present where Open3D renders off screen
        assert matplotlib.image.imread(picture).shape[1] > matplotlib.image.imread(picture).shape[0]


def test_vis_rejects_a_label_file_whose_length_differs_from_the_scan(synthetic_root, tmp_path, capsys):
    scan, _ = _val_frame(synthetic_root)
    short = tmp_path / "short.label"
    semantickitti.write_label(short, np.full(10, 40))
    args = ["vis", str(scan), "--point-format", "kitti", "--labels", str(short), "--out-dir", str(tmp_path / "vis")]
    assert main(args) != 0
    assert "short.label" in capsys.readouterr().err


def test_test_command_scores_and_draws_every_val_frame(seg_trained, synthetic_root, tmp_path, capsys):
    show = tmp_path / "show"
    args = ["test", CONFIG, str(seg_trained), "--data-root", str(synthetic_root), "--work-dir", str(tmp_path / "w"),
            "--show-dir", str(show)]
    assert main(args) == 0
    assert "seg/mIoU" in capsys.readouterr().out
    num_val = len(load_infos(synthetic_root / "synthetic_infos_val.pkl")["data_list"])
    assert len(list(show.glob("*.png"))) == num_val


def test_quickstart_seg_trains_scores_and_draws(synthetic_root, synthetic_frames, tmp_path, capsys):
    work_dir = tmp_path / "quickstart_seg"
    args = ["quickstart", "--task", "seg", "--data-root", str(synthetic_root), "--frames", str(synthetic_frames),
            "--work-dir", str(work_dir), "--cfg-options", "train_cfg.max_epochs=1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "reusing" in out and "seg/mIoU:" in out and "seg/IoU/traffic-sign:" in out
    pictures = work_dir / "pictures"
    assert len(list(pictures.glob("*.label"))) == 1 and list(pictures.glob("*_bev.png"))


def test_quickstart_seg_checks_its_options_first(tmp_path, capsys):
    argv = ["quickstart", "--task", "seg", "--data-root", str(tmp_path / "data"),
            "--cfg-options", "model.backbone3d.chanels=[8,8]"]
    assert main(argv) != 0
    assert "chanels" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # failed before generating anything


def test_evaluate_on_infer_label_files_matches_the_test_command(seg_trained, synthetic_root, tmp_path, capsys):
    import json
    import shutil

    from voxformer.cli import build_parser
    from voxformer.commands import test

    infos = load_infos(synthetic_root / "synthetic_infos_val.pkl")["data_list"]
    scans, labels = tmp_path / "scans", tmp_path / "labels"
    scans.mkdir()
    labels.mkdir()
    for frame in infos:
        shutil.copy(synthetic_root / frame["lidar_path"], scans)
        shutil.copy(synthetic_root / frame["pts_semantic_mask_path"], labels)
    preds = tmp_path / "preds"
    args = ["infer", str(scans), "--config", CONFIG, "--checkpoint", str(seg_trained), "--pred-dir", str(preds)]
    assert main(args) == 0
    for npy in preds.glob("*.npy"):  # score the .label files
        npy.unlink()
    scores = tmp_path / "scores.json"
    args = ["evaluate", "semantickitti", "--gt-dir", str(labels), "--pred-dir", str(preds), "--scan-dir", str(scans),
            "--json", str(scores)]
    assert main(args) == 0
    test_args = ["test", CONFIG, str(seg_trained), "--data-root", str(synthetic_root),
                 "--work-dir", str(tmp_path / "w")]
    metrics = test.evaluate(build_parser().parse_args(test_args))
    from_files = json.loads(scores.read_text())
    # per class (the two mIoUs may differ: the evaluate command leaves out only the classes with neither target
    # nor prediction, the metric the dataset's absent classes even when a weak model predicts them)
    per_class = {key[len("seg/"):]: value for key, value in metrics.items() if key.startswith("seg/IoU/")}
    assert len(per_class) == 15
    for key, value in per_class.items():
        assert from_files[key] == pytest.approx(value, abs=1e-3), key
