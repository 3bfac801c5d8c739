"""The Python API of segmentation inference: label every point of a cloud, write label files.

>>> model = init_detector("configs/segmentation/unet_synthetic_quick.py", "work_dirs/x/epoch_8.pth")
>>> result = inference_segmentor(model, "scan.bin")   # or an (N, C) array / tensor
>>> result.labels (N,) int64 learning classes, result.class_names, result.palette
>>> write_label_files(result, "preds/000000")          # preds/000000.npy (+ preds/000000.label)

``init_detector`` builds segmentors too (the class names are the checkpoint's ``seg_classes``, else the
config's ``class_names``). Label files: ``<stem>.npy`` holds the (N,) learning classes as int64 (what
``voxformer evaluate --pred-dir`` reads); for a model in SemanticKITTI's label space (``label_format``
``semantickitti``, the synthetic dataset's too) also ``<stem>.label``, uint32 per point with the raw
SemanticKITTI id in the lower 16 bits (the inverse learning map) and 0 in the upper 16 (no instances).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voxformer.errors import VoxformerError


@dataclass
class Segmentation:
    """(N,) int64 class of every point of the cloud, in its order, with the label space it is in."""

    labels: torch.Tensor
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...] | None = None
    label_format: str | None = None

    def counts(self) -> dict[str, int]:
        """Points per predicted class name (classes with points only)."""
        values, counts = torch.unique(self.labels, return_counts=True)
        return {self.class_names[int(v)]: int(c) for v, c in zip(values, counts)}


def is_segmentor(model) -> bool:
    from voxformer.models.segmentors import VoxelSegmentor

    return isinstance(model, VoxelSegmentor)


def seg_label_space(model, checkpoint_meta: dict | None = None) -> dict:
    """``palette`` and ``label_format`` of a segmentor: the checkpoint's dataset metainfo, else the config's."""
    meta = checkpoint_meta or {}
    cfg = getattr(model, "cfg", None) or {}
    palette = meta.get("seg_palette") or cfg.get("seg_palette")
    return dict(
        palette=tuple(tuple(int(v) for v in colour) for colour in palette) if palette else None,
        label_format=meta.get("label_format") or cfg.get("label_format"),
    )


@torch.no_grad()
def inference_segmentor(model, points_or_path, point_format=None) -> Segmentation:
    """Label every point of one cloud: a point file path (read as the model's dataset reads its files), or an
    (N, C) array/tensor with the features the model was trained on."""
    from voxformer.apis.inference import _as_points
    from voxformer.structures.det3d_sample import Det3DSample

    if not is_segmentor(model):
        raise VoxformerError(f"inference_segmentor needs a segmentor, got a {type(model).__name__}")
    points = _as_points(points_or_path, point_format, getattr(model, "cfg", None))
    in_channels = model.voxel_encoder.in_channels
    if points.shape[1] < in_channels:
        source = f"{points_or_path}: " if isinstance(points_or_path, str | Path) else ""
        raise VoxformerError(f"{source}the model expects {in_channels} point features, the cloud has {points.shape[1]}")
    device = next(model.parameters()).device
    batch = dict(inputs=dict(points=[points[:, :in_channels].to(device)]),
                 data_samples=[Det3DSample(metainfo=dict(frame_id="input"))])
    labels = model.test_step(batch)[0].pred_pts_seg.pts_semantic_mask.cpu()
    space = getattr(model, "seg_label_space", None) or seg_label_space(model)
    return Segmentation(labels=labels, class_names=tuple(model.class_names), **space)


def write_label_files(result: Segmentation, prefix: str | Path) -> list[Path]:
    """Write ``<prefix>.npy`` (int64 learning classes) and, in SemanticKITTI's label space, ``<prefix>.label``."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    labels = result.labels.numpy().astype(np.int64)
    npy_path = prefix.with_name(prefix.name + ".npy")
    np.save(npy_path, labels)
    written = [npy_path]
    if result.label_format == "semantickitti":
        from voxformer.datasets.formats import semantickitti

        label_path = prefix.with_name(prefix.name + ".label")
        semantickitti.write_label(label_path, semantickitti.to_raw(labels))
        written.append(label_path)
    return written
