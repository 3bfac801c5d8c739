"""Per-point semantic labels of a ray-cast scene, in SemanticKITTI's raw ids (``semantic-kitti.yaml``).

Each emitted point takes the raw id of the triangle its ray hit (``Mesh.semantic``); ground hits
(:data:`GROUND`, a placeholder) are resolved from the point's position in the street layout:
road lanes and the cross street -> road, the parking strips -> parking, the sidewalk bands ->
sidewalk, everything else -> terrain. Objects: cars and vans -> car, pedestrians -> person, a
cyclist's bicycle -> bicycle and its rider -> bicyclist; trailers -> other-vehicle; buildings ->
building, walls and fences -> fence, bollards, hydrants, bins, benches and crates -> other-object
(ignored by the learning map), poles -> pole, sign plates -> traffic-sign, tree trunks -> trunk,
crowns, bushes and hedges -> vegetation. Instance ids (upper 16 bits of a ``.label``) are the object's index
in ``scene.objects`` plus one for the labelled objects, 0 elsewhere.

The synthetic world has none of motorcycle, truck, motorcyclist, other-ground (:data:`ABSENT_CLASSES`);
its mIoU is taken over the other 15 learning classes.
"""

from __future__ import annotations

import numpy as np

CAR, BICYCLE, OTHER_VEHICLE, PERSON, BICYCLIST = 10, 11, 20, 30, 31
ROAD, PARKING, SIDEWALK, BUILDING, FENCE = 40, 44, 48, 50, 51
VEGETATION, TRUNK, TERRAIN, POLE, TRAFFIC_SIGN, OTHER_OBJECT = 70, 71, 72, 80, 81, 99
GROUND = 0xFFFF  # placeholder of the ground mesh, resolved per point by the street layout
ABSENT_CLASSES = ("motorcycle", "truck", "motorcyclist", "other-ground")


def point_labels(scene, raycast) -> np.ndarray:
    """(N,) uint32 SemanticKITTI labels (semantic | instance << 16) of ``raycast.points``, row-aligned."""
    meshes = [obj.mesh for obj in scene.objects] + [scene.background]
    table = np.concatenate([mesh.semantic_ids() for mesh in meshes])
    semantic = table[raycast.triangle[raycast.emitted]].astype(np.int64)
    on_ground = semantic == GROUND
    if on_ground.any():
        xy = raycast.points[on_ground, :2].astype(np.float64)
        semantic[on_ground] = scene.layout.ground_class(xy[:, 0], xy[:, 1])
    instance = raycast.object_index[raycast.emitted] + 1
    return (semantic | (instance << 16)).astype(np.uint32)
