"""Window partitions of sparse voxels: (shifted) windows, DSVT rotated sets, FlatFormer groups.

Conventions: ``coords`` (M, 4) int32/int64 = (batch, z, y, x); ``sparse_shape`` (Z, Y, X);
``window_shape`` (wz, wy, wx); ``shift`` (sz, sy, sx) with 0 <= s < w. Shifted coordinates are
c + s; a voxel lies in window (c + s) // w at position (c + s) % w inside it. An axis has ceil(S / w)
windows, plus one when its shift is non-zero (the extra window absorbs the shift)::

    x      0  1  2  3  4  5  6  7       window of each cell, grid X = 8, window wx = 4
    s = 0  0  0  0  0  1  1  1  1       2 windows: x // 4
    s = 2  0  0  1  1  1  1  2  2       3 windows: (x + 2) // 4

Every output is computed from sorts (stable, so deterministic) and prefix sums: no atomics, no Python
loop over windows or samples, and one device-to-host sync per call to size the outputs (two for
:func:`flat_groups` without ``batch_size``, none for :func:`dsvt_sets` given ``num_sets`` and
:func:`flat_groups` given ``num_groups``).

Caching: :class:`voxformer.structures.SparseVoxels` computes each of these once per set of voxels and
arguments (``voxels.windows(window_shape, shift)``, ``voxels.dsvt_sets(window_shape, shift, set_size,
axis)``, ``voxels.flat_groups(window_shape, group_size, axis, shifted)``), with its own coordinates,
``sparse_shape`` and ``batch_size``.

Each op has a ``reference`` backend (clear PyTorch, the definition of correct) and a ``torch``
backend (one packed-key sort, int32 keys when they fit; the default on CPU and CUDA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from .backends import Backend, select
from .grid import encode_voxel_keys

INT32_LIMIT = 2**31
INT64_LIMIT = 2**63
AXES = ("x", "y")
IN_WINDOW_ORDERS = ("snake", "mirrored")  # FlatFormer in-window orders (see flat_groups)
GROUP_PADDINGS = ("repeat", "overlap")  # FlatFormer last-group rules (see flat_groups)


class WindowPartition(NamedTuple):
    """Voxels grouped by window, for M voxels in S non-empty windows.

    - ``window_id`` (M,) int64: flat id ``((b * Nz + wz) * Ny + wy) * Nx + wx`` with (Nz, Ny, Nx)
      windows per axis, so ids grow with (batch, window z, window y, window x).
    - ``segment`` (M,) int64: the voxel's window among the non-empty ones, 0..S-1 in window-id order.
    - ``order`` (M,) int64: permutation sorting the voxels by (batch, window, in-window z, y, x).
    - ``inverse`` (M,) int64: ``inverse[order] = arange(M)``.
    - ``offsets`` (S+1,) int64: CSR over the sorted order; window s holds ``order[offsets[s]:offsets[s+1]]``.
    - ``in_window`` (M, 3) int64: (z, y, x) position inside the window, each in [0, w).
    - ``num_windows``: S, the number of non-empty windows.
    - ``window_shape``: (wz, wy, wx) the partition was built with.
    """

    window_id: torch.Tensor
    segment: torch.Tensor
    order: torch.Tensor
    inverse: torch.Tensor
    offsets: torch.Tensor
    in_window: torch.Tensor
    num_windows: int
    window_shape: tuple[int, int, int]


class SetPartition(NamedTuple):
    """DSVT sets of size tau: ``index`` (num_sets, tau) int64 voxel rows; ``mask`` (num_sets, tau) bool,
    True where a slot repeats the previous slot of its set (a key-padding mask); ``set_window``
    (num_sets,) int64 window segment of each set. Sets of a window are consecutive."""

    index: torch.Tensor
    mask: torch.Tensor
    set_window: torch.Tensor


class FlatGroups(NamedTuple):
    """FlatFormer groups of size G: ``index`` (num_groups, G) int64 voxel rows; ``mask`` (num_groups, G)
    bool, True = repeated filler; ``order`` (M,) int64 flattening permutation; ``inverse`` (M,) int64.
    Groups of a sample are consecutive and follow the flattening order; a voxel's own group is the first
    one holding it (with ``padding="overlap"`` a voxel may also sit, unmasked, in the next group)."""

    index: torch.Tensor
    mask: torch.Tensor
    order: torch.Tensor
    inverse: torch.Tensor


# ----------------------------------------------------------------------------------------------
# Validation and shared geometry


def _triple(name: str, value: Sequence[int], minimum: int) -> tuple[int, int, int]:
    values = tuple(int(v) for v in value)
    if len(values) != 3 or any(v < minimum for v in values):
        raise ValueError(f"{name}: expected 3 integers (z, y, x) >= {minimum}, got {list(value)}")
    return values


def _check_coords(coords: torch.Tensor) -> None:
    if coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(f"coords: expected (M, 4) (batch, z, y, x), got {tuple(coords.shape)}")
    if coords.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"coords: expected int32 or int64, got {coords.dtype}")


def _check_shift(shift: tuple[int, int, int], window_shape: tuple[int, int, int]) -> None:
    if any(s >= w for s, w in zip(shift, window_shape)):
        raise ValueError(f"shift {list(shift)} must be smaller than window_shape {list(window_shape)} on every axis")


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None and batch_size < 0:
        raise ValueError(f"batch_size must be >= 0, got {batch_size}")


def _bounds(coords: torch.Tensor) -> torch.Tensor:
    """(8,) int64: per-column minimum then maximum of non-empty ``coords``."""
    return torch.cat(torch.aminmax(coords, dim=0)).long()


def _check_bounds(bounds: list[int], sparse_shape: Sequence[int], batch_size: int | None) -> None:
    """Raise ``ValueError`` naming the column when a coordinate lies outside the grid."""
    lows, highs = bounds[:4], bounds[4:]
    limits = (INT32_LIMIT if batch_size is None else batch_size, *sparse_shape)
    for column, low, high, limit in zip(("batch", "z", "y", "x"), lows, highs, limits):
        if low < 0 or high >= limit:
            what = "batch_size" if column == "batch" else "sparse_shape"
            raise ValueError(f"coords: {column} values span [{low}, {high}], outside [0, {limit}) given by {what}")


def _window_grid(sparse_shape, window_shape, shift) -> tuple[int, int, int]:
    """Windows per axis: ceil(S / w), plus one where the shift is non-zero."""
    return tuple(-(-s // w) + (1 if sh else 0) for s, w, sh in zip(sparse_shape, window_shape, shift))


def _check_key_range(per_sample: int, batch_size: int | None) -> None:
    """The packed keys are per_sample * batch + (< per_sample); make sure they fit in int64."""
    batches = INT32_LIMIT if batch_size is None else max(batch_size, 1)
    if per_sample * batches >= INT64_LIMIT:
        hint = "" if batch_size is not None else "; pass batch_size"
        raise ValueError(
            f"grid too large: {per_sample} window slots per sample x {batches} samples overflow int64{hint}"
        )


def _window_coords(coords: torch.Tensor, window_shape, shift) -> tuple[torch.Tensor, list, list]:
    """(batch (M,), [window z, y, x], [in-window z, y, x]): int64 (M,) tensors, one per axis."""
    c = coords.long()
    windows, inners = [], []
    for axis, (w, s) in enumerate(zip(window_shape, shift)):
        shifted = c[:, axis + 1] + s
        if w == 1:  # one cell per window (pillar z): no division needed
            windows.append(shifted)
            inners.append(torch.zeros_like(shifted))
            continue
        window = shifted // w
        windows.append(window)
        inners.append(shifted - window * w)
    return c[:, 0], windows, inners


def _chunk_counts(counts: torch.Tensor, size: int) -> torch.Tensor:
    """Chunks of ``size`` needed by runs of ``counts`` (R,) items: ceil(n / size) each."""
    return (counts + size - 1) // size


def _chunks(chunk_counts: torch.Tensor, total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For ``total`` = sum(``chunk_counts``) chunks laid out run after run: (run of each chunk,
    index of the chunk inside its run), both (total,) int64."""
    device = chunk_counts.device
    run = torch.repeat_interleave(torch.arange(len(chunk_counts), device=device), chunk_counts, output_size=total)
    first_chunk = torch.cumsum(chunk_counts, 0) - chunk_counts
    return run, torch.arange(total, device=device) - first_chunk[run]


def _set_slot_ranks(
    counts: torch.Tensor, set_size: int, num_sets: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """For windows holding ``counts`` (S,) voxels: (set_window (num_sets,), rank (num_sets, tau)).

    A window with n voxels gets s = ceil(n / tau) sets; slot k of its set j takes rank
    floor((j * tau + k) * n / (s * tau)). Steps between slots are at most 1, so every rank appears,
    and a rank never spans two sets (the fractional part of j * n / s is at most (s - 1) / s < n / (s * tau)).
    ``num_sets``, when known, is the total (else read back: the one host sync, sizing the output).
    """
    sets = _chunk_counts(counts, set_size)
    set_window, local = _chunks(sets, int(sets.sum()) if num_sets is None else num_sets)
    slot = local[:, None] * set_size + torch.arange(set_size, device=counts.device)
    return set_window, slot * counts[set_window, None] // (sets[set_window, None] * set_size)


def _repeat_mask(rank: torch.Tensor) -> torch.Tensor:
    """True where a slot equals the previous slot of its row."""
    mask = torch.zeros_like(rank, dtype=torch.bool)
    mask[:, 1:] = rank[:, 1:] == rank[:, :-1]
    return mask


def _set_order_columns(axis: str) -> tuple[int, int, int]:
    """Columns of ``in_window`` (z, y, x) from most to least significant in a DSVT set order."""
    return (2, 1, 0) if axis == "x" else (1, 2, 0)


def _snake_digits(coords: torch.Tensor, sparse_shape, window_shape, axis: str, shifted: bool, in_window: str = "snake"):
    """FlatFormer flattening digits, most significant first, each with its radix.

    For ``axis="x"`` rows of windows run along x: windows in (window z, window y, window x) order
    with a boustrophedon on each level (a level reverses when the count of rows before it is odd), so
    consecutive windows touch. Inside a window columns run in the direction of the window row, and
    with ``in_window="snake"`` y alternates per visited column (the path continues from the previous
    column); with ``"mirrored"`` y alternates per column parity x % wx, so a window of an odd row is
    the exact reverse of the same window in an even row. z alternates per (column, y) step.
    ``axis="y"`` swaps the roles of x and y. ``shifted`` moves the windows by half a window,
    (wz // 2, wy // 2, wx // 2).
    """
    shift = tuple(w // 2 for w in window_shape) if shifted else (0, 0, 0)
    grid = _window_grid(sparse_shape, window_shape, shift)
    batch, window, inner = _window_coords(coords, window_shape, shift)
    row, col = (1, 2) if axis == "x" else (2, 1)  # (z, y, x) axes: rows stacked along `row`, run along `col`

    def snake(value, radix, parity):
        """``value`` in [0, radix), counted backwards where ``parity()`` is odd."""
        if radix == 1:
            return value  # a single cell: nothing to reverse (pillars skip the z digits this way)
        return torch.where((parity() & 1).bool(), radix - 1 - value, value)

    w_z = window[0]
    w_row = snake(window[row], grid[row], lambda: w_z)
    rows_before = w_z * grid[row] + w_row if grid[0] > 1 else w_row
    w_col = snake(window[col], grid[col], lambda: rows_before)
    i_col = snake(inner[col], window_shape[col], lambda: rows_before)
    if in_window == "mirrored":
        even_row = snake(inner[row], window_shape[row], lambda: inner[col])
        i_row = snake(even_row, window_shape[row], lambda: rows_before)
    else:
        i_row = snake(inner[row], window_shape[row], lambda: i_col)
    i_z = snake(inner[0], window_shape[0], lambda: i_col * window_shape[row] + i_row)
    digits = (batch, w_z, w_row, w_col, i_col, i_row, i_z)
    radices = (None, grid[0], grid[row], grid[col], window_shape[col], window_shape[row], window_shape[0])
    return digits, radices


def _pack(digits: Sequence[torch.Tensor], radices: Sequence[int | None]) -> torch.Tensor:
    """Mixed-radix packing of digits (most significant first; the first radix is unbounded)."""
    key = digits[0]
    for digit, radix in zip(digits[1:], radices[1:]):
        if radix > 1:  # a radix-1 digit is always 0
            key = key * radix + digit
    return key


def _lexsort(digits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Permutation sorting rows by ``digits`` (most significant first), by stable sorts from the last."""
    order = torch.arange(len(digits[0]), device=digits[0].device)
    for digit in reversed(digits):
        order = order[torch.sort(digit[order], stable=True).indices]
    return order


def _sort_packed(key: torch.Tensor, key_limit: int | None) -> torch.Tensor:
    """Stable argsort of non-negative int64 ``key``; sorts int32 when every key is below ``key_limit`` <= 2**31."""
    if key_limit is not None and key_limit <= INT32_LIMIT:
        key = key.int()
    return torch.sort(key, stable=True).indices


def _invert(order: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(order).scatter_(0, order, torch.arange(len(order), device=order.device))


def _run_starts(sorted_values: torch.Tensor) -> torch.Tensor:
    """(M,) bool: True where a sorted value differs from the previous one (and at 0)."""
    starts = torch.ones_like(sorted_values, dtype=torch.bool)
    starts[1:] = sorted_values[1:] != sorted_values[:-1]
    return starts


# ----------------------------------------------------------------------------------------------
# Reference backend: clear PyTorch, the definition of correct


def _window_partition_reference(coords, sparse_shape, window_shape, shift, batch_size) -> WindowPartition:
    _check_bounds(_bounds(coords).tolist(), sparse_shape, batch_size)
    grid = _window_grid(sparse_shape, window_shape, shift)
    batch, window, in_window = _window_coords(coords, window_shape, shift)
    window_id = encode_voxel_keys((batch, *window), grid)
    order = _lexsort([window_id, *in_window])
    _, segment, counts = torch.unique(window_id, return_inverse=True, return_counts=True)
    offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    in_window = torch.stack(in_window, 1)
    return WindowPartition(
        window_id, segment, order, torch.argsort(order), offsets, in_window, len(counts), window_shape
    )


def _check_count(name: str, hint: int | None, count: int) -> None:
    """The reference checks the size hints that the fast backends trust."""
    if hint is not None and hint != count:
        raise ValueError(f"{name}={hint} but the partition has {count}")


def _dsvt_sets_reference(partition: WindowPartition, set_size: int, axis: str, num_sets=None) -> SetPartition:
    in_window = partition.in_window
    order = _lexsort([partition.segment] + [in_window[:, column] for column in _set_order_columns(axis)])
    counts = partition.offsets[1:] - partition.offsets[:-1]
    index, rank, set_window = [], [], []
    for window in range(partition.num_windows):
        n = int(counts[window])
        sets = -(-n // set_size)
        slot = torch.arange(sets * set_size, device=order.device)
        window_rank = (slot * n // (sets * set_size)).view(sets, set_size)
        index.append(order[partition.offsets[window] + window_rank])
        rank.append(window_rank)
        set_window.append(torch.full((sets,), window, dtype=torch.long, device=order.device))
    _check_count("num_sets", num_sets, sum(len(w) for w in set_window))
    return SetPartition(torch.cat(index), _repeat_mask(torch.cat(rank)), torch.cat(set_window))


def _flat_groups_reference(
    coords,
    sparse_shape,
    window_shape,
    group_size,
    axis,
    shifted,
    batch_size,
    num_groups=None,
    in_window="snake",
    padding="repeat",
) -> FlatGroups:
    _check_bounds(_bounds(coords).tolist(), sparse_shape, batch_size)
    digits, _ = _snake_digits(coords, sparse_shape, window_shape, axis, shifted, in_window)
    order = _lexsort(digits)
    sorted_batch = coords[order, 0]
    index, mask = [], []
    slot = torch.arange(group_size, device=coords.device)
    for sample in torch.unique(sorted_batch).tolist():
        tokens = order[sorted_batch == sample]
        n = len(tokens)
        for start in range(0, n, group_size):
            position = start + slot
            if padding == "overlap" and n >= group_size:  # slot past the end takes the token G before it
                index.append(tokens[torch.where(position < n, position, position - group_size)])
                mask.append(torch.zeros_like(slot, dtype=torch.bool))
                continue
            real = tokens[start : start + group_size]
            index.append(real[slot % len(real)])
            mask.append(slot >= len(real))
    _check_count("num_groups", num_groups, len(index))
    return FlatGroups(torch.stack(index), torch.stack(mask), order, torch.argsort(order))


# ----------------------------------------------------------------------------------------------
# Torch backend: packed keys, one sort, prefix sums, one host sync


def _window_partition_torch(coords, sparse_shape, window_shape, shift, batch_size) -> WindowPartition:
    grid = _window_grid(sparse_shape, window_shape, shift)
    volume = window_shape[0] * window_shape[1] * window_shape[2]
    batch, window, in_window = _window_coords(coords, window_shape, shift)
    window_id = encode_voxel_keys((batch, *window), grid)
    key_limit = None if batch_size is None else batch_size * grid[0] * grid[1] * grid[2] * volume
    order = _sort_packed(encode_voxel_keys((window_id, *in_window), window_shape), key_limit)
    sorted_segment = torch.cumsum(_run_starts(window_id[order]), 0) - 1
    sizes = torch.cat([sorted_segment[-1:] + 1, _bounds(coords)]).tolist()  # the one host sync
    _check_bounds(sizes[1:], sparse_shape, batch_size)
    num_windows = sizes[0]
    offsets = torch.searchsorted(sorted_segment, torch.arange(num_windows + 1, device=coords.device))
    segment = torch.empty_like(sorted_segment).scatter_(0, order, sorted_segment)
    in_window = torch.stack(in_window, 1)
    return WindowPartition(window_id, segment, order, _invert(order), offsets, in_window, num_windows, window_shape)


def _dsvt_sets_torch(partition: WindowPartition, set_size: int, axis: str, num_sets=None) -> SetPartition:
    wz, wy, wx = partition.window_shape
    if axis == "y" and wz == 1:
        order = partition.order  # (z, y, x) order with one z is already y-major
    else:
        iz, iy, ix = partition.in_window.unbind(1)
        local = (ix * wy + iy) * wz + iz if axis == "x" else (iy * wx + ix) * wz + iz
        volume = wz * wy * wx
        order = _sort_packed(partition.segment * volume + local, partition.num_windows * volume)
    counts = partition.offsets[1:] - partition.offsets[:-1]
    set_window, rank = _set_slot_ranks(counts, set_size, num_sets)
    index = order[partition.offsets[set_window, None] + rank]
    return SetPartition(index, _repeat_mask(rank), set_window)


def _flat_groups_torch(
    coords,
    sparse_shape,
    window_shape,
    group_size,
    axis,
    shifted,
    batch_size,
    num_groups=None,
    in_window="snake",
    padding="repeat",
) -> FlatGroups:
    digits, radices = _snake_digits(coords, sparse_shape, window_shape, axis, shifted, in_window)
    if batch_size is None:  # an extra sync; callers that know the batch size pass it
        bounds = _bounds(coords).tolist()
        _check_bounds(bounds, sparse_shape, None)
        batch_size = bounds[4] + 1
    key_limit = batch_size * math.prod(radices[1:])
    order = _sort_packed(_pack(digits, radices), key_limit)
    device = coords.device
    sample_start = torch.searchsorted(coords[order, 0].long(), torch.arange(batch_size + 1, device=device))
    counts = sample_start[1:] - sample_start[:-1]
    groups = _chunk_counts(counts, group_size)
    if num_groups is None:
        sizes = torch.cat([groups.sum().view(1), _bounds(coords)]).tolist()  # the one host sync
        _check_bounds(sizes[1:], sparse_shape, batch_size)
        num_groups = sizes[0]
    group_sample, local = _chunks(groups, num_groups)
    first = sample_start[group_sample] + local * group_size
    real = torch.clamp(counts[group_sample] - local * group_size, max=group_size)
    slot = torch.arange(group_size, device=device)
    repeat = slot % real[:, None]
    mask = slot >= real[:, None]
    if padding == "overlap":  # in samples of at least G voxels a slot past the end takes the token G before it
        full = (counts[group_sample] >= group_size)[:, None]
        repeat = torch.where(full & mask, slot - group_size, repeat)
        mask = mask & ~full
    index = order[first[:, None] + repeat]
    return FlatGroups(index, mask, order, _invert(order))


# ----------------------------------------------------------------------------------------------
# Public ops

_WINDOW_BACKENDS = (Backend.vectorized(_window_partition_torch), Backend.reference(_window_partition_reference))
_SET_BACKENDS = (Backend.vectorized(_dsvt_sets_torch), Backend.reference(_dsvt_sets_reference))
_GROUP_BACKENDS = (Backend.vectorized(_flat_groups_torch), Backend.reference(_flat_groups_reference))


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise ValueError(f"axis: expected one of {AXES}, got {axis!r}")


def window_partition(
    coords: torch.Tensor,
    sparse_shape: Sequence[int],
    window_shape: Sequence[int],
    shift: Sequence[int] = (0, 0, 0),
    batch_size: int | None = None,
    *,
    backend: str | None = None,
) -> WindowPartition:
    """Group voxels ``coords`` (M, 4) by (shifted) window; see :class:`WindowPartition`.

    ``shift`` (sz, sy, sx) moves the windows: voxel c falls in window (c + s) // w. DSVT's hybrid
    windows on a pillar grid are ``window_shape=(1, 12, 12)`` and ``(1, 24, 24)`` with
    ``shift=(0, 6, 6)``. Coordinates outside ``sparse_shape`` (or batch >= ``batch_size``) raise
    ``ValueError``. Giving ``batch_size`` lets the sort use 32-bit keys when they fit.
    Cached by :meth:`voxformer.structures.SparseVoxels.windows`.
    """
    _check_coords(coords)
    sparse_shape = _triple("sparse_shape", sparse_shape, 1)
    window_shape = _triple("window_shape", window_shape, 1)
    shift = _triple("shift", shift, 0)
    _check_shift(shift, window_shape)
    _check_batch_size(batch_size)
    grid = _window_grid(sparse_shape, window_shape, shift)
    _check_key_range(grid[0] * grid[1] * grid[2] * window_shape[0] * window_shape[1] * window_shape[2], batch_size)
    if coords.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long, device=coords.device)
        in_window = torch.zeros(0, 3, dtype=torch.long, device=coords.device)
        return WindowPartition(empty, empty, empty, empty, empty.new_zeros(1), in_window, 0, window_shape)
    impl = select("window_partition", _WINDOW_BACKENDS, coords.device, backend)
    return impl(coords, sparse_shape, window_shape, shift, batch_size)


def dsvt_sets(
    partition: WindowPartition,
    coords: torch.Tensor,
    set_size: int,
    axis: str = "x",
    *,
    num_sets: int | None = None,
    backend: str | None = None,
) -> SetPartition:
    """DSVT rotated sets of ``set_size`` (tau) voxels inside each window of ``partition``.

    A window with n voxels gets s = ceil(n / tau) sets; slot k of set j holds the voxel of rank
    floor((j * tau + k) * n / (s * tau)) in the window's order, so every voxel appears in exactly one
    set and repeats (masked) sit right after their first slot. ``axis="x"`` orders x-major (then y,
    then z): a set is a strip elongated along y. ``axis="y"`` orders y-major (then x, then z): a strip
    along x. DSVT's layer 0 uses "y", layer 1 "x". ``coords`` are the voxels the partition was built from.
    ``num_sets``: the number of sets when already known (it does not depend on ``axis``), which saves
    the host sync that counts them; the fast backend trusts it, the reference checks it.
    Cached by :meth:`voxformer.structures.SparseVoxels.dsvt_sets`.
    """
    _check_coords(coords)
    _check_axis(axis)
    if coords.shape[0] != partition.order.shape[0]:
        raise ValueError(f"coords: {coords.shape[0]} voxels but the partition holds {partition.order.shape[0]}")
    if set_size < 1:
        raise ValueError(f"set_size must be >= 1, got {set_size}")
    if partition.num_windows == 0:
        empty = torch.zeros(0, set_size, dtype=torch.long, device=coords.device)
        return SetPartition(empty, empty.bool(), empty[:, 0])
    impl = select("dsvt_sets", _SET_BACKENDS, coords.device, backend)
    return impl(partition, set_size, axis, num_sets)


def flat_groups(
    coords: torch.Tensor,
    sparse_shape: Sequence[int],
    window_shape: Sequence[int],
    group_size: int,
    axis: str = "x",
    shifted: bool = False,
    batch_size: int | None = None,
    *,
    num_groups: int | None = None,
    in_window: str = "snake",
    padding: str = "repeat",
    backend: str | None = None,
) -> FlatGroups:
    """FlatFormer equal-size groups along a window-based snake order.

    The voxels of each sample are flattened in window order (see the order below), then cut into
    groups of ``group_size`` G consecutive voxels; a group never mixes samples. A sample's last group
    with r < G voxels is filled by ``padding``:

    - ``"repeat"``: it repeats its r voxels cyclically (slot k holds voxel k mod r), and ``mask`` marks
      the repeats; a repeat shares its group with the original, so both get identical outputs.
    - ``"overlap"`` (the released FlatFormer): slot k past the end holds the voxel G places before,
      unmasked, so the last group is the sample's last G voxels and the voxels it borrows from the
      group before keep that group's output (the first group holding a voxel is its own). A sample with
      fewer than G voxels, where there is no voxel G places before, falls back to ``"repeat"``.

    A sample with none gives no group.

    Order for ``axis="x"``: windows row by row along x, reversing on odd rows (a boustrophedon over
    window z, y, x); inside a window, columns in the row's direction; y alternates per visited column
    (``in_window="snake"``) or per column parity (``"mirrored"``, the released FlatFormer: the window
    order of an odd row is the exact reverse of the even rows' one), see :func:`_snake_digits`.
    ``axis="y"`` swaps x and y. ``shifted`` moves the windows by half a window (w // 2 per axis).
    Giving ``batch_size`` saves a host sync and lets the sort use 32-bit keys when they fit.
    ``num_groups``: the number of groups when already known (it depends on neither ``axis`` nor
    ``shifted``), which saves the host sync that counts them and checks the coordinate bounds (the call
    that counted them checked the same coordinates); the fast backend trusts it, the reference checks it.
    Cached by :meth:`voxformer.structures.SparseVoxels.flat_groups`.
    """
    _check_coords(coords)
    _check_axis(axis)
    if in_window not in IN_WINDOW_ORDERS:
        raise ValueError(f"in_window: expected one of {IN_WINDOW_ORDERS}, got {in_window!r}")
    if padding not in GROUP_PADDINGS:
        raise ValueError(f"padding: expected one of {GROUP_PADDINGS}, got {padding!r}")
    sparse_shape = _triple("sparse_shape", sparse_shape, 1)
    window_shape = _triple("window_shape", window_shape, 1)
    _check_batch_size(batch_size)
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    shift = tuple(w // 2 for w in window_shape) if shifted else (0, 0, 0)
    grid = _window_grid(sparse_shape, window_shape, shift)
    _check_key_range(grid[0] * grid[1] * grid[2] * window_shape[0] * window_shape[1] * window_shape[2], batch_size)
    if coords.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long, device=coords.device)
        no_groups = torch.zeros(0, group_size, dtype=torch.long, device=coords.device)
        return FlatGroups(no_groups, no_groups.bool(), empty, empty)
    impl = select("flat_groups", _GROUP_BACKENDS, coords.device, backend)
    return impl(
        coords, sparse_shape, window_shape, group_size, axis, shifted, batch_size, num_groups, in_window, padding
    )
