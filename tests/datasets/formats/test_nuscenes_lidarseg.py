"""``voxformer create-data nuscenes --lidarseg``: label paths in the infos, 32 -> 16 classes, bad inputs."""

import json
import re

import numpy as np
import pytest

from voxformer.cli import main
from voxformer.datasets.formats import nuscenes_lidarseg as nl

from .test_nuscenes import KEYS, write_dataset


def write_lidarseg(root, version="v1.0-mini", skip=()):
    """A lidarseg table and one uint8 label file per key frame; returns the raw labels per key frame."""
    rng = np.random.default_rng(0)
    rows, labels = [], {}
    for key in KEYS:
        if key in skip:
            continue
        count = (root / f"samples/LIDAR_TOP/{key}.pcd.bin").stat().st_size // 20
        labels[key] = rng.integers(0, 32, count).astype(np.uint8)
        filename = f"lidarseg/{version}/sd-{key}_lidarseg.bin"
        (root / filename).parent.mkdir(parents=True, exist_ok=True)
        labels[key].tofile(root / filename)
        rows.append({"token": f"ls-{key}", "sample_data_token": f"sd-{key}", "filename": filename})
    (root / version / "lidarseg.json").write_text(json.dumps(rows))
    return labels


@pytest.fixture
def nuscenes_root(tmp_path):
    root = tmp_path / "nuscenes"
    root.mkdir()
    write_dataset(root)
    return root


def _argv(root, out):
    return ["create-data", "nuscenes", "--root-path", str(root), "--out-dir", str(out), "--version", "v1.0-mini"]


def test_infos_carry_label_paths_and_the_dataset_maps_them(nuscenes_root, tmp_path):
    from voxformer.datasets import NuScenesSegDataset
    from voxformer.datasets.infos import load_infos

    labels = write_lidarseg(nuscenes_root)
    out = tmp_path / "out"
    assert main([*_argv(nuscenes_root, out), "--max-sweeps", "0", "--lidarseg"]) == 0
    infos = load_infos(out / "nuscenes_infos_train.pkl")
    assert infos["metainfo"]["seg_classes"] == nl.CLASSES and infos["metainfo"]["label_format"] == "nuscenes"
    record = infos["data_list"][1]
    expected = nuscenes_root / "lidarseg/v1.0-mini/sd-k1_lidarseg.bin"
    assert (out / record["pts_semantic_mask_path"]).resolve() == expected.resolve()
    pipeline = [
        dict(type="LoadPointsFromFile", num_features=5, use_dims=[0, 1, 2, 3], intensity="div255"),
        dict(type="LoadPointSegLabels"),
        dict(type="Pack3DDetInputs"),
    ]
    dataset = NuScenesSegDataset(data_root=str(out), ann_file="nuscenes_infos_train.pkl", pipeline=pipeline)
    mask = dataset[1]["data_samples"].gt_pts_seg.pts_semantic_mask.numpy()
    np.testing.assert_array_equal(mask, [nl.LEARNING_MAP[int(raw)] for raw in labels["k1"]])
    assert len(mask) == len(labels["k1"])  # every point of the file, the close ones included


def _fails(argv, capsys, pattern):
    assert main(argv) != 0
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and re.search(pattern, message), message


def test_bad_lidarseg_inputs_name_the_file(nuscenes_root, tmp_path, capsys):
    argv = [*_argv(nuscenes_root, tmp_path / "o"), "--lidarseg"]
    _fails(argv, capsys, r"v1\.0-mini/lidarseg\.json: not found")
    write_lidarseg(nuscenes_root, skip=("k2",))
    _fails(argv, capsys, r"k2\.pcd\.bin: the key frame has no lidarseg labels in a labelled split")
    write_lidarseg(nuscenes_root)
    label = nuscenes_root / "lidarseg/v1.0-mini/sd-k0_lidarseg.bin"
    label.write_bytes(label.read_bytes()[:-1])
    _fails(argv, capsys, r"sd-k0_lidarseg\.bin: \d+ labels but its scan k0\.pcd\.bin has \d+ points")
