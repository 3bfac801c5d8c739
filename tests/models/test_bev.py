"""To-BEV modules and the SECOND backbone / neck."""

import pytest
import torch

from voxformer.models.bev import SECONDFPN, HeightCompression, PillarScatter, SECONDBackbone
from voxformer.structures import SparseVoxels


def _voxels(z_size, rng):
    coords = torch.tensor([[0, 0, 1, 2], [0, z_size - 1, 3, 3], [1, 0, 0, 0]], dtype=torch.int32)
    return SparseVoxels(torch.randn(3, 5, generator=rng), coords, (z_size, 4, 6), batch_size=2)


def test_pillar_scatter_places_features(rng):
    voxels = _voxels(1, rng)
    bev = PillarScatter()(voxels)
    assert bev.shape == (2, 5, 4, 6)
    for feature, (b, _, y, x) in zip(voxels.features, voxels.coords.tolist()):
        torch.testing.assert_close(bev[b, :, y, x], feature)
    assert bev.abs().sum() == pytest.approx(voxels.features.abs().sum().item(), rel=1e-5)


def test_pillar_scatter_refuses_voxels(rng):
    with pytest.raises(ValueError, match="sparse_shape"):
        PillarScatter()(_voxels(3, rng))


def test_height_compression_folds_z_into_channels(rng):
    voxels = _voxels(3, rng)
    bev = HeightCompression()(voxels)
    assert bev.shape == (2, 15, 4, 6)
    b, z, y, x = voxels.coords[1].tolist()
    torch.testing.assert_close(bev[b, [c * 3 + z for c in range(5)], y, x], voxels.features[1])


@pytest.mark.parametrize("block", ["plain", "residual"])
def test_second_backbone_and_neck_shapes(block):
    backbone = SECONDBackbone(6, layer_nums=[1, 1], layer_strides=[1, 2], num_filters=[8, 16], block=block)
    neck = SECONDFPN([8, 16], [4, 4], upsample_strides=[1, 2])
    x = torch.randn(2, 6, 16, 20, requires_grad=True)
    maps = backbone(x)
    assert [m.shape for m in maps] == [(2, 8, 16, 20), (2, 16, 8, 10)]
    out = neck(maps)
    assert out.shape == (2, 8, 16, 20)
    out.sum().backward()
    assert x.grad is not None


def test_second_config_errors():
    with pytest.raises(ValueError, match="same length"):
        SECONDBackbone(4, layer_nums=[1], layer_strides=[1, 2], num_filters=[8])
    with pytest.raises(ValueError, match="block"):
        SECONDBackbone(4, layer_nums=[1], layer_strides=[1], num_filters=[8], block="dense")
