"""Rules for the published DSVT backbone (Haiyang-W/DSVT on OpenPCDet): ``backbone_3d.`` onto ``backbone3d.``.

Official layout (read off ``dsvt.py`` / ``dsvt_input_layer.py``): position embeddings
``input_layer.posembed_layers.<stage>.<block>.<config>.position_embedding_head.{0,1,3}``; attention layers
``stage_<s>.<block>.encoder_list.<i>.{win_attn.self_attn.*, win_attn.{linear1,linear2,norm1,norm2}, norm}``;
block norms ``residual_norm_stage_<s>.<block>``; pooling ``stage_<s>_reduction.{pos_embedding, norm,
self_attn}``. Ours (:class:`~voxformer.models.backbones3d.DSVTOfficial`): ``stages.<s>.<block>.{pos_embeds.<i>,
layers.<i>.{win_attn, norm}, norm}`` and ``pools.<s>``; the attention weights keep
``nn.MultiheadAttention``'s packed names. The pillar scatter (``map_to_bev_module.``) has no state.
"""

from __future__ import annotations

from .base import KeyRule, register_rules


@register_rules("openpcdet", "DSVTOfficial")
def openpcdet_dsvt_rules(model_cfg: dict) -> list[KeyRule]:
    official, ours = r"backbone_3d\.", "backbone3d."
    block = rf"{official}stage_(\d+)\.(\d+)\.encoder_list\.(\d+)"
    ours_layer = rf"{ours}stages.\1.\2.layers.\3"
    return [
        (
            rf"{official}input_layer\.posembed_layers\.(\d+)\.(\d+)\.(\d+)\.(position_embedding_head\.\d\.\w+)",
            rf"{ours}stages.\1.\2.pos_embeds.\3.\4",
        ),
        (rf"{block}\.win_attn\.self_attn\.(in_proj_weight|in_proj_bias)", rf"{ours_layer}.win_attn.\4"),
        (rf"{block}\.win_attn\.self_attn\.(out_proj\.\w+)", rf"{ours_layer}.win_attn.\4"),
        (rf"{block}\.win_attn\.((?:linear|norm)[12]\.\w+)", rf"{ours_layer}.win_attn.\4"),
        (rf"{block}\.(norm\.\w+)", rf"{ours_layer}.\4"),
        (rf"{official}residual_norm_stage_(\d+)\.(\d+)\.(\w+)", rf"{ours}stages.\1.\2.norm.\3"),
        (rf"{official}stage_(\d+)_reduction\.(.+)", rf"{ours}pools.\1.\2"),
    ]
