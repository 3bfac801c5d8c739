"""3D backbones: take and return :class:`~voxformer.structures.SparseVoxels` (one family per file).

``SparseResNet8x`` imports spconv only when built, so the attention backbones work without it.
"""

from .attention_pool import AttentionPool3d, pooled_shape
from .dsvt import DSVT
from .flatformer import FlatFormer, sinusoidal_position
from .scatterformer import ScatterFormer
from .sparse_resnet import SparseResNet8x

__all__ = [
    "DSVT",
    "AttentionPool3d",
    "FlatFormer",
    "ScatterFormer",
    "SparseResNet8x",
    "pooled_shape",
    "sinusoidal_position",
]
