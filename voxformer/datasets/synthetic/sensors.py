"""Spinning LiDAR beam patterns (docs/references.md §LiDAR sensors).

``hdl64``: Velodyne HDL-64E as on KITTI: 64 lasers from +2.0 deg to -24.9 deg, the upper block of
32 about 1/3 deg apart and the lower block of 32 about 1/2 deg apart, 2000 azimuth steps,
mounted 1.73 m above the ground. ``waymo``: Waymo TOP-like: 64 non-uniform beams from +2.4 deg to
-17.6 deg (denser near the horizon), 2650 azimuth steps, 2.18 m mount, range capped at 75 m.
``hdl32``: Velodyne HDL-32E as on nuScenes: 32 lasers evenly from +10.67 deg to -30.67 deg (4/3 deg
apart, the vendor's data sheet), 1084 azimuth steps (a 20 Hz sweep: nuScenes keyframes hold
32 x 1084 = 34,688 returns), 1.84 m mount, 100 m range. ``pandar128``: a 128-channel roof LiDAR with
the figures published for Hesai's Pandar128E3X (+15 deg to -25 deg, finest vertical step 0.125 deg near
the horizon, 0.2 deg azimuth steps at 10 Hz, 200 m), not its per-channel table: 65 beams 0.125 deg apart
from +2 deg to -6 deg, the other 63 spread evenly (25 above, 0.52 deg apart; 38 below, 0.5 deg apart);
1800 azimuth steps, 1.8 m mount (a typical roof mount, not a dataset's).

:func:`get_sensor` takes a mount height that replaces the preset's (the ground moves with it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


def _hdl32_elevations() -> tuple[float, ...]:
    return tuple(float(e) for e in np.linspace(10.67, -30.67, 32))


def _pandar128_elevations() -> tuple[float, ...]:
    upper = 2.0 + 13.0 * np.arange(25, 0, -1) / 25  # +15 down to +2.52
    band = np.linspace(2.0, -6.0, 65)  # 0.125 deg steps
    lower = -6.0 - 0.5 * np.arange(1, 39)  # -6.5 down to -25
    return tuple(float(e) for e in np.concatenate([upper, band, lower]))


SENSORS = {
    "hdl64": Sensor("hdl64", _hdl64_elevations(), azimuth_steps=2000, mount_height=1.73, max_range=100.0),
    "waymo": Sensor("waymo", _waymo_top_elevations(), azimuth_steps=2650, mount_height=2.18, max_range=75.0),
    "hdl32": Sensor("hdl32", _hdl32_elevations(), azimuth_steps=1084, mount_height=1.84, max_range=100.0),
    "pandar128": Sensor("pandar128", _pandar128_elevations(), azimuth_steps=1800, mount_height=1.8, max_range=200.0),
}


def get_sensor(name: str, mount_height: float | None = None) -> Sensor:
    """The sensor called ``name``, mounted ``mount_height`` m above the ground when given (else the
    preset's); ``ValueError`` listing the choices for an unknown name or a height not above 0."""
    if name not in SENSORS:
        raise ValueError(f"unknown sensor {name!r}; choose one of {sorted(SENSORS)}")
    if mount_height is None:
        return SENSORS[name]
    if not mount_height > 0:
        raise ValueError(f"mount height must be above 0 m, got {mount_height}")
    return replace(SENSORS[name], mount_height=float(mount_height))
