"""Ray casting a scene with Open3D's ``RaycastingScene`` and a sensor model.

One ray per (beam, azimuth step) from the sensor at the origin. Each frame draws, per beam, an
intensity gain (about 1) and a range-noise scale (0.5-1.5 x ``sensor.range_noise``), as the lasers
of a spinning sensor differ. Per hit: range = first-hit distance + Gaussian noise of the beam's
scale; the ray is dropped at random (``sensor.drop_rate``), more often at grazing incidence, on
dark surfaces and far away, and always on glass (reflectance :data:`meshes.GLASS`); intensity =
reflectance * (floor + (1 - floor) cos(incidence)) * beam gain * range falloff, in [0, 1]. Misses
and hits beyond ``sensor.max_range`` emit nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxformer.datasets.synthetic.meshes import GLASS
from voxformer.datasets.synthetic.scene import Scene
from voxformer.datasets.synthetic.sensors import Sensor

FALLOFF_RANGE = 35.0  # m at which the range falloff halves the intensity
INCIDENCE_FLOOR = 0.4  # share of a surface's intensity left at grazing incidence (0: Lambert's cosine)
BEAM_GAIN_SPREAD = 0.1  # s.d. of the per-beam intensity gain (around 1, drawn per frame)
FAR_DROP = 0.2  # extra drop probability at the maximum range (quadratic in range)


@dataclass
class RayCast:
    """Per-ray results on the (num_beams * azimuth_steps) grid, beam-major.

    ``distance`` first-hit distance without noise (inf for a miss or beyond range), ``object_index``
    index into ``scene.objects`` of the object hit (-1 otherwise), ``emitted`` whether the ray gives a
    point, ``points`` (N, 4) float32 (x, y, z, intensity) of the emitted rays in grid order,
    ``triangle`` index of the triangle hit among the triangles of the objects' meshes then the
    background's, concatenated (0 for a miss).
    """

    distance: np.ndarray
    object_index: np.ndarray
    emitted: np.ndarray
    points: np.ndarray
    triangle: np.ndarray


def _open3d():
    try:
        import open3d as o3d
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise ImportError(
            "the synthetic dataset ray-casts with Open3D: pip install open3d "
            "(and on Debian/Ubuntu: apt-get install libusb-1.0-0)"
        ) from error
    return o3d


def cast(scene: Scene, sensor: Sensor, rng: np.random.Generator, threads: int = 1) -> RayCast:
    """Ray-cast ``scene`` with ``sensor``; noise and drop drawn from ``rng``."""
    o3d = _open3d()
    raycaster = o3d.t.geometry.RaycastingScene()
    meshes = [obj.mesh for obj in scene.objects] + [scene.background]
    for mesh in meshes:  # geometry id i = object i; the last id is the background
        raycaster.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(mesh.vertices, np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(mesh.triangles, np.uint32)),
        )
    reflectance_table = np.concatenate([m.reflectance for m in meshes])
    first_triangle = np.cumsum([0] + [len(m.triangles) for m in meshes[:-1]])

    directions = sensor.directions.reshape(-1, 3)
    rays = np.concatenate([np.zeros_like(directions), directions], axis=1)
    result = raycaster.cast_rays(o3d.core.Tensor(rays), nthreads=threads)
    distance = result["t_hit"].numpy().astype(np.float64)
    geometry = result["geometry_ids"].numpy().astype(np.int64)
    normals = result["primitive_normals"].numpy()
    hit = np.isfinite(distance) & (distance < sensor.max_range) & (distance > sensor.min_range)
    distance[~hit] = np.inf
    geometry = np.where(hit, geometry, -1)
    object_index = np.where(geometry < len(scene.objects), geometry, -1)

    triangle = np.where(hit, first_triangle[np.maximum(geometry, 0)] + result["primitive_ids"].numpy(), 0)
    reflectance = reflectance_table[triangle]
    cos_incidence = np.abs((normals * directions).sum(1))
    beam = np.arange(len(distance)) // sensor.azimuth_steps
    gain = np.clip(rng.normal(1.0, BEAM_GAIN_SPREAD, sensor.num_beams), 0.5, 1.5)[beam]
    noise = (sensor.range_noise * rng.uniform(0.5, 1.5, sensor.num_beams))[beam]
    far = np.where(hit, distance, 0.0) / sensor.max_range
    drop = (
        sensor.drop_rate
        + 0.5 * (1 - cos_incidence) ** 4
        + 2.0 * np.maximum(0.12 - reflectance, 0)
        + FAR_DROP * far**2
    )
    emitted = hit & (reflectance > GLASS) & (rng.random(len(distance)) >= drop)

    ranges = distance[emitted] + rng.normal(0, 1, size=int(emitted.sum())) * noise[emitted]
    falloff = 1.0 / (1.0 + (ranges / FALLOFF_RANGE) ** 2)
    shading = INCIDENCE_FLOOR + (1 - INCIDENCE_FLOOR) * cos_incidence[emitted]
    intensity = np.clip(reflectance[emitted] * shading * gain[emitted] * falloff, 0.0, 1.0)
    xyz = directions[emitted] * ranges[:, None]
    points = np.concatenate([xyz, intensity[:, None]], axis=1).astype(np.float32)
    return RayCast(distance, object_index, emitted, points, triangle)
