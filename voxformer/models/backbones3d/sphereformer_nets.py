"""SphereFormer backbones: the sparse-convolution U-Net and ResNet-8x with SphereFormer blocks between their levels.

- :class:`SphereFormerUNet` (segmentation, SphereFormer's ``unet_spherical_transformer``): :class:`SparseUNet` with
  one :class:`SphereFormerBlock` after each encoder level's residual blocks, before its downsampling; the decoder
  has none.
- :class:`SphereFormerResNet8x` (detection, SphereFormer's ``VoxelResBackBone8xSphereFormer``):
  :class:`SparseResNet8x` with a block after the chosen stages (published: the stride-2 and stride-4 ones).

Each level's voxels carry a sensor-frame ``xyz``: the input voxels' (the voxel encoder's point means), then per
strided convolution the mean of the xyz of the input voxels in each output voxel's kernel window
(:func:`pool_xyz`, the official ``get_downsample_info``). ``sphere_blocks`` lists one entry per level / stage:
None for no block, else ``dict(cubic_window=[wx, wy, wz] m, radial_window=[dtheta deg, dbeta deg, dr m],
drop_path=p)``; heads = channels / ``head_dim``. Block parameters live under ``transformer_blocks`` (the name
the optimizer's ``paramwise_cfg`` keys on for SphereFormer's 0.1x learning rate).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

from .sparse_resnet import SparseResNet8x
from .sparse_unet import SparseUNet
from .sphereformer import SphereFormerBlock, pool_xyz, require_xyz

_BLOCK_KEYS = {"cubic_window", "radial_window", "drop_path"}


def _triple(value) -> tuple[int, int, int]:
    return tuple(int(v) for v in value) if isinstance(value, Sequence) else (int(value),) * 3


class _SphereLevels:
    """The blocks of ``sphere_blocks`` and the per-level xyz trail (mixed into the two backbones); the base
    backbone takes ``in_channels``, ``sparse_shape``, ``channels`` and ``base`` (its own options)."""

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        sphere_blocks: Sequence[dict | None],
        channels: Sequence[int],
        head_dim: int = 16,
        quant_bins: int = 24,
        range_unit: float = 0.0125,
        cubic_origin: Sequence[float] | None = None,
        mlp_ratio: float = 4.0,
        attention_backend: str | None = None,
        **base,
    ):
        super().__init__(in_channels, sparse_shape, channels=channels, **base)
        self._build_sphere_blocks(
            channels, sphere_blocks, head_dim, quant_bins=quant_bins, range_unit=range_unit,
            cubic_origin=cubic_origin, mlp_ratio=mlp_ratio, backend=attention_backend,
        )

    def _build_sphere_blocks(self, channels: Sequence[int], sphere_blocks, head_dim: int, **common) -> None:
        if len(sphere_blocks) != len(channels):
            raise ConfigError(
                f"backbone3d.sphere_blocks: one entry (dict or None) per level, {len(channels)} levels, "
                f"got {len(sphere_blocks)}"
            )
        blocks = {}
        for level, (width, entry) in enumerate(zip(channels, sphere_blocks)):
            if entry is None:
                continue
            if not isinstance(entry, dict) or not {"cubic_window", "radial_window"} <= set(entry) <= _BLOCK_KEYS:
                raise ConfigError(
                    f"backbone3d.sphere_blocks[{level}]: expected dict with {sorted(_BLOCK_KEYS)} "
                    f"(drop_path optional), got {entry!r}"
                )
            if width % head_dim:
                raise ConfigError(f"backbone3d.head_dim {head_dim} does not divide level {level}'s {width} channels")
            blocks[str(level)] = SphereFormerBlock(width, width // head_dim, **entry, **common)
        self.transformer_blocks = nn.ModuleDict(blocks)
        self._last_sphere_level = max((int(k) for k in blocks), default=-1)

    def _sphere_context(self, voxels: SparseVoxels) -> dict | None:
        if not len(self.transformer_blocks):
            return None
        return {"coords": voxels.coords, "xyz": require_xyz(voxels)}

    def _sphere_step(self, level: int, x, trail: dict | None, conv=None):
        """Attend on level ``level``'s spconv tensor ``x``; ``conv`` made its voxels from the previous level's
        (None: the same voxels)."""
        if trail is None or level > self._last_sphere_level:
            return x
        if conv is not None:
            trail["xyz"] = pool_xyz(
                trail["xyz"], trail["coords"], x.indices, x.spatial_shape,
                _triple(conv.kernel_size), _triple(conv.stride), _triple(conv.padding),
            )
            trail["coords"] = x.indices
        block = self.transformer_blocks[str(level)] if str(level) in self.transformer_blocks else None
        if block is None:
            return x
        voxels = SparseVoxels(x.features, x.indices, x.spatial_shape, x.batch_size, xyz=trail["xyz"])
        return x.replace_feature(block(voxels).features)


@MODELS.register_module()
class SphereFormerUNet(_SphereLevels, SparseUNet):
    """:class:`SparseUNet` (same arguments) with SphereFormer blocks after the encoder levels.

    Args:
        sphere_blocks: per level, None or ``dict(cubic_window, radial_window, drop_path)`` (module docstring).
        head_dim: channels per head (SphereFormer: 16, so heads = C / 16).
        quant_bins, range_unit, cubic_origin, mlp_ratio, attention_backend: the blocks' (:class:`SphereFormerBlock`).
    """

    def __init__(self, in_channels: int, sparse_shape: Sequence[int], sphere_blocks: Sequence[dict | None],
                 channels: Sequence[int] = (32, 64, 128, 256, 256), **options):
        super().__init__(in_channels, sparse_shape, sphere_blocks, channels, **options)

    def encoder_context(self, voxels: SparseVoxels):
        return self._sphere_context(voxels)

    def after_encoder_level(self, level: int, x, context):
        return self._sphere_step(level, x, context, self.down[level - 1].conv if level else None)


@MODELS.register_module()
class SphereFormerResNet8x(_SphereLevels, SparseResNet8x):
    """:class:`SparseResNet8x` (same arguments) with SphereFormer blocks after the chosen stages.

    Args:
        sphere_blocks: per stage (4), None or ``dict(cubic_window, radial_window, drop_path)``; published:
            blocks after stages 1 and 2 (strides 2 and 4).
        head_dim, quant_bins, range_unit, cubic_origin, mlp_ratio, attention_backend: as :class:`SphereFormerUNet`.
    """

    def __init__(self, in_channels: int, sparse_shape: Sequence[int], sphere_blocks: Sequence[dict | None],
                 channels: Sequence[int] = (16, 32, 64, 128), **options):
        super().__init__(in_channels, sparse_shape, sphere_blocks, channels, **options)

    def stage_context(self, voxels: SparseVoxels):
        return self._sphere_context(voxels)

    def after_stage(self, index: int, x, context):
        return self._sphere_step(index, x, context, self.stages[index][0][0] if index else None)
