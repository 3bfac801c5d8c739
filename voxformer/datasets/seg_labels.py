"""Per-point semantic labels on disk, read into the learning space (classes 0..C-1, ignore 255).

``label_format`` says how a file is laid out and which learning map applies:

- ``semantickitti``: ``.label`` uint32 per point, raw SemanticKITTI id in the lower 16 bits
  (:mod:`voxformer.datasets.formats.semantickitti`); also what the synthetic dataset writes.
- ``nuscenes``: ``_lidarseg.bin`` uint8 raw class per point (:mod:`voxformer.datasets.formats.nuscenes_lidarseg`).
- ``learning``: a ``.npy`` of (N,) integers already in the learning space (predictions written by
  ``voxformer infer``); values must be class indices or 255.

Every reader raises :class:`VoxformerError` naming the file: missing, a length other than the scan's,
an id outside its label map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxformer.errors import ConfigError, VoxformerError

LABEL_FORMATS = ("semantickitti", "nuscenes", "learning")
IGNORE_INDEX = 255


def read_seg_labels(
    path: str | Path, label_format: str, num_points: int | None = None, num_classes: int | None = None
) -> np.ndarray:
    """(N,) int64 learning classes of a label file (``num_classes`` bounds the ``learning`` format)."""
    if label_format == "semantickitti":
        from voxformer.datasets.formats import semantickitti

        semantic, _ = semantickitti.read_label(path, num_points)
        return semantickitti.to_learning(semantic, path)
    if label_format == "nuscenes":
        from voxformer.datasets.formats import nuscenes_lidarseg

        return nuscenes_lidarseg.to_learning(nuscenes_lidarseg.read_lidarseg(path, num_points), path)
    if label_format == "learning":
        return read_learning_npy(path, num_points, num_classes)
    raise ConfigError(f"label_format must be one of {LABEL_FORMATS}, got {label_format!r}")


def read_learning_npy(path: str | Path, num_points: int | None = None, num_classes: int | None = None) -> np.ndarray:
    """(N,) int64 classes of a ``.npy`` holding a 1-D integer array in the learning space."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: label file not found")
    try:
        labels = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise VoxformerError(f"{path}: not a readable .npy label file ({str(error).splitlines()[0]})") from None
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise VoxformerError(f"{path}: expected a 1-D integer array of classes, got {labels.dtype} {labels.shape}")
    if num_points is not None and len(labels) != num_points:
        raise VoxformerError(f"{path}: {len(labels)} labels but its scan has {num_points} points")
    labels = labels.astype(np.int64)
    bad = (labels < 0) | ((labels >= num_classes) & (labels != IGNORE_INDEX)) if num_classes else labels < 0
    if bad.any():
        raise VoxformerError(f"{path}: unknown label id(s) {sorted(set(labels[bad].tolist()))[:5]}")
    return labels
