"""Class-balanced grouping and sampling (CBGS) wrapper, as used for nuScenes training."""

import math
from collections import Counter

import numpy as np
import pytest

from voxformer.datasets.wrappers import CBGSDataset, class_balanced_indices


class FramesWithClasses:
    """A minimal dataset: item i is ``("frame", i)``; ``get_cat_ids`` lists its classes."""

    def __init__(self, frame_classes, classes=("car", "bus", "bicycle")):
        self.frame_classes = frame_classes
        self.metainfo = {"classes": classes}
        self.initialised = False

    def full_init(self):
        self.initialised = True

    def get_cat_ids(self, index):
        return self.frame_classes[index]

    def get_data_info(self, index):
        return {"frame": index}

    def __len__(self):
        return len(self.frame_classes)

    def __getitem__(self, index):
        return ("frame", index)


# 10 frames: cars everywhere, one bus frame, one bicycle frame, one frame with nothing
FRAMES = [[0, 0, 0]] * 7 + [[0, 1]] + [[2]] + [[]]


def test_each_class_is_drawn_equally_often():
    indices = class_balanced_indices(FRAMES, num_classes=3, seed=0)
    total = 8 + 1 + 1  # frames per class, each frame counted once per class it has
    assert len(indices) == 3 * (math.ceil(total / 3))
    assert 9 not in indices  # the empty frame
    picks = Counter(indices.tolist())
    assert picks[8] == math.ceil(total / 3)  # the only bicycle frame: one class's full share
    assert picks[7] >= math.ceil(total / 3)  # the only bus frame, drawn again among the car frames perhaps


def test_balance_is_measured_on_a_larger_set():
    rng = np.random.default_rng(0)
    frames = [[0] * 5 + ([1] if rng.random() < 0.1 else []) + ([2] if rng.random() < 0.02 else []) for _ in range(500)]
    indices = class_balanced_indices(frames, 3, seed=1)
    seen = Counter(c for i in indices for c in set(frames[i]))
    assert seen[2] / len(indices) > 0.3 and seen[1] / len(indices) > 0.3  # rare classes now common
    raw = Counter(c for f in frames for c in set(f))
    assert raw[2] / len(frames) < 0.05


def test_deterministic_per_seed():
    a, b = class_balanced_indices(FRAMES, 3, seed=5), class_balanced_indices(FRAMES, 3, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, class_balanced_indices(FRAMES, 3, seed=6))


def test_ids_outside_the_class_list_are_ignored_and_empty_input_fails():
    assert set(class_balanced_indices([[0], [7], [-1, 1]], 2).tolist()) == {0, 2}
    with pytest.raises(ValueError, match="no frame contains an object"):
        class_balanced_indices([[], [5]], 2)


def test_wrapper_indexes_through_the_balanced_list():
    inner = FramesWithClasses(FRAMES)
    wrapped = CBGSDataset(inner, seed=0)
    assert inner.initialised and wrapped.metainfo["classes"] == ("car", "bus", "bicycle")
    expected = class_balanced_indices(FRAMES, 3, seed=0)
    assert len(wrapped) == len(expected)
    assert [wrapped[i] for i in range(len(wrapped))] == [("frame", int(i)) for i in expected]
    assert wrapped.get_data_info(0) == {"frame": int(expected[0])}


def test_wrapper_needs_classes():
    with pytest.raises(ValueError, match="metainfo has no 'classes'"):
        CBGSDataset(FramesWithClasses(FRAMES, classes=()))


def test_fewer_class_occurrences_than_classes_still_draw_every_present_class():
    # 3 frames with the same 3 of 10 classes (the mini nuScenes fixture): N // K would draw nothing
    indices = class_balanced_indices([[0, 3, 8]] * 3, num_classes=10, seed=0)
    assert len(indices) == 3 and set(indices.tolist()) <= {0, 1, 2}
