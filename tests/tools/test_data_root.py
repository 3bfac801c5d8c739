"""``--data-root DIR``: every path a dataset config reads from its data root ends up under DIR."""

import os
from pathlib import Path

import pytest

from voxformer.apis.config import DATA_KEYS, load_config

BASES = ["synthetic", "kitti", "nuscenes", "waymo"]


def datasets(node):
    """Every dataset config in a dataloader's ``dataset`` (and those wrapped inside it)."""
    if isinstance(node, dict):
        if "ann_file" in node:
            yield node
        for value in node.values():
            yield from datasets(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from datasets(value)


def files_read(cfg) -> list[Path]:
    """The files the config's datasets read as the datasets resolve them: the info file against the
    dataset's data root, and the GT sampler's database against its own data root or the dataset's."""
    files = []
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for dataset in datasets(cfg[key]["dataset"]):
            files.append(Path(dataset["data_root"], dataset["ann_file"]))
            for transform in dataset.get("pipeline", []):
                if transform.get("type") == "ObjectSample":
                    root = transform.get("data_root") or dataset["data_root"]
                    files.append(Path(root, transform["db_info_path"]))
    return files


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from strings(value)


@pytest.mark.parametrize("base", BASES)
def test_every_dataset_path_of_a_base_config_moves_under_the_data_root(base, tmp_path):
    original = load_config(f"configs/_base_/datasets/{base}.py")
    moved = load_config(f"configs/_base_/datasets/{base}.py", data_root=tmp_path)
    before, after = files_read(original), files_read(moved)
    assert len(after) == len(before) >= 2  # at least the train and val info files
    assert any("dbinfos" in path.name for path in after), "no GT sampler found"
    for old, new in zip(before, after):
        assert old.is_relative_to(original.data_root)
        assert new == tmp_path / old.relative_to(original.data_root)
    for dataset in (d for key in ("train_dataloader", "val_dataloader") for d in datasets(moved[key]["dataset"])):
        assert dataset["data_root"] == str(tmp_path)
    old_root = original.data_root.rstrip("/")
    left = [s for key in DATA_KEYS if key in moved for s in strings(moved[key]) if s.startswith(old_root)]
    assert not left, f"paths still under {old_root}: {left}"


def test_nested_dataset_and_paths_written_from_the_data_root_move(tmp_path):
    """The style that writes ``data_root + 'file'`` into every key: a CBGS-wrapped dataset, an explicit
    GT sampler root and database path, and an evaluator's annotation file; other paths stay."""
    config = tmp_path / "spelled_out.py"
    config.write_text(
        "data_root = 'data/kitti/'\n"
        "sampler = dict(type='ObjectSample', data_root=data_root, db_info_path=data_root + 'kitti_dbinfos_train.pkl')\n"
        "dataset = dict(type='KittiDataset', data_root=data_root, ann_file=data_root + 'kitti_infos_train.pkl',\n"
        "               pipeline=[dict(type='LoadPointsFromFile'), sampler])\n"
        "train_dataloader = dict(dataset=dict(type='CBGSDataset', dataset=dataset))\n"
        "val_set = dict(type='KittiDataset', data_root=data_root, ann_file='kitti_infos_val.pkl')\n"
        "val_dataloader = dict(dataset=val_set)\n"
        "test_dataloader = val_dataloader\n"
        "val_evaluator = dict(type='KittiMetric', ann_file=data_root + 'kitti_infos_val.pkl', out='results/x.pkl')\n"
        "test_evaluator = val_evaluator\n"
    )
    root = tmp_path / "elsewhere"
    root.mkdir()
    cfg = load_config(config, data_root=root)
    inner = cfg.train_dataloader.dataset.dataset
    assert inner.data_root == str(root) and inner.ann_file == str(root / "kitti_infos_train.pkl")
    sampler = inner.pipeline[1]
    assert sampler.data_root == str(root) and sampler.db_info_path == str(root / "kitti_dbinfos_train.pkl")
    assert cfg.val_dataloader.dataset.data_root == str(root)
    assert cfg.val_dataloader.dataset.ann_file == "kitti_infos_val.pkl"  # relative: read under the data root
    for key in ("val_evaluator", "test_evaluator"):
        assert cfg[key].ann_file == str(root / "kitti_infos_val.pkl")
        assert cfg[key].out == "results/x.pkl"
    assert cfg.data_root == str(root)
    assert all(os.path.commonpath([p, root]) == str(root) for p in map(str, files_read(cfg)))


def test_cfg_options_apply_after_the_data_root(tmp_path):
    cfg = load_config(
        "configs/_base_/datasets/kitti.py",
        ["val_dataloader.dataset.data_root=/mnt/val"],
        data_root=tmp_path,
    )
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path)
    assert cfg.val_dataloader.dataset.data_root == "/mnt/val"
