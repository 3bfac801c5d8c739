"""Space-filling-curve order of voxels: Z-order (Morton) and Hilbert codes with the batch in the high bits.

With ``bits`` per axis, the spatial code has 3 * bits bits: at level l (0 = least significant) bit
3l + 2 comes from z, 3l + 1 from y and 3l from x (for Hilbert, from Skilling's transposed axes in the
same roles). The code is ``(batch << 3 * bits) | spatial``, so samples never interleave. ``bits``
defaults to the bit length of the largest coordinate; up to 21 bits per axis (2^21 cells) fit, as
long as 3 * bits plus the bits of the largest batch index stay within 63.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MAX_CODE_BITS = 63
MAX_AXIS_BITS = 21
CURVES = ("z", "hilbert")


@dataclass
class Serialization:
    """``codes`` (M,) int64; ``order`` (M,) sorts voxels by code; ``inverse`` (M,) undoes it."""

    codes: torch.Tensor
    order: torch.Tensor
    inverse: torch.Tensor


def _spread_bits(v: torch.Tensor) -> torch.Tensor:
    """Move bit i of ``v`` (< 2^21) to bit 3i."""
    v = v & 0x1FFFFF
    v = (v | (v << 32)) & 0x1F00000000FFFF
    v = (v | (v << 16)) & 0x1F0000FF0000FF
    v = (v | (v << 8)) & 0x100F00F00F00F00F
    v = (v | (v << 4)) & 0x10C30C30C30C30C3
    return (v | (v << 2)) & 0x1249249249249249


def _interleave(z: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (_spread_bits(z) << 2) | (_spread_bits(y) << 1) | _spread_bits(x)


def _hilbert_axes(axes: list[torch.Tensor], bits: int) -> list[torch.Tensor]:
    """Skilling's transform (AIP Conf. Proc. 707, 2004): coordinates -> the 'transposed' Hilbert index,
    whose bits interleaved (axis 0 most significant) give the distance along the curve."""
    x = list(axes)
    q = 1 << (bits - 1)
    while q > 1:  # undo excess work, from the top bit plane down
        low = q - 1
        for i in range(3):
            high = (x[i] & q) != 0
            swap = torch.where(high, 0, (x[0] ^ x[i]) & low)
            x[0] = torch.where(high, x[0] ^ low, x[0] ^ swap)
            x[i] = x[i] ^ swap
        q >>= 1
    for i in range(1, 3):  # Gray encode
        x[i] = x[i] ^ x[i - 1]
    flip = torch.zeros_like(x[0])
    q = 1 << (bits - 1)
    while q > 1:
        flip = torch.where((x[2] & q) != 0, flip ^ (q - 1), flip)
        q >>= 1
    return [a ^ flip for a in x]


def _check_and_size(coords: torch.Tensor, bits: int | None) -> tuple[int, int]:
    """Bits per axis and bits of the batch index, checked against the coordinates and 63 bits."""
    minimum, max_batch, max_coord = torch.stack([coords.min(), coords[:, 0].max(), coords[:, 1:].max()]).tolist()
    if minimum < 0:
        raise ValueError(f"coords: batch and (z, y, x) must be non-negative, found {minimum}")
    needed = max(1, int(max_coord).bit_length())
    if bits is None:
        bits = needed
    elif not 1 <= bits <= MAX_AXIS_BITS or bits < needed:
        raise ValueError(f"bits={bits}: coordinates up to {max_coord} need {needed} bits (at most {MAX_AXIS_BITS})")
    if needed > MAX_AXIS_BITS:
        raise ValueError(f"coords: coordinate {max_coord} needs {needed} bits per axis; at most {MAX_AXIS_BITS} fit")
    batch_bits = int(max_batch).bit_length()
    if 3 * bits + batch_bits > MAX_CODE_BITS:
        raise ValueError(
            f"serialize: batch index {max_batch} needs {batch_bits} bits on top of 3 x {bits} spatial bits; "
            f"{3 * bits + batch_bits} > {MAX_CODE_BITS} bits of int64 (use fewer samples per batch or a coarser grid)"
        )
    return bits, batch_bits


def serialize(coords: torch.Tensor, curve: str = "z", bits: int | None = None) -> Serialization:
    """Codes, order and inverse of voxels ``coords`` (M, 4) (b, z, y, x) along ``curve`` ("z" or "hilbert")."""
    if coords.dim() != 2 or coords.shape[1] != 4 or coords.is_floating_point():
        raise ValueError(f"coords: expected an integer (M, 4) (b, z, y, x) tensor, got {tuple(coords.shape)}")
    if curve not in CURVES:
        raise ValueError(f"curve: expected one of {CURVES}, got {curve!r}")
    c = coords.long()
    if len(c) == 0:
        empty = c.new_zeros(0)
        return Serialization(empty, empty.clone(), empty.clone())
    bits, _ = _check_and_size(c, bits)
    axes = [c[:, 1], c[:, 2], c[:, 3]]
    if curve == "hilbert":
        axes = _hilbert_axes(axes, bits)
    codes = (c[:, 0] << (3 * bits)) | _interleave(*axes)
    order = torch.sort(codes, stable=True).indices
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    return Serialization(codes, order, inverse)
