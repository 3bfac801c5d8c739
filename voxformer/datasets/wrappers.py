"""Dataset wrappers. ``CBGSDataset``: class-balanced grouping and sampling (CBGS, Zhu et al. 2019).

CBGS re-samples frames so that every class is seen about equally often: with ``n_c`` frames
containing class c and ``N = sum_c n_c``, the frames of class c are drawn (with replacement)
``ceil(N / K)`` times, K the number of classes, so each class fills a 1/K share of a set about as
large as the original (rounded up, so that a small dataset never comes out empty). A frame with
several classes can be drawn once per class. Frames with no object of the listed classes are not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxformer.errors import ConfigError
from voxformer.registry import DATASETS


def class_balanced_indices(frame_classes: Sequence[Sequence[int]], num_classes: int, seed: int = 0) -> np.ndarray:
    """CBGS frame indices (int64, drawn with replacement) from each frame's class ids.

    ``frame_classes[i]`` lists the class ids present in frame i (duplicates ignored; ids outside
    [0, num_classes) ignored). Same inputs and seed, same indices.
    """
    frames_of_class = [[] for _ in range(num_classes)]
    for frame, classes in enumerate(frame_classes):
        for class_id in set(classes):
            if 0 <= class_id < num_classes:
                frames_of_class[class_id].append(frame)
    total = sum(len(frames) for frames in frames_of_class)
    if total == 0:
        raise ConfigError("CBGS: no frame contains an object of the dataset's classes; nothing to balance")
    per_class = -(-total // num_classes)
    rng = np.random.default_rng(seed)
    draws = [rng.choice(frames, per_class, replace=True) for frames in frames_of_class if frames]
    return np.concatenate(draws).astype(np.int64)


@DATASETS.register_module()
class CBGSDataset:
    """Wraps a dataset (instance or config dict) whose ``get_cat_ids(index)`` lists the class ids of a frame.

    ``len`` and indexing follow the balanced index list (:func:`class_balanced_indices`); the number
    of classes comes from ``metainfo["classes"]``.
    """

    def __init__(self, dataset, seed: int = 0):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if hasattr(self.dataset, "full_init"):
            self.dataset.full_init()
        classes = self.metainfo.get("classes")
        if not classes:
            raise ConfigError("CBGSDataset: the wrapped dataset's metainfo has no 'classes' to balance")
        frame_classes = [self.dataset.get_cat_ids(index) for index in range(len(self.dataset))]
        self.indices = class_balanced_indices(frame_classes, len(classes), seed)

    @property
    def metainfo(self) -> dict:
        return dict(getattr(self.dataset, "metainfo", {}))

    def full_init(self) -> None:
        """Present for mmengine's lazy-init protocol; the index list is built in ``__init__``."""

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(int(self.indices[index]))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[index])]
