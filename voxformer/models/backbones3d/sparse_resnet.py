"""Sparse-convolution ResNet baseline (CenterPoint-Voxel style, 8x downsampling), built on spconv.

Stages: SubM 3x3x3 stem, then four stages of two residual SubM blocks with a stride-2 sparse conv in
front of stages 2-4 (the last one pads z by 0), and a final (3, 1, 1) / (2, 1, 1) conv along z. The
grid gets one extra z cell first, as in SECOND/CenterPoint, so common z extents (40, 32) divide out.
With ``block_bias=True`` the residual blocks' convs carry a bias, which makes the network OpenPCDet's
``VoxelResBackBone8x`` (its default ``USE_BIAS``); the layers then match its ``conv_input``, ``conv1``
... ``conv4`` and ``conv_out`` one to one. spconv is imported when the backbone is built; on the CPU
its layers use ``ConvAlgo.Native``. spconv 2.x stores conv weights as (out, kz, ky, kx, in).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels


def _import_spconv():
    try:
        import spconv.pytorch as spconv
        from spconv.core import ConvAlgo
    except ImportError as error:
        raise ImportError(
            "SparseResNet8x needs spconv: pip install spconv-cu120 (CPU works too); "
            "the attention backbones (DSVT, FlatFormer, ScatterFormer) do not"
        ) from error
    return spconv, ConvAlgo


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


@MODELS.register_module()
class SparseResNet8x(nn.Module):
    """SparseVoxels (M, in_channels) -> SparseVoxels (M', out_channels) on a grid 8x coarser in y, x.

    Args:
        sparse_shape: (Z, Y, X) of the input grid (injected by :class:`VoxelDetector`).
        channels: widths of the four stages.
        block_bias: give the residual blocks' SubM convs a bias (OpenPCDet's layout); off by default.
        conv_algo: spconv algorithm name (``'Native'``, ``'MaskImplicitGemm'``, ...); default Native on
            a machine without CUDA, spconv's choice otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 64, 128),
        out_channels: int = 128,
        block_bias: bool = False,
        conv_algo: str | None = None,
    ):
        super().__init__()
        spconv, conv_algo_enum = _import_spconv()
        if conv_algo is None and not torch.cuda.is_available():
            conv_algo = "Native"
        algo = getattr(conv_algo_enum, conv_algo) if conv_algo is not None else None
        self.input_shape = [sparse_shape[0] + 1, sparse_shape[1], sparse_shape[2]]

        def norm(c):
            return nn.BatchNorm1d(c, eps=1e-3, momentum=0.01)

        def subm(cin, cout, key):
            return spconv.SubMConv3d(cin, cout, 3, padding=1, bias=False, indice_key=key, algo=algo)

        def down(cin, cout, key, padding):
            return spconv.SparseSequential(
                spconv.SparseConv3d(cin, cout, 3, stride=2, padding=padding, bias=False, indice_key=key, algo=algo),
                norm(cout),
                nn.ReLU(),
            )

        self.stem = spconv.SparseSequential(subm(in_channels, channels[0], "subm1"), norm(channels[0]), nn.ReLU())
        self.stages = nn.ModuleList()
        z_size, y_size, x_size = self.input_shape
        for i, width in enumerate(channels):
            key = f"subm{i + 1}"
            layers = []
            if i > 0:
                padding = (0, 1, 1) if i == len(channels) - 1 else 1
                layers.append(down(channels[i - 1], width, f"down{i + 1}", padding))
                z_size = _conv_out(z_size, 3, 2, padding if isinstance(padding, int) else padding[0])
                y_size, x_size = _conv_out(y_size, 3, 2, 1), _conv_out(x_size, 3, 2, 1)
            layers += [SparseBasicBlock(spconv, width, key, algo, norm, block_bias) for _ in range(2)]
            self.stages.append(nn.ModuleList(layers))  # applied in order (blocks are not spconv modules)
        z_size = _conv_out(z_size, 3, 2, 0)
        if z_size < 1:
            raise ConfigError(
                f"SparseResNet8x needs more z cells: sparse_shape {list(sparse_shape)} leaves none after "
                "downsampling; use a smaller voxel_size z or a larger z range"
            )
        self.out_channels = out_channels
        self.out_sparse_shape = (z_size, y_size, x_size)
        self.out_conv = spconv.SparseSequential(
            spconv.SparseConv3d(
                channels[-1], out_channels, (3, 1, 1), stride=(2, 1, 1), bias=False, indice_key="out", algo=algo
            ),
            norm(out_channels),
            nn.ReLU(),
        )
        self.spconv = spconv

    def stage_context(self, voxels: SparseVoxels):
        """What :meth:`after_stage` needs from the input voxels (subclasses); None here."""
        return None

    def after_stage(self, index: int, x, context):
        """Hook on the spconv tensor after each stage (the SphereFormer variant puts its attention after the
        stride-2 and stride-4 stages); the identity here."""
        return x

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        x = self.spconv.SparseConvTensor(voxels.features, voxels.coords.int(), self.input_shape, voxels.batch_size)
        x = self.stem(x)
        context = self.stage_context(voxels)
        for index, stage in enumerate(self.stages):
            for layer in stage:
                x = layer(x)
            x = self.after_stage(index, x, context)
        x = self.out_conv(x)
        return SparseVoxels(x.features, x.indices, x.spatial_shape, voxels.batch_size)


class SparseBasicBlock(nn.Module):
    """Two SubM 3x3x3 convs with an identity shortcut (spconv tensors in and out).

    With ``bias`` each conv's bias is a parameter of its own (``bias1``, ``bias2``), added after the conv:
    spconv 2.3 fuses a conv's bias into the kernel in inference, which its CPU kernels refuse. It starts
    as spconv initializes a conv bias, uniform in +-1 / sqrt(fan_in).
    """

    def __init__(self, spconv, channels: int, indice_key: str, algo, norm, bias: bool = False):
        super().__init__()
        self.conv1 = spconv.SubMConv3d(channels, channels, 3, padding=1, bias=False, indice_key=indice_key, algo=algo)
        self.norm1 = norm(channels)
        self.conv2 = spconv.SubMConv3d(channels, channels, 3, padding=1, bias=False, indice_key=indice_key, algo=algo)
        self.norm2 = norm(channels)
        bound = 1 / (27 * channels) ** 0.5
        self.bias1 = nn.Parameter(torch.empty(channels).uniform_(-bound, bound)) if bias else None
        self.bias2 = nn.Parameter(torch.empty(channels).uniform_(-bound, bound)) if bias else None

    @staticmethod
    def _add(features: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return features if bias is None else features + bias

    def forward(self, x):
        identity = x.features
        out = self.conv1(x)
        out = out.replace_feature(torch.relu(self.norm1(self._add(out.features, self.bias1))))
        out = self.conv2(out)
        return out.replace_feature(torch.relu(self.norm2(self._add(out.features, self.bias2)) + identity))
