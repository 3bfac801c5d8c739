"""A test-time hook that writes one BEV picture of ground truth and predictions per frame."""

from __future__ import annotations

from pathlib import Path

from mmengine.hooks import Hook

from voxformer.registry import HOOKS


def _field(sample, name):
    """A field of a Det3DSample or of its dict form (None when absent)."""
    if isinstance(sample, dict):
        return sample.get(name)
    return getattr(sample, name, None)


@HOOKS.register_module()
class PredictionPictureHook(Hook):
    """After each test iteration, draw ``<out_dir>/<frame_id>.png`` with the points, the ground
    truth (green) and the predictions scoring at least ``score_thr`` (red, with scores). For a segmentor
    (samples with ``pred_pts_seg``) the points are coloured by class instead, ground truth and prediction
    side by side, in the dataset's ``seg_palette``."""

    def __init__(self, out_dir: str, score_thr: float = 0.3):
        self.out_dir = Path(out_dir)
        self.score_thr = score_thr

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        from voxformer.visualization.bev import draw_bev

        points = data_batch["inputs"]["points"]
        for index, (sample, cloud) in enumerate(zip(outputs, points)):
            meta = _field(sample, "metainfo") or {}
            frame_id = meta.get("frame_id", f"{batch_idx:06d}_{index}")
            if _field(sample, "pred_pts_seg") is not None:
                self._draw_segmentation(runner, sample, cloud, self.out_dir / f"{frame_id}.png")
                continue
            predictions = _field(sample, "pred_instances_3d")
            keep = predictions.scores_3d >= self.score_thr
            ground_truth = _field(sample, "gt_instances_3d")
            draw_bev(
                cloud.cpu().numpy(),
                gt_boxes=ground_truth.bboxes_3d if ground_truth is not None and "bboxes_3d" in ground_truth else None,
                pred_boxes=predictions.bboxes_3d[keep],
                pred_scores=predictions.scores_3d[keep].cpu().numpy(),
                out_path=self.out_dir / f"{frame_id}.png",
            )

    @staticmethod
    def _draw_segmentation(runner, sample, cloud, out_path) -> None:
        from voxformer.visualization.seg_pictures import default_palette, draw_seg_bev

        meta = runner.test_dataloader.dataset.metainfo
        names = meta["seg_classes"]
        ground_truth = _field(sample, "gt_pts_seg")
        gt_labels = ground_truth.pts_semantic_mask.cpu().numpy() if ground_truth is not None else None
        draw_seg_bev(
            cloud.cpu().numpy(), names, meta.get("seg_palette") or default_palette(len(names)),
            gt_labels=gt_labels, pred_labels=_field(sample, "pred_pts_seg").pts_semantic_mask.cpu().numpy(),
            out_path=out_path, title=out_path.stem,
        )
