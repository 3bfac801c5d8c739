"""Spinning LiDAR beam patterns (docs/references.md §LiDAR sensors).

``hdl64``: Velodyne HDL-64E as on KITTI: 64 lasers from +2.0 deg to -24.9 deg, the upper block of
32 about 1/3 deg apart and the lower block of 32 about 1/2 deg apart, 2000 azimuth steps,
mounted 1.73 m above the ground. ``waymo``: Waymo TOP-like: 64 non-uniform beams from +2.4 deg to
-17.6 deg (denser near the horizon), 2650 azimuth steps, 2.18 m mount, range capped at 75 m.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Sensor:
    """Beam elevations (degrees, top to bottom), azimuth steps per turn, mount height above the
    ground (m), maximum range (m), Gaussian range noise (m), random drop probability."""

    name: str
    elevations_deg: tuple[float, ...]
    azimuth_steps: int
    mount_height: float
    max_range: float
    range_noise: float = 0.02
    drop_rate: float = 0.03
    min_range: float = 1.0

    @property
    def num_beams(self) -> int:
        return len(self.elevations_deg)

    @cached_property
    def directions(self) -> np.ndarray:
        """(num_beams, azimuth_steps, 3) float32 unit ray directions, azimuth from -pi upward."""
        elevation = np.deg2rad(np.asarray(self.elevations_deg))[:, None]
        azimuth = self.azimuths[None, :]
        return np.stack(
            np.broadcast_arrays(
                np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)
            ),
            axis=-1,
        ).astype(np.float32)

    @cached_property
    def azimuths(self) -> np.ndarray:
        """(azimuth_steps,) ray azimuths in [-pi, pi)."""
        return -np.pi + np.arange(self.azimuth_steps) * (2 * np.pi / self.azimuth_steps)


def _hdl64_elevations() -> tuple[float, ...]:
    upper = np.linspace(2.0, 2.0 - 31 / 3, 32)
    lower = np.linspace(upper[-1] - 0.5, -24.9, 32)
    return tuple(float(e) for e in np.concatenate([upper, lower]))


def _waymo_top_elevations() -> tuple[float, ...]:
    spacing = np.linspace(0.0, 1.0, 64) ** 1.6  # small steps near the top, larger below
    return tuple(float(e) for e in 2.4 - 20.0 * spacing)


SENSORS = {
    "hdl64": Sensor("hdl64", _hdl64_elevations(), azimuth_steps=2000, mount_height=1.73, max_range=100.0),
    "waymo": Sensor("waymo", _waymo_top_elevations(), azimuth_steps=2650, mount_height=2.18, max_range=75.0),
}


def get_sensor(name: str) -> Sensor:
    """The sensor called ``name``; ``ValueError`` listing the choices otherwise."""
    if name not in SENSORS:
        raise ValueError(f"unknown sensor {name!r}; choose one of {sorted(SENSORS)}")
    return SENSORS[name]
