"""``voxformer create-data semantickitti``: splits, info records, poses, the dataset and its bad inputs."""

import re

import numpy as np
import pytest

from voxformer.datasets.formats import semantickitti as sk
from voxformer.errors import VoxformerError

RAW_IDS = np.array([10, 252, 40, 48, 70, 81, 0, 99, 30, 254])


def write_sequence(root, sequence, scans, labelled=True, poses=False, seed=0):
    rng = np.random.default_rng(seed + sequence)
    folder = root / "sequences" / f"{sequence:02d}"
    (folder / "velodyne").mkdir(parents=True)
    written = []
    for index in range(scans):
        n = int(rng.integers(20, 40))
        rng.normal(0, 10, (n, 4)).astype(np.float32).tofile(folder / "velodyne" / f"{index:06d}.bin")
        semantic = rng.choice(RAW_IDS, n)
        if labelled:
            (folder / "labels").mkdir(exist_ok=True)
            sk.write_label(folder / "labels" / f"{index:06d}.label", semantic, rng.integers(0, 5, n))
        written.append(semantic)
    if poses:
        tr = np.eye(4)[:3].copy()
        tr[:, 3] = (0.1, -0.2, 0.3)
        (folder / "calib.txt").write_text("P0: " + " ".join(["0"] * 12) + "\nTr: " + " ".join(map(str, tr.ravel())))
        rows = [np.hstack([np.eye(3), [[i], [0], [0]]]).ravel() for i in range(scans)]
        (folder / "poses.txt").write_text("\n".join(" ".join(map(str, r)) for r in rows))
        (folder / "times.txt").write_text("\n".join(str(0.1 * i) for i in range(scans)))
    return written


@pytest.fixture
def kitti_root(tmp_path):
    root = tmp_path / "semantickitti"
    labels = {0: write_sequence(root, 0, 2, poses=True), 8: write_sequence(root, 8, 3)}
    write_sequence(root, 11, 1, labelled=False)
    return root, labels


def test_create_data_writes_the_three_splits(kitti_root, tmp_path):
    from voxformer.cli import main
    from voxformer.datasets.infos import load_infos

    root, _ = kitti_root
    out = tmp_path / "out"
    assert main(["create-data", "semantickitti", "--root-path", str(root), "--out-dir", str(out)]) == 0
    train, val, test = (load_infos(out / f"semantickitti_infos_{s}.pkl") for s in ("train", "val", "test"))
    assert [r["frame_id"] for r in train["data_list"]] == ["00_000000", "00_000001"]
    assert [r["frame_id"] for r in val["data_list"]] == ["08_000000", "08_000001", "08_000002"]
    assert [r["frame_id"] for r in test["data_list"]] == ["11_000000"]
    assert "pts_semantic_mask_path" not in test["data_list"][0]
    record = train["data_list"][1]
    assert (out / record["pts_semantic_mask_path"]).resolve() == (root / "sequences/00/labels/000001.label").resolve()
    assert (out / record["lidar_path"]).resolve() == (root / "sequences/00/velodyne/000001.bin").resolve()
    # LiDAR-to-world = Tr^-1 @ pose @ Tr: a pure translation of 1 m along x here
    np.testing.assert_allclose(record["pose"][:3, 3], [1, 0, 0], atol=1e-12)
    assert record["timestamp"] == pytest.approx(0.1) and val["data_list"][0]["pose"] is None
    assert train["metainfo"]["seg_classes"] == sk.CLASSES and train["metainfo"]["ignore_index"] == 255


def test_the_dataset_gives_mapped_labels_row_aligned(kitti_root, tmp_path):
    from voxformer.cli import main
    from voxformer.datasets import SemanticKittiDataset

    root, labels = kitti_root
    out = tmp_path / "out"
    main(["create-data", "semantickitti", "--root-path", str(root), "--out-dir", str(out), "--splits", "val"])
    dataset = SemanticKittiDataset(
        data_root=str(out),
        ann_file="semantickitti_infos_val.pkl",
        pipeline=[dict(type="LoadPointsFromFile", num_features=4), dict(type="LoadPointSegLabels"),
                  dict(type="Pack3DDetInputs")],
        test_mode=True,
    )  # fmt: skip
    assert len(dataset) == 3 and dataset.metainfo["seg_classes"] == sk.CLASSES
    for index in range(3):
        mask = dataset[index]["data_samples"].gt_pts_seg.pts_semantic_mask.numpy()
        expected = np.array([sk.LEARNING_MAP[raw] for raw in labels[8][index]])
        np.testing.assert_array_equal(mask, expected)
        assert set(mask[np.isin(labels[8][index], [0, 99])]) <= {255}


def _fails(argv, capsys, pattern):
    from voxformer.cli import main

    assert main(argv) != 0
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and re.search(pattern, message), message


def test_bad_inputs_are_one_line_errors_naming_the_file(kitti_root, tmp_path, capsys):
    from voxformer.cli import main
    from voxformer.datasets import SemanticKittiDataset
    from voxformer.datasets.infos import load_infos, save_infos

    root, _ = kitti_root
    argv = ["create-data", "semantickitti", "--root-path", str(root), "--out-dir", str(tmp_path / "o")]
    label = root / "sequences/08/labels/000001.label"
    good = label.read_bytes()
    label.write_bytes(good[:-4])  # one label short of its scan
    _fails([*argv, "--splits", "val"], capsys, r"08/labels/000001\.label: \d+ labels but its scan has \d+ points")
    label.unlink()  # a scan without labels in a labelled split
    _fails([*argv, "--splits", "val"], capsys, r"08/labels/000001\.label: scan 000001\.bin has no label file")
    label.write_bytes(good)
    _fails([*argv, "--splits", "valid"], capsys, "unknown split")
    # an unknown raw id is found when the labels are loaded, naming the file
    main([*argv, "--splits", "val"])
    sk.write_label(label, np.full(len(good) // 4, 77))
    pipeline = [dict(type="LoadPointsFromFile", num_features=4), dict(type="LoadPointSegLabels")]
    dataset = SemanticKittiDataset(data_root=str(tmp_path / "o"), ann_file="semantickitti_infos_val.pkl",
                                   pipeline=pipeline, test_mode=True)  # fmt: skip
    with pytest.raises(VoxformerError, match=r"000001\.label: unknown SemanticKITTI label id.*77"):
        dataset[1]
    # an info record of a labelled split without its label path
    content = load_infos(tmp_path / "o/semantickitti_infos_val.pkl")
    del content["data_list"][2]["pts_semantic_mask_path"]
    save_infos(tmp_path / "o/broken.pkl", content["data_list"], content["metainfo"])
    with pytest.raises(VoxformerError, match=r"broken\.pkl: frame '08_000002'.*no label file"):
        SemanticKittiDataset(data_root=str(tmp_path / "o"), ann_file="broken.pkl", pipeline=pipeline)
