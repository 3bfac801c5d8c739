"""``voxformer convert-checkpoint``: an official checkpoint (random weights from the key listings) becomes one
that loads strictly into the config's model; a wrong checkpoint fails with one line naming the file and keys."""

from pathlib import Path

import pytest
import torch

from voxformer.cli import main
from voxformer.engine.safe_checkpoint import load_checkpoint_file
from voxformer.models.conversion import PARTS, PUBLISHED_CONFIGS, WEIGHTS_KEY, random_state_dict, read_listing
from voxformer.models.conversion.listing import part_file

FIXTURES = Path(__file__).resolve().parents[1] / "models" / "fixtures" / "official_keys"
COMPLETE = [s for s in PUBLISHED_CONFIGS if all(part_file(FIXTURES, s, p).is_file() for p in PARTS)]
CONFIG = "configs/dsvt/dsvt_pillar_waymo.py"


def _official(stem: str) -> dict[str, torch.Tensor]:
    return random_state_dict(read_listing(part_file(FIXTURES, stem, part) for part in PARTS))


def _save(path: Path, stem: str, weights: dict) -> Path:
    """An official checkpoint as its code base writes it: OpenPCDet adds its step counter to the weights and
    epoch and version beside them, mmdet3d meta."""
    source = PUBLISHED_CONFIGS[stem][1]
    if source == "openpcdet":
        weights, extra = {**weights, "global_step": torch.tensor([100])}, dict(epoch=24, version="pcdet+0.6.0")
    else:
        extra = dict(meta=dict(epoch=24))
    torch.save({WEIGHTS_KEY[source]: weights, **extra}, path)
    return path


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


@pytest.mark.parametrize("stem", COMPLETE)
def test_converted_checkpoint_loads_strictly_into_the_model(stem, tmp_path, capsys):
    from voxformer.apis.inference import init_detector

    official = _official(stem)
    src, dst = _save(tmp_path / "official.pth", stem, official), tmp_path / "out" / "voxformer.pth"
    config = PUBLISHED_CONFIGS[stem][0]
    assert main(["convert-checkpoint", str(src), str(dst), "--config", config]) == 0
    assert f"{len(official)} tensors mapped" in capsys.readouterr().out
    checkpoint = load_checkpoint_file(dst)
    assert checkpoint["meta"]["source"] == PUBLISHED_CONFIGS[stem][1]
    model = init_detector(config, dst)  # strict
    ours = torch.sort(torch.cat([t.flatten().double() for t in model.state_dict().values()])).values
    theirs = torch.sort(torch.cat([t.flatten().double() for t in official.values()])).values
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("stem", COMPLETE[:1])
@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("missing", "model key(s) left missing"),
        ("extra", "official key(s) no rule maps: zz_extra.weight"),
        ("mis-shaped", "shape mismatch(es)"),
    ],
)
def test_wrong_checkpoint_fails_with_one_line_naming_file_and_keys(stem, change, named, tmp_path, capsys):
    official = _official(stem)
    first = next(iter(official))
    if change == "missing":
        del official[first]
    elif change == "extra":
        official["zz_extra.weight"] = torch.zeros(2)
    else:
        official[first] = torch.zeros(*official[first].shape, 2)
    src = _save(tmp_path / "official.pth", stem, official)
    dst = tmp_path / "voxformer.pth"
    line = _error(capsys, ["convert-checkpoint", str(src), str(dst), "--config", PUBLISHED_CONFIGS[stem][0]])
    assert str(src) in line and named in line
    if change == "mis-shaped":
        assert first in line
    assert not dst.exists()


def test_checkpoint_of_neither_code_base_is_refused(tmp_path, capsys):
    src = tmp_path / "plain.pth"
    torch.save({"weights": {"a": torch.zeros(1)}}, src)
    line = _error(capsys, ["convert-checkpoint", str(src), str(tmp_path / "out.pth"), "--config", CONFIG])
    assert str(src) in line and "cannot tell its source" in line and "--from" in line


def test_wrong_source_names_the_missing_weights_key(tmp_path, capsys):
    src = tmp_path / "pcdet.pth"
    torch.save({"model_state": {"a": torch.zeros(1)}}, src)
    argv = ["convert-checkpoint", str(src), str(tmp_path / "out.pth"), "--config", CONFIG, "--from", "mmdet3d"]
    line = _error(capsys, argv)
    assert str(src) in line and "'state_dict'" in line


def test_unsafe_pickle_is_refused(tmp_path, capsys):
    src = tmp_path / "unsafe.pth"

    class Payload:
        def __reduce__(self):
            return (print, ("never run",))

    torch.save({"model_state": Payload()}, src)
    line = _error(capsys, ["convert-checkpoint", str(src), str(tmp_path / "out.pth"), "--config", CONFIG])
    assert line.startswith(f"voxformer convert-checkpoint: error: refusing to load checkpoint {src}")


def test_destination_may_not_overwrite_the_source(tmp_path, capsys):
    src = tmp_path / "official.pth"
    torch.save({"model_state": {}}, src)
    line = _error(capsys, ["convert-checkpoint", str(src), str(src), "--config", CONFIG])
    assert "overwrite" in line and str(src) in line
