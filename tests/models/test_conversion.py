"""Official checkpoints convert onto the published-recipe models: random weights from the key listings under
fixtures/official_keys/ map key by key, shape-checked, and load strictly; a missing, extra or mis-shaped key
fails with one line naming the file and the keys."""

import functools
from pathlib import Path

import pytest
import torch

from voxformer.apis.config import load_config
from voxformer.errors import VoxformerError
from voxformer.models import load_model_weights
from voxformer.models.conversion import PARTS, PUBLISHED_CONFIGS, convert_state_dict, random_state_dict, read_listing
from voxformer.models.conversion.listing import part_file
from voxformer.registry import MODELS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_keys"
PRESENT_PARTS = [(s, p) for s in PUBLISHED_CONFIGS for p in PARTS if part_file(FIXTURES, s, p).is_file()]
COMPLETE = [s for s in PUBLISHED_CONFIGS if all((s, p) in PRESENT_PARTS for p in PARTS)]


def _listing(stem: str, parts=tuple(PARTS)):
    return read_listing(part_file(FIXTURES, stem, part) for part in parts)


@functools.cache
def _built(stem: str):
    cfg = load_config(PUBLISHED_CONFIGS[stem][0])
    return cfg.model.to_dict(), MODELS.build(cfg.model)


def _values(tensors) -> torch.Tensor:
    """Every value of ``tensors``, sorted: equal for two state dicts holding the same numbers in any layout."""
    return torch.sort(torch.cat([t.detach().flatten().double() for t in tensors])).values


def _part_of_model(stem: str, part: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in _built(stem)[1].state_dict().items() if k.startswith(PARTS[part])}


@pytest.mark.parametrize(("stem", "part"), PRESENT_PARTS)
def test_each_listed_part_fills_its_modules_exactly(stem, part):
    model_cfg, _ = _built(stem)
    ours = _part_of_model(stem, part)
    official = random_state_dict(_listing(stem, [part]))
    converted = convert_state_dict(official, ours, model_cfg, PUBLISHED_CONFIGS[stem][1], path=f"{stem}.{part}")
    assert list(converted) == list(ours)
    assert all(converted[k].shape == ours[k].shape for k in ours)
    assert torch.equal(_values(converted.values()), _values(official.values()))


@pytest.mark.parametrize("stem", COMPLETE)
def test_official_checkpoint_round_trips_into_the_model(stem):
    model_cfg, model = _built(stem)
    official = random_state_dict(_listing(stem), seed=1)
    source = PUBLISHED_CONFIGS[stem][1]
    counters = {"global_step": torch.tensor([7])} if source == "openpcdet" else {}  # OpenPCDet's step counter
    converted = convert_state_dict({**official, **counters}, model, model_cfg, source, path=f"{stem}.pth")
    load_model_weights(model, converted, strict=True)
    assert torch.equal(_values(model.state_dict().values()), _values(official.values()))


def _bev_error(change) -> str:
    """The error converting the DSVT-Pillar BEV listing after ``change(state_dict)``."""
    stem = "dsvt_pillar_waymo"
    official = random_state_dict(_listing(stem, ["bev"]))
    change(official)
    with pytest.raises(VoxformerError) as error:
        convert_state_dict(official, _part_of_model(stem, "bev"), _built(stem)[0], "openpcdet", path="/ckpt/dsvt.pth")
    message = str(error.value)
    assert "\n" not in message and message.startswith("checkpoint /ckpt/dsvt.pth ")
    return message


def test_missing_official_key_names_the_model_key_left_unfilled():
    message = _bev_error(lambda sd: sd.pop("backbone_2d.blocks.1.0.bn1.running_var"))
    assert "1 model key(s) left missing: bev_backbone.stages.1.0.conv1.1.running_var" in message


def test_extra_official_key_is_named():
    message = _bev_error(lambda sd: sd.update({"backbone_2d.blocks.0.7.conv3.weight": torch.zeros(3)}))
    assert "1 official key(s) no rule maps: backbone_2d.blocks.0.7.conv3.weight" in message


def test_mis_shaped_key_is_named_with_both_shapes():
    message = _bev_error(lambda sd: sd.update({"backbone_2d.deblocks.2.0.weight": torch.zeros(256, 128, 2, 2)}))
    official, ours = "backbone_2d.deblocks.2.0.weight (256, 128, 2, 2)", "bev_neck.deblocks.2.0.weight (256, 128, 4, 4)"
    assert f"1 shape mismatch(es): {official} -> {ours}" in message
    assert "left missing" not in message  # the mis-shaped key is not counted twice


def test_error_lists_a_few_keys_and_counts_the_rest():
    def drop_stage(sd):
        for key in [k for k in sd if k.startswith("backbone_2d.blocks.2.")]:
            del sd[key]

    message = _bev_error(drop_stage)
    assert "model key(s) left missing: bev_backbone.stages.2.0.conv1.0.weight" in message
    assert "more)" in message and message.count("bev_backbone.stages.2.") == 5


def test_stride_1_transposed_deblock_converts_onto_a_conv_neck():
    """mmdet3d/OpenPCDet build a 1x1 transposed conv at upsample stride 1; our default neck a 1x1 conv there:
    the converted weight is transposed so that both compute the same map."""
    cfg = dict(type="SECONDFPN", in_channels=[8, 16], out_channels=[8, 4], upsample_strides=[1, 2])
    official_neck = MODELS.build({**cfg, "deconv_at_stride_1": True}).eval()
    ours = MODELS.build(cfg).eval()
    with torch.no_grad():
        for tensor in official_neck.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    official = {f"neck.{k}": v for k, v in official_neck.state_dict().items()}
    holder = torch.nn.Module()
    holder.bev_neck = ours
    converted = convert_state_dict(official, holder, dict(bev_neck=cfg), "mmdet3d")
    holder.load_state_dict(converted)
    features = [torch.randn(2, 8, 6, 6), torch.randn(2, 16, 3, 3)]
    assert torch.allclose(ours(features), official_neck(features), atol=1e-6)
