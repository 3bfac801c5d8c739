"""How close synthetic scans come to real ones: the distribution of point intensity, overall and by range.

Points are (N, 4+) rows x, y, z, intensity in [0, 1] (KITTI reflectance; nuScenes 0-255 divided by
255). Range is the 3D distance from the sensor; points nearer than ``min_range`` (1 m, where the
synthetic sensor returns nothing and real scans hold returns off the ego vehicle) are left out.
Intensities are binned on [0, 1] in ``bins`` equal bins; between two histograms ``p`` and ``q``:

- Wasserstein-1 (earth mover's) distance: sum over bins of |CDF_p - CDF_q| x bin width, in intensity
  units (0 equal, 1 all mass at opposite ends);
- total-variation distance: half the sum of |p - q|, in [0, 1] (0 equal, 1 disjoint).
"""

from __future__ import annotations

import numpy as np

RANGE_EDGES = (1.0, 10.0, 20.0, 40.0, float("inf"))  # m
BINS = 100


def histogram(intensity: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(bins,) share of the intensities in each equal bin of [0, 1] (values outside are clipped)."""
    intensity = np.clip(np.asarray(intensity, np.float64).reshape(-1), 0.0, 1.0)
    counts = np.bincount(np.minimum((intensity * bins).astype(np.int64), bins - 1), minlength=bins)
    return counts / max(counts.sum(), 1)


def distances(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """Wasserstein-1 and total-variation distance of two histograms over equal bins of [0, 1]."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    return {
        "wasserstein1": float(np.abs(np.cumsum(p) - np.cumsum(q)).sum() / len(p)),
        "total_variation": float(0.5 * np.abs(p - q).sum()),
    }


def _pooled(clouds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(range, intensity) of every point of ``clouds``."""
    points = (
        np.concatenate([np.asarray(c, np.float64)[:, :4].reshape(-1, 4) for c in clouds])
        if clouds
        else np.zeros((0, 4))
    )
    return np.linalg.norm(points[:, :3], axis=1), points[:, 3]


def compare(synthetic: list[np.ndarray], real: list[np.ndarray], edges=RANGE_EDGES, bins: int = BINS) -> dict:
    """Intensity statistics of the pooled ``synthetic`` and ``real`` clouds: per group ("all" and one per
    range bin ``[edges[i], edges[i+1])``) the share of points, mean intensity and the two distances
    (NaN distances for a group empty on either side)."""
    groups = {"all": (edges[0], edges[-1])} | {
        f"{low:g}-{high:g} m": (low, high) for low, high in zip(edges[:-1], edges[1:])
    }
    sides = {"synthetic": _pooled(synthetic), "real": _pooled(real)}
    kept = {name: (distance >= edges[0]) & (distance < edges[-1]) for name, (distance, _) in sides.items()}
    result = {}
    for group, (low, high) in groups.items():
        row, hists = {}, {}
        for name, (distance, intensity) in sides.items():
            inside = (distance >= low) & (distance < high)
            row[f"{name}_share"] = float(inside.sum() / max(kept[name].sum(), 1))
            row[f"{name}_mean"] = float(intensity[inside].mean()) if inside.any() else float("nan")
            hists[name] = histogram(intensity[inside], bins) if inside.any() else None
        if hists["synthetic"] is None or hists["real"] is None:
            row.update(wasserstein1=float("nan"), total_variation=float("nan"))
        else:
            row.update(distances(hists["synthetic"], hists["real"]))
        result[group] = row
    return result


def format_comparison(result: dict) -> str:
    """One line per group of :func:`compare`."""
    header = f"{'range':<12}{'share syn':>10}{'share real':>11}{'mean syn':>10}{'mean real':>10}{'W1':>8}{'TV':>7}"
    lines = [header]
    for group, row in result.items():
        lines.append(
            f"{group:<12}{row['synthetic_share']:>10.3f}{row['real_share']:>11.3f}{row['synthetic_mean']:>10.3f}"
            f"{row['real_mean']:>10.3f}{row['wasserstein1']:>8.3f}{row['total_variation']:>7.3f}"
        )
    return "\n".join(lines)
