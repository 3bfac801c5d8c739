import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from voxformer.engine.safe_checkpoint import load_checkpoint_file
from voxformer.errors import VoxformerError


def test_mmengine_style_checkpoint_loads(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(1.5)
    checkpoint = {
        "meta": {"epoch": 1, "seed": np.int64(3), "dataset_meta": {"classes": ("Car",)}},
        "state_dict": {"w": torch.ones(2)},
        "message_hub": {"log_scalars": {"train/loss": buffer}, "runtime_info": {"iter": np.float64(2.0)}},
        "stats": np.arange(4, dtype=np.float32),
    }
    path = tmp_path / "ok.pth"
    torch.save(checkpoint, path)
    loaded = load_checkpoint_file(path)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))
    assert loaded["message_hub"]["log_scalars"]["train/loss"].current() == 1.5
    assert loaded["stats"].tolist() == [0.0, 1.0, 2.0, 3.0]


class _Payload:
    """A pickle that would run a command when unpickled."""

    def __reduce__(self):
        return (os.system, ("echo unsafe > /dev/null",))


def test_crafted_checkpoint_is_refused(tmp_path):
    path = tmp_path / "crafted.pth"
    torch.save({"state_dict": {}, "payload": _Payload()}, path)
    with pytest.raises(VoxformerError, match=r"refusing to load checkpoint .*crafted\.pth.*(system|posix)"):
        load_checkpoint_file(path)


def test_getattr_is_limited_to_history_buffer_methods(tmp_path):
    class Sneaky:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, "__init__"))

    path = tmp_path / "sneaky.pth"
    torch.save({"x": Sneaky()}, path)
    with pytest.raises(VoxformerError, match="refusing.*__init__"):
        load_checkpoint_file(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(VoxformerError, match="not found"):
        load_checkpoint_file(tmp_path / "none.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(pickle.dumps([1, 2])[:3])
    with pytest.raises(VoxformerError, match="bad.pth"):
        load_checkpoint_file(bad)
