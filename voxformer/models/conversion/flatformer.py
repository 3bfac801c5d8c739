"""Rules for the released FlatFormer (mit-han-lab/flatformer on mmdet3d 0.x): VFE and middle encoder.

Official layout (read off ``voxel_encoder.py`` / ``middle_encoders/flatformer.py``; the detector is a
``DynamicCenterPoint``, a single-stage ``VoxelNet``, so its keys start ``voxel_encoder.`` / ``middle_encoder.``;
the ``pts_`` prefix of mmdet3d's two-stage detectors is accepted as well):
``voxel_encoder.vfe_layers.<i>.{linear, norm}`` and
``middle_encoder.block_list.<b>.block.<l>.{attn.attn.{in_proj_weight, in_proj_bias, out_proj}, fc1, fc2, norm1,
norm2}``. Ours: :class:`~voxformer.models.voxel_encoders.DynamicVFEOfficial` ``layers.<i>.{0 (linear), 1 (norm)}``
and :class:`~voxformer.models.backbones3d.FlatFormerOfficial` ``blocks.<b>.<l>.{attn.{in_proj_weight,
in_proj_bias, out_proj}, ffn.net.{0, 3}, norm1, norm2}``. The BEV scatter has no state.
"""

from __future__ import annotations

from .base import KeyRule, register_rules


@register_rules("mmdet3d", "DynamicVFEOfficial")
def mmdet3d_vfe_rules(model_cfg: dict) -> list[KeyRule]:
    official = r"(?:pts_)?voxel_encoder\.vfe_layers\.(\d+)"
    return [
        (rf"{official}\.linear\.weight", r"voxel_encoder.layers.\1.0.weight"),
        (rf"{official}\.norm\.(\w+)", r"voxel_encoder.layers.\1.1.\2"),
    ]


@register_rules("mmdet3d", "FlatFormerOfficial")
def mmdet3d_flatformer_rules(model_cfg: dict) -> list[KeyRule]:
    official = r"(?:pts_)?middle_encoder\.block_list\.(\d+)\.block\.(\d+)"
    ours = r"backbone3d.blocks.\1.\2"
    return [
        (rf"{official}\.attn\.attn\.(in_proj_weight|in_proj_bias|out_proj\.\w+)", rf"{ours}.attn.\3"),
        (rf"{official}\.fc1\.(\w+)", rf"{ours}.ffn.net.0.\3"),
        (rf"{official}\.fc2\.(\w+)", rf"{ours}.ffn.net.3.\3"),
        (rf"{official}\.(norm[12]\.\w+)", rf"{ours}.\3"),
    ]
