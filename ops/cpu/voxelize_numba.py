"""Numba CPU kernels for :func:`voxformer.ops.voxelize`.

Points of all samples arrive concatenated as one (N, C) array with ``starts`` (B + 1,) marking the
samples. Each kept point gets a linear cell key ((b * Z + z) * Y + y) * X + x; a stable LSD radix
sort of the keys groups the points by voxel in (b, z, y, x) order with input order inside a voxel,
so no hash table and no comparison sort is needed. Cell arithmetic is float64, as in the reference.
"""

from __future__ import annotations

import numba as nb
import numpy as np

RADIX_MAX_BITS = 16  # largest radix digit; 2^16 counters stay in L2


@nb.njit(cache=True)
def _cell_keys(points, starts, lower, upper, size, shape_xyz):
    """(N,) int64 cell key of each point, -1 when dropped, and the number of non-finite points."""
    n, channels = points.shape
    keys = np.full(n, -1, np.int64)
    nonfinite = 0
    for b in range(len(starts) - 1):
        for i in range(starts[b], starts[b + 1]):
            finite = True
            for c in range(channels):
                if not np.isfinite(points[i, c]):
                    finite = False
            if not finite:
                nonfinite += 1
                continue
            key = np.int64(b)
            for axis in range(2, -1, -1):  # z, then y, then x (x varies fastest)
                p = np.float64(points[i, axis])
                if p < lower[axis] or p >= upper[axis]:
                    key = -1
                    break
                cell = np.int64(np.floor((p - lower[axis]) / size[axis]))
                if cell >= shape_xyz[axis]:
                    key = -1
                    break
                key = key * shape_xyz[axis] + cell
            keys[i] = key
    return keys, nonfinite


@nb.njit(cache=True)
def _radix_sort(keys):
    """Kept point indices (key >= 0) and their keys, sorted by key; stable, so input order within a key."""
    count = 0
    max_key = 0
    for key in keys:
        if key >= 0:
            count += 1
            max_key = max(max_key, key)
    index = np.empty(count, np.int64)
    sorted_keys = np.empty(count, np.int64)
    j = 0
    for i in range(len(keys)):
        if keys[i] >= 0:
            index[j] = i
            sorted_keys[j] = keys[i]
            j += 1
    bits = 1
    while (max_key >> bits) > 0:
        bits += 1
    passes = (bits + RADIX_MAX_BITS - 1) // RADIX_MAX_BITS
    digit_bits = (bits + passes - 1) // passes
    mask = (1 << digit_bits) - 1
    index_out = np.empty_like(index)
    keys_out = np.empty_like(sorted_keys)
    for p in range(passes):
        shift = p * digit_bits
        bucket_start = np.zeros(mask + 2, np.int64)
        for key in sorted_keys:
            bucket_start[((key >> shift) & mask) + 1] += 1
        for d in range(1, mask + 2):
            bucket_start[d] += bucket_start[d - 1]
        for j in range(count):
            d = (sorted_keys[j] >> shift) & mask
            position = bucket_start[d]
            bucket_start[d] = position + 1
            keys_out[position] = sorted_keys[j]
            index_out[position] = index[j]
        sorted_keys, keys_out = keys_out, sorted_keys
        index, index_out = index_out, index
    return sorted_keys, index


@nb.njit(cache=True)
def _runs(sorted_keys):
    """(M + 1,) start of each run of equal keys in ``sorted_keys``, with the total at the end."""
    starts = np.empty(len(sorted_keys) + 1, np.int64)
    m = 0
    for j in range(len(sorted_keys)):
        if j == 0 or sorted_keys[j] != sorted_keys[j - 1]:
            starts[m] = j
            m += 1
    starts[m] = len(sorted_keys)
    return starts[: m + 1].copy()


@nb.njit(cache=True)
def _decode(key, shape_xyz, out):
    """Write (b, z, y, x) of a linear cell key into ``out`` (4,) int32."""
    out[3] = key % shape_xyz[0]
    key //= shape_xyz[0]
    out[2] = key % shape_xyz[1]
    key //= shape_xyz[1]
    out[1] = key % shape_xyz[2]
    out[0] = key // shape_xyz[2]


@nb.njit(cache=True)
def dynamic_voxelize(points, starts, lower, upper, size, shape_xyz):
    """Dynamic voxelization: coords (M, 4) int32 sorted by (b, z, y, x), point_to_voxel (N,) int64 (-1 =
    dropped), num_points (M,) int32 and the number of non-finite points."""
    keys, nonfinite = _cell_keys(points, starts, lower, upper, size, shape_xyz)
    sorted_keys, index = _radix_sort(keys)
    run_starts = _runs(sorted_keys)
    m = len(run_starts) - 1
    coords = np.empty((m, 4), np.int32)
    num_points = np.empty(m, np.int32)
    point_to_voxel = np.full(len(points), -1, np.int64)
    for v in range(m):
        _decode(sorted_keys[run_starts[v]], shape_xyz, coords[v])
        num_points[v] = run_starts[v + 1] - run_starts[v]
        for j in range(run_starts[v], run_starts[v + 1]):
            point_to_voxel[index[j]] = v
    return coords, point_to_voxel, num_points, nonfinite


@nb.njit(cache=True)
def hard_voxelize(points, starts, lower, upper, size, shape_xyz, max_points, max_voxels):
    """Hard voxelization, first come first served in input order: a sample keeps the ``max_voxels``
    voxels whose first point comes earliest (all when ``max_voxels`` < 0) and each voxel its first
    ``max_points`` points. Returns voxels (M, max_points, C) zero-padded, coords (M, 4) int32 sorted by
    (b, z, y, x), num_points (M,) int32 and the number of non-finite points."""
    n, channels = points.shape
    keys, nonfinite = _cell_keys(points, starts, lower, upper, size, shape_xyz)
    sorted_keys, index = _radix_sort(keys)
    run_starts = _runs(sorted_keys)
    m = len(run_starts) - 1
    keep = np.ones(m, np.bool_)
    if max_voxels >= 0:
        voxel_of_first_point = np.full(n, -1, np.int64)
        for v in range(m):
            voxel_of_first_point[index[run_starts[v]]] = v
        for b in range(len(starts) - 1):
            seen = 0
            for i in range(starts[b], starts[b + 1]):
                v = voxel_of_first_point[i]
                if v >= 0:
                    keep[v] = seen < max_voxels
                    seen += 1
    m_kept = 0
    for v in range(m):
        if keep[v]:
            m_kept += 1
    voxels = np.zeros((m_kept, max_points, channels), points.dtype)
    coords = np.empty((m_kept, 4), np.int32)
    num_points = np.empty(m_kept, np.int32)
    out = 0
    for v in range(m):
        if not keep[v]:
            continue
        count = min(run_starts[v + 1] - run_starts[v], max_points)
        _decode(sorted_keys[run_starts[v]], shape_xyz, coords[out])
        num_points[out] = count
        for slot in range(count):
            voxels[out, slot, :] = points[index[run_starts[v] + slot], :]
        out += 1
    return voxels, coords, num_points, nonfinite
