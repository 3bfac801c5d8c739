"""The official-compatible BEV variants: FlatFormer's residual SECOND, the transposed stride-1 deblock, BatchNorm
momentum, and ScatterFormer's CascadeDED (shapes, widths and the forward rules of its decoder)."""

import pytest
import torch
from torch import nn

from voxformer.models.bev import SECONDFPN, CascadeDED, SECONDBackbone


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(values + 0.5 if name.endswith("running_var") else values - 0.5)
    return module.eval()


def test_plain_residual_adds_the_input_wherever_the_shape_is_kept():
    cfg = dict(in_channels=4, layer_nums=[2, 1], layer_strides=[1, 2], num_filters=[8, 8])
    residual = _randomize(SECONDBackbone(**cfg, block="plain_residual"))
    plain = SECONDBackbone(**cfg)
    plain.load_state_dict(residual.state_dict())
    plain.eval()
    x = torch.randn(2, 4, 8, 8)
    expected, y = [], x
    for stage in plain.stages:
        for layer in stage:
            out = layer(y)
            y = out + y if out.shape == y.shape else out
        expected.append(y)
    for got, want in zip(residual(x), expected):
        torch.testing.assert_close(got, want)
    assert not torch.allclose(residual(x)[0], plain(x)[0])


def test_deconv_at_stride_1_and_bn_momentum():
    neck = SECONDFPN([8, 16], [4, 4], upsample_strides=[1, 2], deconv_at_stride_1=True, bn_momentum=0.01)
    assert isinstance(neck.deblocks[0][0], nn.ConvTranspose2d) and neck.deblocks[0][0].kernel_size == (1, 1)
    assert {m.momentum for m in neck.modules() if isinstance(m, nn.BatchNorm2d)} == {0.01}
    assert isinstance(SECONDFPN([8], [4], upsample_strides=[1]).deblocks[0][0], nn.Conv2d)
    backbone = SECONDBackbone(4, [1], [1], [8], block="residual", bn_momentum=0.01)
    assert {m.momentum for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)} == {0.01}


def test_entry_projection_opens_every_stage_with_a_1x1_shortcut():
    cfg = dict(in_channels=8, layer_nums=[1, 1], layer_strides=[1, 2], num_filters=[8, 16], block="residual")
    official, default = SECONDBackbone(**cfg, entry_projection=True), SECONDBackbone(**cfg)
    assert isinstance(official.stages[0][0].shortcut, nn.Sequential)  # width and stride kept, projection anyway
    assert isinstance(default.stages[0][0].shortcut, nn.Identity)
    assert isinstance(official.stages[0][1].shortcut, nn.Identity)  # only the entry block
    extra = sum(p.numel() for p in official.parameters()) - sum(p.numel() for p in default.parameters())
    assert extra == 8 * 8 + 2 * 8  # the 1x1 conv and its BatchNorm


def test_out_channels():
    assert SECONDBackbone(4, [1, 1], [1, 2], [8, 16]).out_channels == [8, 16]
    assert SECONDFPN([8, 16], [4, 6], upsample_strides=[1, 2]).out_channels == 10
    assert CascadeDED(in_channels=16, channels=16, num_layers=2).out_channels == 16


def test_cascade_ded_keeps_the_resolution_and_ends_without_relu():
    ded = _randomize(CascadeDED(in_channels=16, channels=16, num_layers=2))
    x = torch.randn(2, 16, 12, 12)
    y = ded(x)
    assert y.shape == x.shape
    assert (y < 0).any()  # the decoder's last BatchNorm is not followed by a ReLU
    assert len(ded.layers) == 2 and len(ded.layers[0].encoder) == 3 and len(ded.layers[0].decoder) == 2


@pytest.mark.parametrize(("in_channels", "entry_stride"), [(16, None), (8, 2)])
def test_cascade_ded_ignores_the_first_down_stride_at_equal_width(in_channels, entry_stride):
    ded = CascadeDED(in_channels=in_channels, channels=16, num_layers=2, num_blocks=[2, 1, 1], down_strides=[2, 2, 2])
    level0 = ded.layers[0].encoder[0]
    strides = [block.conv1[0].stride[0] for block in level0]
    if entry_stride is None:
        assert strides == [1, 1]  # two blocks, no entry block
    else:
        assert strides == [entry_stride, 1, 1]
    assert [block.conv1[0].stride[0] for block in ded.layers[1].encoder[0]] == [1, 1]


def test_cascade_ded_parameter_count_of_scatterformer():
    """4 DED stages of 128 channels, blocks [2, 1, 1], down-strides [1, 2, 2]: 7,751,680 parameters
    (ScatterFormer's CascadeDEDBackbone, counted from the official code)."""
    assert sum(p.numel() for p in CascadeDED(in_channels=128).parameters()) == 7_751_680


def test_cascade_ded_config_error():
    with pytest.raises(ValueError, match="num_blocks and down_strides"):
        CascadeDED(in_channels=8, num_blocks=[1, 1], down_strides=[1])
