"""The Python API behind ``voxformer infer``: build a detector, run it on a point cloud.

>>> model = init_detector("configs/dsvt/dsvt_synthetic_quick.py", "work_dirs/x/epoch_8.pth", device="cpu")
>>> detections = inference_detector(model, "scan.bin")      # or an (N, C) array / tensor
>>> detections.boxes.tensor, detections.scores, detections.labels, detections.names, detections.num_points

A point file is read with :func:`voxformer.apis.point_files.read_model_points`: its layout is the
``point_format`` given, else the model config's, and the model gets the points its config's test
pipeline would give for it (the dataset's point-loading transform on the file's rows; for nuScenes,
points within 1 m of the sensor dropped and a time lag of 0). An empty cloud gives no detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voxformer.errors import VoxformerError
from voxformer.structures import Boxes3D


@dataclass
class Detections:
    """Boxes (docs/design.md §Boxes) with scores, class indices and class names, sorted by score."""

    boxes: Boxes3D
    scores: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    num_points: int | None = None  # points in the cloud the detector saw

    @property
    def names(self) -> list[str]:
        return [self.class_names[int(label)] for label in self.labels]

    def __len__(self) -> int:
        return len(self.boxes)

    def to_json(self) -> dict:
        return {
            "box_convention": "x y z dx dy dz yaw (LiDAR frame, gravity centre, yaw CCW from +x)",
            "boxes_3d": [[round(float(v), 4) for v in box] for box in self.boxes.tensor.tolist()],
            "scores_3d": [round(float(s), 4) for s in self.scores.tolist()],
            "labels_3d": [int(label) for label in self.labels.tolist()],
            "names": self.names,
            **({} if self.num_points is None else {"num_points": self.num_points}),
        }


def _class_names(cfg, checkpoint: dict | None, segmentation: bool = False) -> tuple[str, ...]:
    meta = (checkpoint or {}).get("meta", {}).get("dataset_meta") or {}
    names = meta.get("seg_classes" if segmentation else "classes") or cfg.get("class_names")
    if not names:
        raise VoxformerError("the config defines no class_names and the checkpoint has no dataset_meta classes")
    return tuple(names)


def init_detector(config, checkpoint: str | Path | None = None, device: str = "cpu", cfg_options=None):
    """Build the config's model on ``device`` in eval mode, with weights from ``checkpoint`` (loaded
    with ``weights_only=True`` and a safe allow-list; keys must match exactly)."""
    from mmengine.config import Config

    from voxformer.apis.config import load_config, naming_config_key
    from voxformer.engine.safe_checkpoint import load_checkpoint_file
    from voxformer.models.checkpoint import load_model_weights
    from voxformer.registry import MODELS

    cfg = config if isinstance(config, Config) else load_config(config, cfg_options)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VoxformerError(f"--device {device}: no CUDA device is available; use --device cpu")
    with naming_config_key(cfg.filename, "model"):
        model = MODELS.build(cfg.model)
    loaded = load_checkpoint_file(checkpoint, map_location="cpu") if checkpoint is not None else None
    if loaded is not None:
        load_model_weights(model, loaded.get("state_dict", loaded), strict=True, source=checkpoint)
    model.cfg = cfg
    from voxformer.apis.seg_inference import is_segmentor, seg_label_space

    model.class_names = _class_names(cfg, loaded, segmentation=is_segmentor(model))
    if is_segmentor(model):  # segmentors: voxformer.apis.seg_inference
        model.seg_label_space = seg_label_space(model, (loaded or {}).get("meta", {}).get("dataset_meta"))
    return model.to(device).eval()


def _as_points(points_or_path, point_format, cfg) -> torch.Tensor:
    if isinstance(points_or_path, str | Path):
        from voxformer.apis.point_files import read_model_points, read_point_file

        if cfg is None:
            return torch.from_numpy(read_point_file(points_or_path, point_format))
        return read_model_points(points_or_path, cfg, point_format)
    points = torch.as_tensor(np.asarray(points_or_path) if not torch.is_tensor(points_or_path) else points_or_path)
    if points.dim() != 2 or points.shape[1] < 3:
        raise VoxformerError(f"points: expected an (N, >=3) array, got shape {tuple(points.shape)}")
    if not torch.isfinite(points[:, :3]).all():
        raise VoxformerError("points: some coordinates are NaN or infinite")
    return points.float()


@torch.no_grad()
def inference_detector(model, points_or_path, score_thr: float = 0.0, point_format=None, runtime=None) -> Detections:
    """Detect objects in one cloud: a point file path (read as the model's dataset reads its files),
    or an (N, C) array/tensor with the features the model was trained on (x, y, z, intensity[, ...],
    as its test pipeline gives them). ``point_format`` (``kitti``, ``nuscenes``, ``waymo`` or a
    column count) says how a raw ``.bin`` / ``.npy`` file is laid out. ``runtime``: a
    :class:`voxformer.deploy.OnnxDetector` that runs the network in place of ``model`` (same pre- and
    post-processing)."""
    from voxformer.structures.det3d_sample import Det3DSample

    points = _as_points(points_or_path, point_format, getattr(model, "cfg", None))
    in_channels = getattr(model.voxel_encoder, "in_channels", None)
    if in_channels is not None and points.shape[1] < in_channels:
        source = f"{points_or_path}: " if isinstance(points_or_path, str | Path) else ""
        raise VoxformerError(f"{source}the model expects {in_channels} point features, the cloud has {points.shape[1]}")
    if in_channels is not None:
        points = points[:, :in_channels]
    batch = dict(inputs=dict(points=[points]), data_samples=[Det3DSample(metainfo=dict(frame_id="input"))])
    if runtime is not None:
        prediction = runtime.predict(points)
    else:
        prediction = model.test_step(batch)[0].pred_instances_3d
    keep = (prediction.scores_3d >= score_thr) & (len(points) > 0)
    order = torch.argsort(prediction.scores_3d[keep], descending=True)
    boxes = prediction.bboxes_3d[keep]
    return Detections(
        boxes=boxes[order].to("cpu"),
        scores=prediction.scores_3d[keep][order].cpu(),
        labels=prediction.labels_3d[keep][order].cpu(),
        class_names=model.class_names,
        num_points=len(points),
    )
