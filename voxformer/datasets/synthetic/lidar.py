"""Ray casting a scene with Open3D's ``RaycastingScene`` and a sensor model.

One ray per (beam, azimuth step) from the sensor at the origin. Per hit: range = first-hit
distance + Gaussian noise; the ray is dropped at random (``sensor.drop_rate``), more often at
grazing incidence and on dark surfaces; intensity = reflectance * cos(incidence) * range falloff,
in [0, 1]. Misses and hits beyond ``sensor.max_range`` emit nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxformer.datasets.synthetic.scene import Scene
from voxformer.datasets.synthetic.sensors import Sensor

FALLOFF_RANGE = 60.0  # m at which the range falloff halves the intensity


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
    drop = sensor.drop_rate + 0.5 * (1 - cos_incidence) ** 4 + 2.0 * np.maximum(0.12 - reflectance, 0)
    emitted = hit & (rng.random(len(distance)) >= drop)

    ranges = distance[emitted] + rng.normal(0, sensor.range_noise, size=int(emitted.sum()))
    falloff = 1.0 / (1.0 + (ranges / FALLOFF_RANGE) ** 2)
    intensity = np.clip(reflectance[emitted] * cos_incidence[emitted] * falloff, 0.0, 1.0)
    xyz = directions[emitted] * ranges[:, None]
    points = np.concatenate([xyz, intensity[:, None]], axis=1).astype(np.float32)
    return RayCast(distance, object_index, emitted, points, triangle)
