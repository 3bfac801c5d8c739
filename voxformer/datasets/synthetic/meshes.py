"""Low-polygon triangle meshes built with NumPy, one reflectance value per triangle.

Object shapes are built in their own frame: origin at the bottom-face centre, x along the
heading, y to the left, z up, and stay inside the labelled box
``[-l/2, l/2] x [-w/2, w/2] x [0, h]``, so the label box is tight by construction. Each triangle may
carry a SemanticKITTI raw semantic id (``semantic``, :mod:`voxformer.datasets.synthetic.semantics`):
the builders below tag their parts (a tree's trunk and crown, a pole and its sign, a cyclist's bicycle
and rider); untagged triangles are unlabeled (0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from voxformer.datasets.synthetic import semantics as sem

LEAF_SIZE = 0.2  # m, edge of one leaf (or cluster of leaves) triangle
LEAF_DENSITY = 100.0  # leaves (about 0.01 m^2 each) per m^3 of crown: a ray goes about 1 m into it
MAX_LEAVES = 4000
CHAIN_LINK_DENSITY = 60.0  # small triangles per m^2 of chain-link fence: about half the rays pass
GLASS = 0.0  # reflectance of window glass: rays that hit it return nothing

_BOX_FACES = np.array(
    [
        [0, 1, 2],
        [0, 2, 3],
        [4, 6, 5],
        [4, 7, 6],
        [0, 4, 5],
        [0, 5, 1],
        [1, 5, 6],
        [1, 6, 2],
        [2, 6, 7],
        [2, 7, 3],
        [3, 7, 4],
        [3, 4, 0],
    ],
    dtype=np.int32,
)


@dataclass
class Mesh:
    """``vertices`` (V, 3) float32, ``triangles`` (T, 3) int32, ``reflectance`` (T,) float32 in [0, 1],
    ``semantic`` (T,) uint16 raw semantic id per triangle or None (all unlabeled)."""

    vertices: np.ndarray
    triangles: np.ndarray
    reflectance: np.ndarray
    semantic: np.ndarray | None = None

    def tagged(self, semantic_id: int) -> Mesh:
        """The same mesh with every triangle of class ``semantic_id``."""
        semantic = np.full(len(self.triangles), semantic_id, np.uint16)
        return Mesh(self.vertices, self.triangles, self.reflectance, semantic)

    def semantic_ids(self) -> np.ndarray:
        """(T,) uint16 raw semantic id of each triangle (0 where untagged)."""
        return np.zeros(len(self.triangles), np.uint16) if self.semantic is None else self.semantic

    def placed(self, yaw: float, translation) -> Mesh:
        """The mesh rotated by ``yaw`` about +z (CCW), then translated."""
        c, s = np.cos(yaw), np.sin(yaw)
        rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)
        vertices = self.vertices @ rotation.T + np.asarray(translation, dtype=np.float64)
        return Mesh(vertices.astype(np.float32), self.triangles, self.reflectance, self.semantic)


def merge(parts: list[Mesh]) -> Mesh:
    """One mesh holding all ``parts``."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return Mesh(
        np.concatenate([p.vertices for p in parts]).astype(np.float32),
        np.concatenate([p.triangles + o for p, o in zip(parts, offsets)]).astype(np.int32),
        np.concatenate([p.reflectance for p in parts]).astype(np.float32),
        np.concatenate([p.semantic_ids() for p in parts]),
    )


def frustum(bottom_lw, top_lw, z0: float, z1: float, reflectance: float, x=0.0, y=0.0, top_dx=0.0) -> Mesh:
    """A prism from z0 to z1 with a (length, width) rectangle at the bottom and another at the top,
    centred at (x, y), the top shifted by ``top_dx`` along x. Equal rectangles give a box."""
    vertices = []
    for (length, width), z, dx in ((bottom_lw, z0, 0.0), (top_lw, z1, top_dx)):
        hl, hw = length / 2, width / 2
        vertices += [
            [x + dx + hl, y + hw, z],
            [x + dx - hl, y + hw, z],
            [x + dx - hl, y - hw, z],
            [x + dx + hl, y - hw, z],
        ]
    return Mesh(np.array(vertices, np.float32), _BOX_FACES.copy(), np.full(12, reflectance, np.float32))


def box(length: float, width: float, z0: float, z1: float, reflectance: float, x=0.0, y=0.0) -> Mesh:
    """An axis-aligned box centred at (x, y) from height z0 to z1."""
    return frustum((length, width), (length, width), z0, z1, reflectance, x, y)


@cache
def _prism_topology(segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit ring (segments, 2) and triangles of a closed prism: ring at z0, ring at z1, two centres."""
    angles = np.arange(segments) * (2 * np.pi / segments)
    i = np.arange(segments)
    j = (i + 1) % segments
    bottom_centre, top_centre = 2 * segments, 2 * segments + 1
    triangles = np.concatenate(
        [
            np.stack([i, j, segments + j], 1),
            np.stack([i, segments + j, segments + i], 1),
            np.stack([np.full(segments, bottom_centre), j, i], 1),
            np.stack([np.full(segments, top_centre), segments + i, segments + j], 1),
        ]
    ).astype(np.int32)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1), triangles


def cylinder(radius: float, z0: float, z1: float, reflectance: float, x=0.0, y=0.0, segments: int = 8) -> Mesh:
    """A closed vertical prism with ``segments`` sides approximating a cylinder."""
    unit_ring, triangles = _prism_topology(segments)
    vertices = np.empty((2 * segments + 2, 3), np.float32)
    vertices[: 2 * segments, :2] = np.tile(unit_ring * radius + (x, y), (2, 1))
    vertices[:segments, 2], vertices[segments : 2 * segments, 2] = z0, z1
    vertices[2 * segments :] = ((x, y, z0), (x, y, z1))
    return Mesh(vertices, triangles, np.full(len(triangles), reflectance, np.float32))


def wheel(radius: float, width: float, x: float, y: float, reflectance: float, segments: int = 10) -> Mesh:
    """A cylinder with its axis along y (a wheel), touching the ground, centred at (x, y)."""
    upright = cylinder(radius, -width / 2, width / 2, reflectance, segments=segments)
    # turn the z axis into the y axis: (a, b, c) -> (a, c, b), then lift onto the ground
    vertices = upright.vertices[:, [0, 2, 1]] + np.array([x, y, radius], np.float32)
    return Mesh(vertices, upright.triangles, upright.reflectance)


def ellipsoid(radii, centre, reflectance: float, segments: int = 8, rings: int = 5) -> Mesh:
    """A low-polygon ellipsoid with semi-axes ``radii`` (rx, ry, rz) at ``centre``."""
    polar = np.linspace(0, np.pi, rings + 1)[1:-1]
    azimuth = np.arange(segments) * (2 * np.pi / segments)
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    unit = np.stack([np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), np.cos(p)], -1).reshape(-1, 3)
    unit = np.concatenate([unit, [[0, 0, 1], [0, 0, -1]]])
    vertices = unit * np.asarray(radii) + np.asarray(centre)
    top, bottom = len(unit) - 2, len(unit) - 1
    triangles = []
    for r in range(rings - 2):
        for s in range(segments):
            a0, a1 = r * segments + s, r * segments + (s + 1) % segments
            b0, b1 = a0 + segments, a1 + segments
            triangles += [[a0, b0, b1], [a0, b1, a1]]
    last = (rings - 2) * segments
    for s in range(segments):
        triangles.append([top, s, (s + 1) % segments])
        triangles.append([bottom, last + (s + 1) % segments, last + s])
    triangles = np.array(triangles, np.int32)
    return Mesh(vertices.astype(np.float32), triangles, np.full(len(triangles), reflectance, np.float32))


def car(length: float, width: float, height: float, rng: np.random.Generator, van: bool = False) -> Mesh:
    """A car (body, cabin with darker glass, four wheels) or a van (tall box body) filling the box."""
    paint = float(rng.uniform(0.04, 0.8))
    radius = float(np.clip(0.2 * height, 0.28, 0.4))
    tyre_width = 0.22
    clearance = 0.7 * radius
    parts = []
    for sx in (1, -1):
        for sy in (1, -1):
            parts.append(
                wheel(radius, tyre_width, sx * (length / 2 - 0.35 - radius), sy * (width / 2 - tyre_width / 2), 0.05)
            )
    body_width = width - 0.06
    if van:
        belt = 0.55 * height
        parts.append(box(length, body_width, clearance, belt, paint))
        parts.append(
            frustum(
                (length - 0.4, body_width), (length - 1.0, body_width - 0.1), belt, height, paint, x=-0.2, top_dx=-0.3
            )
        )
    else:
        belt = float(rng.uniform(0.55, 0.62)) * height
        parts.append(frustum((length, body_width), (length - 0.3, body_width), clearance, belt, paint))
        cabin_bottom = float(rng.uniform(0.5, 0.6)) * length
        cabin_top = cabin_bottom - float(rng.uniform(0.5, 0.9))
        glass = float(rng.uniform(0.03, 0.12))
        parts.append(
            frustum(
                (cabin_bottom, body_width - 0.1), (cabin_top, body_width - 0.35), belt, height, glass, x=-0.08 * length
            )
        )
    return merge(parts).tagged(sem.CAR)


def pedestrian(length: float, width: float, height: float, rng: np.random.Generator) -> Mesh:
    """Two legs mid-stride with forward-pointing feet, a torso leaning forward, arms bent at the elbow
    and the head ahead of the spine, inside a (length, width, height) box facing +x: what tells a
    walker's front from its back."""
    cloth = float(rng.uniform(0.1, 0.6))
    skin = float(rng.uniform(0.2, 0.5))
    hip, shoulder = 0.47 * height, 0.8 * height
    stride = float(rng.uniform(0.0, max(length - 0.45, 0.0)))
    leg = min(0.15, width / 3)
    parts = []
    for x, y in ((stride / 2, leg * 0.7), (-stride / 2, -leg * 0.7)):
        parts.append(box(leg, leg, 0.0, hip, cloth, x=x, y=y))
        parts.append(box(0.24, 0.1, 0.0, 0.08, cloth, x=x + 0.09, y=y))  # foot, toes forward
    torso = min(0.28, length)
    parts.append(frustum((torso, width - 0.2), (torso, width - 0.2), hip, shoulder, cloth, top_dx=0.06))
    arm_swing = min(0.12, (length - 0.3) / 2)
    for side in (1, -1):
        y = side * (width / 2 - 0.05)
        parts.append(box(0.1, 0.09, 0.62 * height, shoulder, cloth, x=side * arm_swing + 0.03, y=y))  # upper arm
        parts.append(box(0.1, 0.09, 0.45 * height, 0.62 * height, cloth, x=side * arm_swing + 0.1, y=y))  # forearm
    head = 0.1 * height
    parts.append(ellipsoid((0.09, 0.08, head * 0.9), (0.07, 0, height - head * 0.9), skin, segments=6, rings=4))
    return merge(parts).tagged(sem.PERSON)


def cyclist(length: float, width: float, height: float, rng: np.random.Generator) -> Mesh:
    """A bicycle (two thin wheels, frame, handlebar) and its rider inside the box, facing +x: the saddle
    over the rear half, the torso leaning forward from it, arms reaching to the handlebar, the head ahead."""
    metal = float(rng.uniform(0.3, 0.8))
    cloth = float(rng.uniform(0.1, 0.6))
    radius = 0.34
    axle = length / 2 - radius
    bar = axle - 0.1
    parts = [wheel(radius, 0.05, axle, 0.0, 0.08, segments=12), wheel(radius, 0.05, -axle, 0.0, 0.08, segments=12)]
    parts.append(box(2 * axle, 0.05, radius, radius + 0.06, metal))  # top tube
    parts.append(box(0.05, width, radius + 0.45, radius + 0.5, metal, x=bar))  # handlebar
    seat = radius + 0.45
    head = 0.1 * height
    neck = height - 2 * head
    hips = -0.3
    rider = [
        box(0.14, 0.14, radius, seat, cloth, x=hips + 0.1, y=0.1),  # legs down to the pedals
        box(0.14, 0.14, radius, seat, cloth, x=hips + 0.3, y=-0.1),
        frustum((0.3, 0.4), (0.22, 0.4), seat, neck, cloth, x=hips, top_dx=0.4),  # torso, leaning forward
        ellipsoid((0.1, 0.09, head), (hips + 0.5, 0.0, height - head), cloth, segments=6, rings=4),
    ]
    arm_top = neck - 0.1
    for side in (1, -1):  # from the shoulders down to the handlebar
        rider.append(
            frustum((0.12, 0.08), (0.12, 0.08), seat + 0.15, arm_top, cloth, x=bar - 0.05, y=side * 0.2,
                    top_dx=hips + 0.4 - bar + 0.05)
        )
    return merge([merge(parts).tagged(sem.BICYCLE), merge(rider).tagged(sem.BICYCLIST)])


def scatter(centres: np.ndarray, size: float, reflectance: float, rng: np.random.Generator) -> Mesh:
    """One small randomly oriented triangle (edge about ``size``) around each of ``centres`` (N, 3):
    leaves, grass blades or a chain-link mesh, which rays pass through in part and return from at
    scattered depths. Reflectance varies by +-30 % from leaf to leaf."""
    count = len(centres)
    corners = rng.normal(0.0, size / 2, size=(count, 3, 3)) + np.asarray(centres)[:, None, :]
    triangles = np.arange(3 * count, dtype=np.int32).reshape(count, 3)
    shade = np.clip(reflectance * rng.uniform(0.7, 1.3, size=count), 0.0, 1.0)
    return Mesh(corners.reshape(-1, 3).astype(np.float32), triangles, shade.astype(np.float32))


def points_in_ellipsoid(radii, centre, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 3) points uniform in the ellipsoid with semi-axes ``radii`` around ``centre``."""
    direction = rng.normal(size=(count, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12
    radius = rng.random(count)[:, None] ** (1 / 3)
    return direction * radius * np.asarray(radii) + np.asarray(centre)


def foliage(radii, centre, rng: np.random.Generator, density: float = LEAF_DENSITY) -> Mesh:
    """A porous crown: ``density`` leaves per m^3 (at most :data:`MAX_LEAVES`) in an ellipsoid."""
    volume = 4 / 3 * np.pi * float(np.prod(radii))
    count = int(np.clip(density * volume, 8, MAX_LEAVES))
    leaves = points_in_ellipsoid(radii, centre, count, rng)
    return scatter(leaves, LEAF_SIZE, float(rng.uniform(0.25, 0.55)), rng).tagged(sem.VEGETATION)


def tree(rng: np.random.Generator) -> tuple[Mesh, float]:
    """A trunk and a porous crown; returns the mesh and the trunk radius (its footprint)."""
    trunk_radius = float(rng.uniform(0.12, 0.3))
    trunk_height = float(rng.uniform(1.2, 3.0))
    crown = rng.uniform((1.2, 1.2, 1.0), (3.0, 3.0, 2.5))
    bark = float(rng.uniform(0.2, 0.4))
    parts = [
        cylinder(trunk_radius, 0.0, trunk_height + crown[2], bark).tagged(sem.TRUNK),
        foliage(crown, (0, 0, trunk_height + crown[2]), rng),
    ]
    return merge(parts), trunk_radius


def bush(rng: np.random.Generator) -> tuple[Mesh, tuple[float, float]]:
    """A low porous ellipsoid; returns the mesh and its (length, width) footprint."""
    radii = rng.uniform((0.4, 0.4, 0.3), (1.6, 1.0, 0.8))
    return foliage(radii, (0, 0, radii[2] * 0.8), rng, density=2 * LEAF_DENSITY), (2 * radii[0], 2 * radii[1])


def hedge(length: float, rng: np.random.Generator) -> tuple[Mesh, tuple[float, float]]:
    """A trimmed hedge along x: a dense leafy slab; returns the mesh and its (length, width) footprint."""
    width, height = float(rng.uniform(0.5, 1.2)), float(rng.uniform(0.7, 1.8))
    count = int(min(2 * LEAF_DENSITY * length * width * height, 4 * MAX_LEAVES))
    leaves = rng.uniform((-length / 2, -width / 2, 0.1), (length / 2, width / 2, height), size=(count, 3))
    return scatter(leaves, LEAF_SIZE, float(rng.uniform(0.25, 0.5)), rng).tagged(sem.VEGETATION), (length, width)


def fence(length: float, rng: np.random.Generator) -> Mesh:
    """A fence along x: posts every 2-3 m and either rails or a chain-link mesh (scattered returns)."""
    height = float(rng.uniform(0.9, 2.0))
    metal = float(rng.uniform(0.3, 0.7))
    posts = np.arange(-length / 2, length / 2 + 1e-6, float(rng.uniform(2.0, 3.0)))
    parts = [box(0.06, 0.06, 0.0, height, metal, x=float(x)) for x in posts]
    if rng.random() < 0.5:
        for z in (0.3 * height, 0.9 * height):
            parts.append(box(length, 0.04, z - 0.04, z + 0.04, metal))
    else:
        count = int(length * height * CHAIN_LINK_DENSITY)
        links = rng.uniform((-length / 2, -0.02, 0.0), (length / 2, 0.02, height), size=(count, 3))
        parts.append(scatter(links, 0.08, metal, rng))
    return merge(parts).tagged(sem.FENCE)


def pole(rng: np.random.Generator) -> tuple[Mesh, float]:
    """A street-light or sign pole, sometimes with a bright sign plate; returns mesh and radius."""
    radius = float(rng.uniform(0.05, 0.14))
    height = float(rng.uniform(2.5, 8.0))
    parts = [cylinder(radius, 0.0, height, float(rng.uniform(0.3, 0.8)), segments=6).tagged(sem.POLE)]
    if rng.random() < 0.4:
        plate = min(height - 0.3, 2.6)
        parts.append(box(0.04, 0.7, plate - 0.6, plate, 0.95, x=radius + 0.03).tagged(sem.TRAFFIC_SIGN))
    return merge(parts), radius


def street_object(kind: str, rng: np.random.Generator) -> tuple[Mesh, tuple[float, float]]:
    """An unlabelled object of about a pedestrian's or a cyclist's size, a hard negative for the detector:
    ``kind`` one of :data:`STREET_OBJECTS`. Returns the mesh (other-object, tagged) and its footprint."""
    paint = float(rng.uniform(0.1, 0.8))
    if kind == "bollard":
        radius, height = float(rng.uniform(0.06, 0.15)), float(rng.uniform(0.7, 1.2))
        return cylinder(radius, 0.0, height, paint, segments=8).tagged(sem.OTHER_OBJECT), (2 * radius, 2 * radius)
    if kind == "hydrant":
        radius = float(rng.uniform(0.1, 0.16))
        height = float(rng.uniform(0.6, 0.9))
        parts = [
            cylinder(radius, 0.0, height, paint, segments=8),
            box(0.1, 3 * radius, 0.6 * height - 0.05, 0.6 * height + 0.05, paint),
            ellipsoid((radius, radius, 0.1), (0, 0, height), paint, segments=6, rings=4),
        ]
        return merge(parts).tagged(sem.OTHER_OBJECT), (3 * radius, 3 * radius)
    if kind == "bin":
        side, height = float(rng.uniform(0.45, 0.8)), float(rng.uniform(0.8, 1.3))
        body = frustum((side, side), (side * 1.08, side * 1.08), 0.0, height, paint)
        return body.tagged(sem.OTHER_OBJECT), (side * 1.1, side * 1.1)
    if kind == "bench":
        length = float(rng.uniform(1.2, 2.2))
        parts = [box(length, 0.45, 0.42, 0.47, paint), box(length, 0.05, 0.5, 0.85, paint, y=-0.22)]
        parts += [box(0.06, 0.4, 0.0, 0.42, 0.3, x=sx * (length / 2 - 0.1)) for sx in (1, -1)]
        return merge(parts).tagged(sem.OTHER_OBJECT), (length, 0.5)
    if kind == "crate":
        dims = rng.uniform((0.4, 0.4, 0.4), (1.4, 1.0, 1.3))
        return box(dims[0], dims[1], 0.0, dims[2], paint).tagged(sem.OTHER_OBJECT), (dims[0], dims[1])
    if kind == "trailer":  # a car-sized box on one axle with a drawbar: looks like a car until its shape is read
        length, width, height = rng.uniform((2.0, 1.3, 0.9), (4.0, 2.0, 2.2))
        radius = 0.3
        parts = [box(length, width, 2 * radius - 0.1, height, paint)]
        parts += [wheel(radius, 0.18, 0.0, sy * (width / 2 - 0.09), 0.05) for sy in (1, -1)]
        parts.append(box(0.9, 0.08, 0.45, 0.5, 0.3, x=length / 2 + 0.45))
        return merge(parts).tagged(sem.OTHER_VEHICLE), (length + 1.8, width)  # the drawbar reaches 0.9 m out
    raise ValueError(f"unknown street object {kind!r}; choose one of {STREET_OBJECTS}")


STREET_OBJECTS = ("bollard", "hydrant", "bin", "bench", "crate", "trailer")


def facade(length: float, depth: float, height: float, rng: np.random.Generator) -> Mesh:
    """A building along x facing -y: blocks of 3-10 m with setbacks up to 1 m and their own heights,
    rows of windows (glass, :data:`GLASS`: no return) on the street face. The street face is at
    y = -depth / 2 where no block is set back; base at z = 0."""
    wall = float(rng.uniform(0.15, 0.7))
    parts, x = [], -length / 2
    while x < length / 2 - 0.5:
        block = min(float(rng.uniform(3.0, 10.0)), length / 2 - x)
        setback = float(rng.choice([0.0, 0.0, rng.uniform(0.2, 1.0)]))
        top = height * float(rng.uniform(0.8, 1.0)) if rng.random() < 0.5 else height
        centre = x + block / 2
        parts.append(box(block, depth - setback, 0.0, top, wall, x=centre, y=setback / 2))
        front = -depth / 2 + setback - 0.02
        floors = int(max(top - 1.0, 0) // 3.0)
        columns = int(block // 2.0)
        if floors and columns and rng.random() < 0.8:
            pane_w, pane_h = float(rng.uniform(0.8, 1.5)), float(rng.uniform(1.0, 1.8))
            for floor in range(floors):
                z0 = 1.0 + 3.0 * floor + 0.5
                for column in range(columns):
                    px = x + (column + 0.5) * block / columns
                    parts.append(box(pane_w, 0.02, z0, z0 + pane_h, GLASS, x=px, y=front))
        x += block
    return merge(parts).tagged(sem.BUILDING)
