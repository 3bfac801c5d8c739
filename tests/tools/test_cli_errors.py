"""The CLI's error contract, subcommand by subcommand: a bad input exits 2 with one stderr line that
names the file or key, never a traceback; a bug in the package prints its traceback, the versions
and a request to report it, and exits 1. Nothing here trains: every case fails before a step runs."""

from pathlib import Path

import numpy as np
import pytest
import torch

import voxformer
from voxformer.cli import main
from voxformer.errors import VoxformerError

from .conftest import CONFIG

GRID = "model.data_preprocessor.voxel_size=[0.33,0.33,4.0]"  # 51.2 m is not a whole number of 0.33 m cells
WINDOW = "model.backbone3d.window_shape=[[1,500,500]]"  # larger than the 160 x 160 grid


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and the non-empty stderr lines of ``voxformer ARGV`` run in-process."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def assert_user_error(argv: list[str], capsys, *names: str) -> str:
    """``voxformer ARGV`` exits 2 with exactly one line, ``voxformer <cmd>: error: ...``, holding ``names``."""
    code, lines = run_cli([str(a) for a in argv], capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"voxformer {argv[0]}: error: "), lines[0]
    assert "Traceback" not in lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture
def other_checkpoint(tmp_path) -> Path:
    """A checkpoint of another model: none of the config's keys, one of its own."""
    path = tmp_path / "other_model.pth"
    torch.save({"state_dict": {"other.weight": torch.zeros(2)}, "meta": {}}, path)
    return path


@pytest.fixture
def config_with(tmp_path):
    """Write a config that inherits CONFIG and adds ``body``; returns its path."""

    def write(body: str) -> Path:
        path = tmp_path / "child_config.py"
        path.write_text(f"_base_ = [{str(Path(CONFIG).resolve())!r}]\n{body}\n")
        return path

    return write


@pytest.fixture
def empty_dir(tmp_path) -> Path:
    folder = tmp_path / "no_data_here"
    folder.mkdir()
    return folder


@pytest.fixture
def points_file(tmp_path) -> Path:
    path = tmp_path / "scan.npy"
    np.save(path, np.random.default_rng(0).uniform(-10, 10, (50, 4)).astype(np.float32))
    return path


# --- train: config file, options, grid, types, data root -------------------------------------------


def test_train_missing_config(capsys):
    assert_user_error(["train", "configs/dsvt/no_such_config.py"], capsys, "configs/dsvt/no_such_config.py")


def test_train_malformed_config(tmp_path, capsys):
    config = tmp_path / "broken.py"
    config.write_text("model = dict(\n")
    assert_user_error(["train", config], capsys, config)


def test_train_unknown_cfg_options_key(capsys, empty_dir):
    argv = ["train", CONFIG, "--data-root", empty_dir, "--cfg-options", "model.backbone3d.num_head=2"]
    assert_user_error(argv, capsys, "model.backbone3d.num_head", "did you mean 'model.backbone3d.num_heads'")


@pytest.mark.parametrize(
    ("option", "key"),
    [(GRID, "voxel_size"), (WINDOW, "backbone3d.window_shape"), ("model.backbone3d.blocks=[2,2]", "per stage")],
)
def test_train_impossible_model_from_cfg_options(option, key, capsys, empty_dir, tmp_path):
    argv = ["train", CONFIG, "--work-dir", tmp_path / "work", "--data-root", empty_dir, "--cfg-options", option]
    assert_user_error(argv, capsys, f"{CONFIG}: model: ", key)


def test_train_unknown_type_in_config_file(config_with, capsys, empty_dir, tmp_path):
    config = config_with("model = dict(backbone3d=dict(type='DSVTT'))")
    argv = ["train", config, "--work-dir", tmp_path / "work", "--data-root", empty_dir]
    assert_user_error(argv, capsys, f"{config}: model: ", "'DSVTT'", "did you mean 'DSVT'")


def test_train_unknown_option_in_config_file(config_with, capsys, empty_dir, tmp_path):
    config = config_with("model = dict(backbone3d=dict(depthz=3))")
    argv = ["train", config, "--work-dir", tmp_path / "work", "--data-root", empty_dir]
    assert_user_error(argv, capsys, f"{config}: model: ", "DSVT has no option 'depthz'")


def test_train_data_root_that_is_not_a_folder(tmp_path, capsys):
    assert_user_error(["train", CONFIG, "--data-root", tmp_path / "absent"], capsys, tmp_path / "absent")


def test_train_data_root_without_infos(empty_dir, tmp_path, capsys):
    argv = ["train", CONFIG, "--work-dir", tmp_path / "work", "--data-root", empty_dir]
    assert_user_error(argv, capsys, f"{CONFIG}: train_dataloader.dataset: ", empty_dir / "synthetic_infos_train.pkl")


def test_train_resume_from_a_weights_only_checkpoint(synthetic_root, tmp_path, capsys):
    from voxformer.apis.inference import init_detector

    weights = tmp_path / "weights_only.pth"
    torch.save({"state_dict": init_detector(CONFIG).state_dict()}, weights)
    argv = ["train", CONFIG, "--work-dir", tmp_path / "work", "--data-root", synthetic_root, "--resume", weights]
    assert_user_error(argv, capsys, weights, "cannot be resumed")


# --- test: checkpoint, dataset type ----------------------------------------------------------------


def test_test_missing_checkpoint(tmp_path, capsys):
    assert_user_error(["test", CONFIG, tmp_path / "none.pth"], capsys, tmp_path / "none.pth")


def test_test_mismatched_checkpoint(synthetic_root, other_checkpoint, tmp_path, capsys):
    argv = ["test", CONFIG, other_checkpoint, "--work-dir", tmp_path / "work", "--data-root", synthetic_root]
    line = assert_user_error(argv, capsys, other_checkpoint, "missing key(s)", "unexpected key(s): other.weight")
    assert "more)" in line  # the first few keys, not every one


def test_test_unknown_dataset_type(other_checkpoint, empty_dir, tmp_path, capsys):
    argv = ["test", CONFIG, other_checkpoint, "--work-dir", tmp_path / "work", "--data-root", empty_dir,
            "--cfg-options", "test_dataloader.dataset.type=SynthDataset"]  # fmt: skip
    assert_user_error(argv, capsys, f"{CONFIG}: test_dataloader.dataset: ", "'SynthDataset'")


# --- infer, vis, browse ----------------------------------------------------------------------------


def test_infer_missing_input(other_checkpoint, tmp_path, capsys):
    argv = ["infer", tmp_path / "nothing.bin", "--config", CONFIG, "--checkpoint", other_checkpoint]
    assert_user_error(argv, capsys, tmp_path / "nothing.bin")


def test_infer_mismatched_checkpoint(points_file, other_checkpoint, tmp_path, capsys):
    argv = ["infer", points_file, "--config", CONFIG, "--checkpoint", other_checkpoint, "--pred-dir", tmp_path]
    assert_user_error(argv, capsys, other_checkpoint, "does not match")


def test_infer_impossible_window(points_file, other_checkpoint, tmp_path, capsys):
    argv = ["infer", points_file, "--config", CONFIG, "--checkpoint", other_checkpoint, "--cfg-options", WINDOW]
    assert_user_error(argv, capsys, f"{CONFIG}: model: ", "backbone3d.window_shape")


def test_vis_missing_points(tmp_path, capsys):
    assert_user_error(["vis", tmp_path / "nothing.pcd"], capsys, tmp_path / "nothing.pcd")


def test_vis_malformed_boxes_json(points_file, tmp_path, capsys):
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"boxes_3d": [[1, 2, 3]]')
    argv = ["vis", points_file, "--gt", boxes, "--out-dir", tmp_path / "pictures"]
    assert_user_error(argv, capsys, boxes)


def test_browse_data_root_without_infos(empty_dir, capsys):
    argv = ["browse", CONFIG, "--data-root", empty_dir]
    assert_user_error(argv, capsys, f"{CONFIG}: train_dataloader.dataset: ", empty_dir / "synthetic_infos_train.pkl")


def test_browse_unknown_transform(empty_dir, capsys):
    argv = [
        "browse",
        CONFIG,
        "--data-root",
        empty_dir,
        "--cfg-options",
        "train_dataloader.dataset.pipeline.0.type=Load",
    ]
    assert_user_error(argv, capsys, "train_dataloader.dataset: ", "unknown transform type 'Load'")


# --- evaluate, create-data, bench, quickstart, env ------------------------------------------------


def test_evaluate_kitti_missing_folder(tmp_path, capsys):
    argv = ["evaluate", "kitti", "--gt-dir", tmp_path / "label_2", "--pred-dir", tmp_path]
    assert_user_error(argv, capsys, tmp_path / "label_2")


def test_evaluate_waymo_garbage_file(tmp_path, capsys):
    garbage = tmp_path / "gt.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert_user_error(["evaluate", "waymo", "--gt", garbage, "--pred", garbage], capsys, garbage)


def test_evaluate_nuscenes_garbage_infos(tmp_path, capsys):
    garbage = tmp_path / "nuscenes_infos_val.pkl"
    garbage.write_bytes(b"not a pickle")
    assert_user_error(["evaluate", "nuscenes", "--gt", garbage, "--pred", tmp_path / "results.json"], capsys, garbage)


def test_create_data_unknown_dataset(tmp_path, capsys):
    assert_user_error(["create-data", "kitty", "--out-dir", tmp_path], capsys, "'kitty'", "kitti")


def test_create_data_missing_source(tmp_path, capsys):
    argv = ["create-data", "kitti", "--root-path", tmp_path / "kitti", "--out-dir", tmp_path / "out"]
    assert_user_error(argv, capsys, tmp_path / "kitti")


def test_bench_unknown_suite(capsys):
    assert_user_error(["bench", "opz"], capsys, "'opz'")


def test_quickstart_checks_its_options_first(tmp_path, capsys):
    argv = ["quickstart", "--data-root", tmp_path / "data", "--cfg-options", "model.backbone3d.num_head=2"]
    assert_user_error(argv, capsys, "model.backbone3d.num_head")
    assert not (tmp_path / "data").exists()  # failed before generating anything


def test_env_unexpected_argument_is_an_argparse_error(capsys):
    code, lines = run_cli(["env", "--verbose"], capsys)
    assert code == 2
    assert lines[-1].endswith("error: unrecognized arguments: --verbose")
    assert not any("Traceback" in line for line in lines)


# --- a bug ----------------------------------------------------------------------------------------


def test_a_bug_prints_the_traceback_versions_and_where_to_report(monkeypatch, capsys):
    from voxformer.commands import env

    def broken(args):
        raise RuntimeError("an internal inconsistency")

    monkeypatch.setattr(env, "run", broken)
    code, lines = run_cli(["env"], capsys)
    assert code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert "RuntimeError: an internal inconsistency" in lines
    assert f"voxformer {voxformer.__version__}" in lines[-2] and f"torch {torch.__version__}" in lines[-2]
    assert "report" in lines[-1]


class _BrokenScans(torch.utils.data.Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        raise VoxformerError("scans/000.bin: 7 bytes is not a whole number of points")


def test_a_user_error_from_a_data_loader_worker_stays_one_line(monkeypatch, capsys):
    from voxformer.commands import env

    def load(args):
        next(iter(torch.utils.data.DataLoader(_BrokenScans(), num_workers=1)))

    monkeypatch.setattr(env, "run", load)
    line = assert_user_error(["env"], capsys)
    assert line == "voxformer env: error: scans/000.bin: 7 bytes is not a whole number of points"
