"""Point clouds for benchmarks: a real KITTI scan when ``../shared/data/real`` is present beside
the project, else a generated 360° scan with a real sensor's ring structure.

Needs only torch and numpy (no Open3D), so benchmarks run on bare GPU machines.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

REAL_KITTI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "kitti" / "training" / "velodyne"


def ring_scan(
    beams: int = 64,
    azimuth_steps: int = 2000,
    elevation_deg: tuple[float, float] = (2.0, -24.9),
    mount_height: float = 1.73,
    max_range: float = 80.0,
    num_obstacles: int = 150,
    extent: float = 75.0,
    seed: int = 0,
) -> torch.Tensor:
    """(N, 4) float32 points (x, y, z, intensity) of a spinning LiDAR over flat ground with
    vertical cylinders (poles, trunks, bodies) ray-cast analytically. About 110k points by default."""
    rng = np.random.default_rng(seed)
    elevation = np.deg2rad(np.linspace(elevation_deg[0], elevation_deg[1], beams))
    azimuth = np.linspace(-math.pi, math.pi, azimuth_steps, endpoint=False)
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")
    direction = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1).reshape(-1, 3)
    hit = np.full(len(direction), np.inf)
    down = direction[:, 2] < 0
    hit[down] = mount_height / -direction[down, 2]  # ground plane z = -mount_height in the sensor frame

    centres = rng.uniform(-extent, extent, size=(num_obstacles, 2))
    centres = centres[np.linalg.norm(centres, axis=1) > 4.0]
    radii = rng.uniform(0.2, 2.0, size=len(centres))
    heights = rng.uniform(1.0, 6.0, size=len(centres))
    horizontal = direction[:, :2]
    speed_sq = np.maximum((horizontal**2).sum(1), 1e-12)
    for centre, radius, height in zip(centres, radii, heights):
        # |t * d_xy - c|^2 = r^2 for the nearest positive t
        b = horizontal @ centre
        disc = b**2 - speed_sq * (centre @ centre - radius**2)
        ok = disc > 0
        t = np.where(ok, (b - np.sqrt(np.where(ok, disc, 0))) / speed_sq, np.inf)
        z = t * direction[:, 2]
        ok &= (t > 0) & (z > -mount_height) & (z < height - mount_height)
        hit = np.where(ok & (t < hit), t, hit)
    keep = hit < max_range
    ranges = hit[keep] + rng.normal(0, 0.02, size=keep.sum())
    xyz = direction[keep] * ranges[:, None]
    xyz[:, 2] += mount_height - 1.73  # report in a frame with the sensor at z = 0, like KITTI
    intensity = np.clip(rng.uniform(0.05, 0.6, size=len(xyz)) * np.exp(-ranges / 60.0), 0, 1)
    return torch.from_numpy(np.concatenate([xyz, intensity[:, None]], 1).astype(np.float32))


def benchmark_scan(seed: int = 0) -> tuple[torch.Tensor, str]:
    """One 110k-130k-point 360° scan and where it came from."""
    path = REAL_KITTI / "000000.bin"
    if path.is_file():
        points = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 4).copy())
        return points, f"KITTI {path.name}"
    return ring_scan(seed=seed), "generated HDL-64E-like scan"


def waymo_size_scan(num_points: int = 180_000, seed: int = 0) -> torch.Tensor:
    """A Waymo-size frame: ``num_points`` points over +-75 m (generated, Waymo TOP beam range)."""
    scan = ring_scan(
        beams=64, azimuth_steps=2650, elevation_deg=(2.4, -17.6), mount_height=2.18, extent=75.0, seed=seed
    )
    if len(scan) >= num_points:
        return scan[:num_points]
    repeats = -(-num_points // len(scan))
    jitter = torch.randn(len(scan) * repeats, 4, generator=torch.Generator().manual_seed(seed)) * 0.05
    return (scan.repeat(repeats, 1) + jitter)[:num_points]
