"""3D backbones: take and return :class:`~voxformer.structures.SparseVoxels` (one family per file).

``SparseResNet8x``, ``SparseUNet`` and the SphereFormer backbones import spconv only when built, so the attention
backbones work without it.
"""

from .attention_pool import AttentionPool3d, DenseQueryAttentionPool, pooled_shape
from .dsvt import DSVT
from .dsvt_official import DSVTOfficial
from .flatformer import FlatFormer, sinusoidal_position
from .flatformer_official import FlatFormerOfficial, interleaved_sinusoidal_position
from .scatterformer import ScatterFormer
from .scatterformer_official import ScatterFormerOfficial
from .sparse_resnet import SparseResNet8x
from .sparse_unet import SparseUNet
from .sphereformer import SphereFormerBlock
from .sphereformer_nets import SphereFormerResNet8x, SphereFormerUNet

__all__ = [
    "DSVT",
    "AttentionPool3d",
    "DSVTOfficial",
    "DenseQueryAttentionPool",
    "FlatFormer",
    "FlatFormerOfficial",
    "ScatterFormer",
    "ScatterFormerOfficial",
    "SparseResNet8x",
    "SparseUNet",
    "SphereFormerBlock",
    "SphereFormerResNet8x",
    "SphereFormerUNet",
    "interleaved_sinusoidal_position",
    "pooled_shape",
    "sinusoidal_position",
]
