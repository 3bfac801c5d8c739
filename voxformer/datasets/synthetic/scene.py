"""Procedural street scenes in the LiDAR frame (x forward, y left, z up; sensor at the origin).

A scene is a straight road through the sensor position (random heading, 2-4 lanes and parking
strips), raised sidewalks with kerbs, buildings whose façades step back and forth and hold windows
that return nothing, often a cross street and an open lot of grass, poles and signs, trees and
bushes with porous crowns, hedges, fences and low walls along the back of the sidewalks, and hard
negatives of a pedestrian's to a car's size (bollards, hydrants, bins, benches, crates, trailers),
over ground with a slight slope and smooth bumps, rough where it is terrain (ground at z = -mount
height under the sensor). Cars (some vans), pedestrians and
cyclists stand on that surface without overlapping anything, at yaws that follow lanes,
parking strips and sidewalks, out to about 90 m along the street. Everything is drawn from one
``numpy.random.Generator`` so a scene is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxformer.datasets.synthetic import meshes
from voxformer.datasets.synthetic import semantics as sem
from voxformer.datasets.synthetic.meshes import Mesh

LANE_WIDTH = 3.5
PARKING_WIDTH = 2.3
SCENE_HALF_SIZE = 100.0
STREET_REACH = 90.0
GRASS_DENSITY = 6.0  # blades per m^2
MAX_GRASS_BLADES = 20000
SIDEWALK_OBJECTS = ("bollard", "hydrant", "bin", "bench", "crate")  # trailers park in the parking strips
TERRAIN_ROUGHNESS = 0.05  # m, s.d. of the terrain's height at its mesh vertices (2.5 m apart)

# (length, width, height) ranges of the labelled classes, metres.
CAR_SIZE = ((3.5, 1.6, 1.4), (5.0, 2.0, 1.8))
VAN_SIZE = ((4.6, 1.8, 1.9), (5.6, 2.1, 2.5))
PEDESTRIAN_SIZE = ((0.5, 0.5, 1.5), (1.0, 0.75, 1.95))
CYCLIST_SIZE = ((1.6, 0.5, 1.5), (1.95, 0.8, 1.9))
DEFAULT_COUNTS = {"Car": (8, 20), "Pedestrian": (2, 8), "Cyclist": (1, 4)}


@dataclass
class SceneObject:
    """A labelled object: class ``name``, ``box`` (7,) in the docs/design.md §Boxes convention, placed ``mesh``."""

    name: str
    box: np.ndarray
    mesh: Mesh


@dataclass
class Scene:
    """The labelled ``objects``, everything else merged into ``background``, and the street ``layout``
    (which resolves the semantic class of ground hits)."""

    objects: list[SceneObject]
    background: Mesh
    layout: StreetLayout


def _rect_corners(rects: np.ndarray, margin: float) -> np.ndarray:
    """(N, 5) rectangles (x, y, length, width, yaw) grown by ``margin`` -> (N, 4, 2) corners."""
    half = (rects[:, 2:4] + 2 * margin) / 2
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
    local = signs[None] * half[:, None, :]
    c, s = np.cos(rects[:, 4])[:, None], np.sin(rects[:, 4])[:, None]
    x = local[..., 0] * c - local[..., 1] * s + rects[:, None, 0]
    y = local[..., 0] * s + local[..., 1] * c + rects[:, None, 1]
    return np.stack([x, y], axis=-1)


def rectangles_overlap(rect: np.ndarray, others: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(N,) bool: does rectangle ``rect`` (5,) = (x, y, length, width, yaw), grown by ``margin``, overlap
    each of ``others`` (N, 5)? Separating-axis test on the four edge directions of each pair."""
    if len(others) == 0:
        return np.zeros(0, dtype=bool)
    mine = _rect_corners(rect[None], margin)  # (1, 4, 2)
    theirs = _rect_corners(others, 0.0)  # (N, 4, 2)
    yaws = np.concatenate([np.full((len(others), 1), rect[4]), others[:, 4:5]], axis=1)  # (N, 2)
    axes = np.concatenate(
        [np.stack([np.cos(yaws), np.sin(yaws)], -1), np.stack([-np.sin(yaws), np.cos(yaws)], -1)], axis=1
    )  # (N, 4, 2)
    project_mine = np.einsum("ak,nbk->nab", mine[0], axes)  # (N, 4 corners, 4 axes)
    project_theirs = np.einsum("nak,nbk->nab", theirs, axes)
    separated = (project_mine.max(1) < project_theirs.min(1)) | (project_theirs.max(1) < project_mine.min(1))
    return ~separated.any(axis=1)


class Occupancy:
    """Footprints already taken, as (x, y, length, width, yaw) rows."""

    def __init__(self):
        self.rects = np.zeros((0, 5))

    def is_free(self, rect, margin: float) -> bool:
        rect = np.asarray(rect, float)
        reach = np.hypot(*rect[2:4]) / 2 + np.hypot(self.rects[:, 2], self.rects[:, 3]) / 2 + margin
        near = np.abs(self.rects[:, :2] - rect[:2]).max(axis=1) < reach
        return not rectangles_overlap(rect, self.rects[near], margin).any()

    def add(self, rect) -> None:
        self.rects = np.concatenate([self.rects, np.asarray(rect, float)[None]])


class StreetLayout:
    """The random street: road frame (u along the road, v across), ground height and sidewalks."""

    def __init__(self, rng: np.random.Generator, mount_height: float):
        self.rng = rng
        self.road_yaw = float(rng.normal(0, 0.08) if rng.random() < 0.75 else rng.uniform(-np.pi, np.pi))
        self.lanes = int(rng.integers(2, 5))
        self.half_road = self.lanes * LANE_WIDTH / 2 + PARKING_WIDTH
        lane_span = self.lanes * LANE_WIDTH / 2 - LANE_WIDTH / 2
        self.centre_v = float(rng.choice(np.arange(-lane_span, lane_span + 1e-6, LANE_WIDTH)))
        self.sidewalk = float(rng.uniform(2.5, 5.0))
        self.kerb = float(rng.uniform(0.1, 0.18))
        self.cross_u = float(rng.uniform(-45, 45)) if rng.random() < 0.6 else None
        self.cross_half = float(rng.integers(1, 3) * LANE_WIDTH + PARKING_WIDTH)
        self.open_side = int(rng.choice([-1, 1])) if rng.random() < 0.35 else 0
        slope = rng.normal(0, 0.012, size=2)
        bumps = int(rng.integers(4, 11))
        self._slope = slope
        self._bump_centres = rng.uniform(-SCENE_HALF_SIZE, SCENE_HALF_SIZE, size=(bumps, 2))
        self._bump_heights = rng.uniform(-0.25, 0.25, size=bumps)
        self._bump_sigmas = rng.uniform(6, 25, size=bumps)
        self._ground_offset = 0.0
        self._ground_offset = -mount_height - float(self.ground(np.zeros(1), np.zeros(1))[0])

    # -- frames ----------------------------------------------------------------------------
    def to_world(self, u, v):
        c, s = np.cos(self.road_yaw), np.sin(self.road_yaw)
        return u * c - v * s, u * s + v * c

    def to_road(self, x, y):
        c, s = np.cos(self.road_yaw), np.sin(self.road_yaw)
        return x * c + y * s, -x * s + y * c

    # -- surfaces --------------------------------------------------------------------------
    def ground(self, x, y):
        """Ground height (m) at world (x, y), without sidewalks."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        height = self._slope[0] * x + self._slope[1] * y + self._ground_offset
        for (cx, cy), amplitude, sigma in zip(self._bump_centres, self._bump_heights, self._bump_sigmas):
            height = height + amplitude * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
        return height

    def in_cross_street(self, u) -> bool:
        return self.cross_u is not None and abs(u - self.cross_u) < self.cross_half

    def sidewalk_band(self, side: int) -> tuple[float, float]:
        """(v_min, v_max) of the sidewalk on ``side`` (+1 left, -1 right)."""
        edge = self.centre_v + side * self.half_road
        return (edge, edge + self.sidewalk) if side > 0 else (edge - self.sidewalk, edge)

    def surface(self, u: float, v: float) -> float:
        """Height (m) of whatever an object stands on at road coordinates (u, v)."""
        x, y = self.to_world(u, v)
        for side in (1, -1):
            low, high = self.sidewalk_band(side)
            if low <= v <= high and not self.in_cross_street(u):
                return float(self.ground(*self.to_world(self._segment_centre(u), (low + high) / 2))) + self.kerb
        return float(self.ground(x, y))

    def ground_class(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(N,) SemanticKITTI raw id of the ground at world (x, y): road, parking, sidewalk or terrain."""
        u, v = self.to_road(np.asarray(x, float), np.asarray(y, float))
        across = np.abs(v - self.centre_v)
        crossing = np.zeros(len(u), bool) if self.cross_u is None else np.abs(u - self.cross_u) < self.cross_half
        classes = np.full(len(u), sem.TERRAIN, np.int64)
        for side in (1, -1):
            low, high = self.sidewalk_band(side)
            classes[(v >= low) & (v <= high) & ~crossing] = sem.SIDEWALK
        classes[across < self.half_road] = sem.PARKING
        classes[(across < self.lanes * LANE_WIDTH / 2) | crossing] = sem.ROAD
        return classes

    @staticmethod
    def _segment_centre(u: float, length: float = 4.0) -> float:
        return (np.floor(u / length) + 0.5) * length


def _ground_mesh(layout: StreetLayout, step: float = 2.5) -> Mesh:
    ticks = np.arange(-SCENE_HALF_SIZE, SCENE_HALF_SIZE + step / 2, step)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    height = layout.ground(gx, gy)
    rough = layout.ground_class(gx.ravel(), gy.ravel()).reshape(gx.shape) == sem.TERRAIN
    height = height + rough * layout.rng.normal(0.0, TERRAIN_ROUGHNESS, size=gx.shape)
    vertices = np.stack([gx, gy, height], -1).reshape(-1, 3)
    n = len(ticks)
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a = (i * n + j).ravel()
    b, c, d = a + n, a + n + 1, a + 1
    triangles = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    centres = vertices[triangles].mean(1)
    _, v = layout.to_road(centres[:, 0], centres[:, 1])
    on_road = np.abs(v - layout.centre_v) < layout.half_road
    reflectance = np.where(on_road, layout.rng.uniform(0.15, 0.35), layout.rng.uniform(0.2, 0.45))
    reflectance = reflectance * layout.rng.uniform(0.85, 1.15, size=len(triangles))
    reflectance = np.clip(reflectance, 0, 1).astype(np.float32)
    return Mesh(vertices.astype(np.float32), triangles.astype(np.int32), reflectance).tagged(sem.GROUND)


class _SceneBuilder:
    def __init__(self, rng: np.random.Generator, mount_height: float):
        self.rng = rng
        self.layout = StreetLayout(rng, mount_height)
        self.occupancy = Occupancy()
        self.occupancy.add((0.0, 0.0, 5.0, 2.2, 0.0))  # the sensor's own vehicle
        self.background: list[Mesh] = [_ground_mesh(self.layout)]
        self.objects: list[SceneObject] = []

    # -- placement helpers ---------------------------------------------------------------------
    def _place_static(self, mesh: Mesh, u: float, v: float, yaw_road: float, footprint, margin=0.2) -> bool:
        x, y = self.layout.to_world(u, v)
        yaw = self.layout.road_yaw + yaw_road
        rect = (x, y, footprint[0], footprint[1], yaw)
        if not self.occupancy.is_free(rect, margin):
            return False
        self.occupancy.add(rect)
        self.background.append(mesh.placed(yaw, (x, y, self.layout.surface(u, v))))
        return True

    def _place_object(self, name: str, mesh: Mesh, size, u: float, v: float, yaw_road: float, margin: float) -> bool:
        length, width, height = size
        x, y = self.layout.to_world(u, v)
        if max(abs(x), abs(y)) > SCENE_HALF_SIZE - 3:
            return False
        yaw = float(np.remainder(self.layout.road_yaw + yaw_road + np.pi, 2 * np.pi) - np.pi)
        rect = (x, y, length, width, yaw)
        if not self.occupancy.is_free(rect, margin):
            return False
        self.occupancy.add(rect)
        bottom = self.layout.surface(u, v)
        self.objects.append(
            SceneObject(
                name,
                np.array([x, y, bottom + height / 2, length, width, height, yaw], np.float32),
                mesh.placed(yaw, (x, y, bottom)),
            )
        )
        return True

    # -- static structure ----------------------------------------------------------------------
    def add_sidewalks(self) -> None:
        lay = self.layout
        for side in (1, -1):
            low, high = lay.sidewalk_band(side)
            for u in np.arange(-STREET_REACH - 10, STREET_REACH + 10, 4.0):
                centre = u + 2.0
                if lay.in_cross_street(centre):
                    continue
                x, y = lay.to_world(centre, (low + high) / 2)
                top = float(lay.ground(x, y)) + lay.kerb
                slab = meshes.box(4.0, high - low, top - lay.kerb - 0.4, top, float(self.rng.uniform(0.3, 0.45)))
                slab = slab.tagged(sem.SIDEWALK)
                self.background.append(slab.placed(lay.road_yaw, (x, y, 0.0)))

    def add_buildings(self) -> None:
        lay = self.layout
        for side in (1, -1):
            if side == lay.open_side:
                continue
            u = -STREET_REACH - 10 + float(self.rng.uniform(0, 10))
            while u < STREET_REACH + 10:
                length = float(self.rng.uniform(8, 40))
                depth = float(self.rng.uniform(8, 20))
                height = float(self.rng.uniform(3, 18))
                setback = float(self.rng.uniform(0, 4))
                centre = u + length / 2
                gap = lay.cross_u is not None and abs(centre - lay.cross_u) < lay.cross_half + lay.sidewalk + length / 2
                if not gap:
                    v = self._back_of_sidewalk(side) + side * (setback + depth / 2)
                    x, y = lay.to_world(centre, v)
                    base = float(lay.ground(x, y)) - 0.5
                    mesh = meshes.facade(length, depth, height + 0.5, self.rng)
                    self.occupancy.add((x, y, length, depth, lay.road_yaw))
                    facing = 0.0 if side > 0 else np.pi  # the facade's street face towards the road
                    self.background.append(mesh.placed(lay.road_yaw + facing, (x, y, base)))
                    if setback > 1.5 and self.rng.random() < 0.7:
                        self._add_garden(centre, self._back_of_sidewalk(side) + side * setback / 2, length, setback)
                u += length + float(self.rng.uniform(0, 12) if self.rng.random() < 0.5 else 0.0)

    def _back_of_sidewalk(self, side: int) -> float:
        """v of the sidewalk's edge away from the road on ``side``."""
        return self.layout.sidewalk_band(side)[1 if side > 0 else 0]

    def _add_garden(self, u: float, v: float, length: float, width: float) -> None:
        """A front garden centred at road (u, v): grass, bushes and now and then a small tree."""
        rng = self.rng
        self._add_grass(u, v, length, width)
        for _ in range(int(rng.integers(1, 2 + length // 5))):
            mesh, footprint = meshes.bush(rng) if rng.random() < 0.75 else (meshes.tree(rng)[0], (0.6, 0.6))
            spot_u = u + float(rng.uniform(-length / 2, length / 2))
            spot_v = v + float(rng.uniform(-width / 4, width / 4))
            self._place_static(mesh, spot_u, spot_v, 0.0, footprint, margin=0.05)

    def _add_grass(self, u: float, v: float, length: float, width: float) -> None:
        """A patch of grass (scattered blades up to 0.1-0.35 m over the ground) centred at road (u, v)."""
        rng, lay = self.rng, self.layout
        count = int(min(GRASS_DENSITY * length * width, MAX_GRASS_BLADES))
        along = rng.uniform(-length / 2, length / 2, count) + u
        across = rng.uniform(-width / 2, width / 2, count) + v
        x, y = lay.to_world(along, across)
        z = lay.ground(x, y) + rng.uniform(0.0, float(rng.uniform(0.1, 0.35)), count)
        blades = meshes.scatter(np.stack([x, y, z], 1), 0.08, float(rng.uniform(0.3, 0.6)), rng)
        self.background.append(blades.tagged(sem.TERRAIN))

    def add_street_furniture(self) -> None:
        lay = self.layout
        rng = self.rng
        for side in (1, -1):
            low, high = lay.sidewalk_band(side)
            kerb_v = low + 0.4 if side > 0 else high - 0.4
            u = -STREET_REACH + float(rng.uniform(0, 20))
            while u < STREET_REACH:
                mesh, radius = meshes.pole(rng)
                self._place_static(mesh, u, kerb_v, 0.0, (2 * radius, 2 * radius))
                u += float(rng.uniform(12, 35))
            if rng.random() < 0.85:
                u = -STREET_REACH + float(rng.uniform(0, 15))
                while u < STREET_REACH:
                    mesh, radius = meshes.tree(rng)
                    self._place_static(
                        mesh, u, (low + high) / 2 + rng.uniform(-0.5, 0.5), 0.0, (2 * radius, 2 * radius)
                    )
                    u += float(rng.uniform(6, 20))
            self._add_boundaries(side)
        for _ in range(int(rng.integers(8, 24))):
            side = int(rng.choice([-1, 1]))
            low, high = lay.sidewalk_band(side)
            u, v = float(rng.uniform(-70, 70)), float(rng.uniform(low, high))
            if rng.random() < 0.3:
                mesh, footprint = meshes.bush(rng)
            else:
                mesh, footprint = meshes.street_object(str(rng.choice(SIDEWALK_OBJECTS)), rng)
            self._place_static(mesh, u, v, float(rng.uniform(-np.pi, np.pi)), footprint)
        for _ in range(int(rng.integers(0, 3))):  # trailers parked in the parking strips
            side = int(rng.choice([-1, 1]))
            mesh, footprint = meshes.street_object("trailer", rng)
            v = lay.centre_v + side * (lay.half_road - PARKING_WIDTH / 2)
            self._place_static(mesh, float(rng.uniform(-60, 60)), v, float(rng.choice([0.0, np.pi])), footprint)
        if lay.cross_u is not None and rng.random() < 0.5:  # bollards along the corner of the crossing
            side = int(rng.choice([-1, 1]))
            low, high = lay.sidewalk_band(side)
            for k in range(int(rng.integers(3, 8))):
                mesh, footprint = meshes.street_object("bollard", rng)
                u = lay.cross_u + lay.cross_half + 1.0 + 1.5 * k
                self._place_static(mesh, u, low + 0.5 if side > 0 else high - 0.5, 0.0, footprint, margin=0.1)
        if lay.open_side:
            self._add_grass(0.0, self._back_of_sidewalk(lay.open_side) + lay.open_side * 18, 120.0, 34.0)
            for _ in range(int(rng.integers(3, 10))):
                v = self._back_of_sidewalk(lay.open_side) + lay.open_side * rng.uniform(2, 35)
                mesh, footprint = meshes.bush(rng) if rng.random() < 0.5 else (meshes.tree(rng)[0], (0.6, 0.6))
                self._place_static(mesh, float(rng.uniform(-70, 70)), float(v), 0.0, footprint)

    def _add_boundaries(self, side: int) -> None:
        """Hedges, fences and low walls along the back of the sidewalk on ``side``, in runs of 3-20 m."""
        rng = self.rng
        v = self._back_of_sidewalk(side) - side * 0.5
        u = -STREET_REACH + float(rng.uniform(0, 20))
        while u < STREET_REACH:
            length = float(rng.uniform(3, 20))
            if rng.random() < 0.75:
                kind = rng.random()
                if kind < 0.45:
                    mesh, footprint = meshes.hedge(length, rng)
                elif kind < 0.8:
                    mesh, footprint = meshes.fence(length, rng), (length, 0.1)
                else:
                    height = float(rng.uniform(0.5, 1.6))
                    mesh = meshes.box(length, 0.3, 0.0, height, float(rng.uniform(0.1, 0.7))).tagged(sem.FENCE)
                    footprint = (length, 0.3)
                self._place_static(mesh, u + length / 2, v, 0.0, footprint, margin=0.05)
            u += length + float(rng.uniform(0, 10))

    # -- labelled objects ------------------------------------------------------------------------
    def _car_slot(self) -> tuple[float, float, float]:
        lay, rng = self.layout, self.rng
        kinds = ["lane", "parked"] + (["cross"] if lay.cross_u is not None else []) + (["lot"] if lay.open_side else [])
        weights = np.array([0.45, 0.35, 0.12, 0.08][: len(kinds)])
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        u = float(rng.uniform(-STREET_REACH, STREET_REACH))
        if kind == "lane":
            lane = int(rng.integers(lay.lanes))
            offset = -lay.lanes * LANE_WIDTH / 2 + LANE_WIDTH * (lane + 0.5)
            yaw = (np.pi if offset > 0 else 0.0) + rng.normal(0, 0.04)
            return u, lay.centre_v + offset + rng.normal(0, 0.3), yaw
        if kind == "parked":
            side = int(rng.choice([-1, 1]))
            return (
                u,
                lay.centre_v + side * (lay.half_road - PARKING_WIDTH / 2),
                rng.choice([0.0, np.pi]) + rng.normal(0, 0.06),
            )
        if kind == "cross":
            offset = float(rng.uniform(-lay.cross_half + 1.2, lay.cross_half - 1.2))
            return lay.cross_u + offset, u, (np.pi / 2 if offset < 0 else -np.pi / 2) + rng.normal(0, 0.05)
        v = lay.sidewalk_band(lay.open_side)[1 if lay.open_side > 0 else 0] + lay.open_side * rng.uniform(3, 35)
        return u, float(v), float(rng.uniform(-np.pi, np.pi))

    def add_cars(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            van = rng.random() < 0.15
            size = tuple(rng.uniform(*(VAN_SIZE if van else CAR_SIZE)))
            mesh = meshes.car(*size, rng, van=van)
            for _attempt in range(30):
                if self._place_object("Car", mesh, size, *self._car_slot(), margin=0.4):
                    break

    def add_pedestrians(self, count: int) -> None:
        lay, rng = self.layout, self.rng
        for _ in range(count):
            size = tuple(rng.uniform(*PEDESTRIAN_SIZE))
            mesh = meshes.pedestrian(*size, rng)
            for _attempt in range(30):
                u = float(rng.uniform(-70, 70))
                if rng.random() < 0.75:
                    v = float(rng.uniform(*lay.sidewalk_band(int(rng.choice([-1, 1])))))
                    yaw = float(rng.uniform(-np.pi, np.pi))
                else:  # crossing the road
                    v = lay.centre_v + float(rng.uniform(-lay.half_road, lay.half_road))
                    yaw = float(rng.choice([np.pi / 2, -np.pi / 2]) + rng.normal(0, 0.2))
                if self._place_object("Pedestrian", mesh, size, u, v, yaw, margin=0.15):
                    break

    def add_cyclists(self, count: int) -> None:
        lay, rng = self.layout, self.rng
        for _ in range(count):
            size = tuple(rng.uniform(*CYCLIST_SIZE))
            mesh = meshes.cyclist(*size, rng)
            for _attempt in range(30):
                u = float(rng.uniform(-75, 75))
                side = int(rng.choice([-1, 1]))
                if rng.random() < 0.8:  # along the kerb, with the traffic of that side
                    v = lay.centre_v + side * (lay.half_road - PARKING_WIDTH - 0.8) + rng.normal(0, 0.3)
                    yaw = (np.pi if side > 0 else 0.0) + rng.normal(0, 0.08)
                else:
                    v = float(rng.uniform(*lay.sidewalk_band(side)))
                    yaw = float(rng.uniform(-np.pi, np.pi))
                if self._place_object("Cyclist", mesh, size, u, v, yaw, margin=0.3):
                    break


def build_scene(rng: np.random.Generator, mount_height: float, counts: dict | None = None) -> Scene:
    """A random street scene; ``counts`` maps class name to a (min, max) number of objects placed."""
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    builder = _SceneBuilder(rng, mount_height)
    builder.add_sidewalks()
    builder.add_buildings()
    builder.add_street_furniture()
    builder.add_cars(int(rng.integers(counts["Car"][0], counts["Car"][1] + 1)))
    builder.add_pedestrians(int(rng.integers(counts["Pedestrian"][0], counts["Pedestrian"][1] + 1)))
    builder.add_cyclists(int(rng.integers(counts["Cyclist"][0], counts["Cyclist"][1] + 1)))
    return Scene(builder.objects, meshes.merge(builder.background), builder.layout)
