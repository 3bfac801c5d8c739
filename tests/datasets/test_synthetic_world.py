"""The synthetic world's clutter and sensor model: porous vegetation, glass, hard negatives, per-beam gain."""

import numpy as np
import pytest
import torch

from voxformer.datasets.synthetic import meshes
from voxformer.datasets.synthetic import semantics as sem
from voxformer.datasets.synthetic.scene import Scene, build_scene
from voxformer.datasets.synthetic.sensors import get_sensor


def _cast(background, rng_seed=0, sensor="hdl64"):
    from voxformer.datasets.synthetic.lidar import cast

    scene = Scene(objects=[], background=background, layout=None)
    return cast(scene, get_sensor(sensor), np.random.default_rng(rng_seed))


def test_scatter_puts_one_small_triangle_around_each_centre():
    rng = np.random.default_rng(0)
    centres = rng.uniform(-5, 5, size=(200, 3))
    mesh = meshes.scatter(centres, 0.2, 0.5, rng)
    assert mesh.triangles.shape == (200, 3) and len(mesh.vertices) == 600
    np.testing.assert_allclose(mesh.vertices[mesh.triangles].mean(1), centres, atol=0.5)
    assert mesh.reflectance.min() >= 0.35 and mesh.reflectance.max() <= 0.65
    assert meshes.scatter(np.zeros((0, 3)), 0.2, 0.5, rng).triangles.shape == (0, 3)


def test_foliage_fills_its_ellipsoid():
    rng = np.random.default_rng(1)
    radii, centre = np.array([2.0, 1.5, 1.0]), np.array([0.0, 0.0, 4.0])
    crown = meshes.foliage(radii, centre, rng)
    leaves = crown.vertices[crown.triangles].mean(1)
    assert len(crown.triangles) == int(meshes.LEAF_DENSITY * 4 / 3 * np.pi * radii.prod())
    assert (np.linalg.norm((leaves - centre) / radii, axis=1) < 1.3).all()
    assert (crown.semantic_ids() == sem.VEGETATION).all()


@pytest.mark.parametrize("porous", [True, False])
def test_a_crown_lets_rays_in_and_returns_them_from_scattered_depths(porous):
    pytest.importorskip("open3d")
    radii, centre = (2.5, 2.5, 2.0), (12.0, 0.0, 0.0)
    rng = np.random.default_rng(2)
    crown = meshes.foliage(radii, centre, rng) if porous else meshes.ellipsoid(radii, centre, 0.4)
    raycast = _cast(crown)
    directions = get_sensor("hdl64").directions.reshape(-1, 3)
    # rays aimed at the crown's core: within 0.1 rad of its centre and 1 m of its middle height
    aimed = (np.abs(np.arctan2(directions[:, 1], directions[:, 0])) < 0.1) & (np.abs(directions[:, 2] * 12) < 1.0)
    hit = aimed & np.isfinite(raycast.distance)
    depth = raycast.distance[hit] * directions[hit, 0]
    passed = 1 - hit.sum() / aimed.sum()
    if porous:
        assert depth.std() > 0.3 and 0.02 < passed < 0.6, (depth.std(), passed)
    else:  # a solid shell: every aimed ray stops on its near face
        assert depth.std() < 0.3 and passed == 0


def test_glass_returns_nothing_and_walls_do():
    pytest.importorskip("open3d")
    glass = meshes.box(0.05, 20.0, -2.0, 2.0, meshes.GLASS, x=8.0)
    wall = meshes.box(0.05, 20.0, -2.0, 2.0, 0.5, x=8.0)
    assert len(_cast(glass).points) == 0
    assert len(_cast(wall).points) > 500


def test_each_beam_has_its_own_intensity_gain(monkeypatch):
    pytest.importorskip("open3d")
    from voxformer.datasets.synthetic import lidar

    wall = meshes.box(0.05, 40.0, -3.0, 3.0, 0.5, x=10.0)

    def beam_spread():
        raycast = _cast(wall)
        points = raycast.points
        beam = np.flatnonzero(raycast.emitted) // get_sensor("hdl64").azimuth_steps
        ids, inverse = np.unique(beam, return_inverse=True)
        sums = np.bincount(inverse, points[:, 3])
        counts = np.bincount(inverse)
        means = sums[counts > 50] / counts[counts > 50]
        # the wall's shading changes smoothly with elevation: compare each beam with its neighbours
        return np.abs(np.diff(means)).mean() / means.mean()

    assert beam_spread() > 0.05
    monkeypatch.setattr(lidar, "BEAM_GAIN_SPREAD", 0.0)
    assert beam_spread() < 0.03


@pytest.mark.parametrize("kind", meshes.STREET_OBJECTS)
def test_street_objects_stand_on_the_ground_inside_their_footprint(kind):
    mesh, (length, width) = meshes.street_object(kind, np.random.default_rng(3))
    vertices = mesh.vertices
    assert abs(vertices[:, 2].min()) < 0.03 and vertices[:, 2].max() < 2.5  # wheels are polygons
    assert np.abs(vertices[:, 0]).max() <= length / 2 + 1e-5 and np.abs(vertices[:, 1]).max() <= width / 2 + 1e-5
    expected = sem.OTHER_VEHICLE if kind == "trailer" else sem.OTHER_OBJECT
    assert (mesh.semantic_ids() == expected).all()


def test_unknown_street_object_names_the_choices():
    with pytest.raises(ValueError, match="bollard"):
        meshes.street_object("statue", np.random.default_rng(0))


def test_a_facade_has_setbacks_and_windows_on_its_street_face():
    mesh = meshes.facade(40.0, 12.0, 15.0, np.random.default_rng(4))
    glass = mesh.reflectance == meshes.GLASS
    assert glass.any() and (~glass).any()
    window_y = mesh.vertices[mesh.triangles[glass]].reshape(-1, 3)[:, 1]
    assert window_y.max() < -6.0 + 1.0 + 1e-3  # on the street side (y = -depth / 2), at most 1 m set back
    assert (mesh.semantic_ids() == sem.BUILDING).all()


def test_a_scene_holds_the_street_clutter():
    pytest.importorskip("open3d")
    tags = set()
    for seed in range(4):
        scene = build_scene(np.random.default_rng([seed, 0]), 1.73)
        tags |= set(np.unique(scene.background.semantic_ids()).tolist())
        assert (scene.background.reflectance == meshes.GLASS).any()
    assert {sem.VEGETATION, sem.FENCE, sem.OTHER_OBJECT, sem.TERRAIN, sem.BUILDING, sem.POLE} <= tags


def test_intensity_jitter_scales_one_factor_per_sample_and_clips():
    from voxformer.datasets.transforms import IntensityJitter

    points = torch.tensor([[0, 0, 0, 0.2], [1, 1, 1, 0.9], [2, 2, 2, 0.0]])
    out = IntensityJitter(scale_range=(2.0, 2.0))({"points": points})["points"]
    torch.testing.assert_close(out[:, 3], torch.tensor([0.4, 1.0, 0.0]))
    torch.testing.assert_close(out[:, :3], points[:, :3])
    np.random.seed(0)
    out = IntensityJitter(scale_range=(0.5, 1.5))({"points": points})["points"]
    assert 0.1 <= out[0, 3] <= 0.3 and torch.isclose(out[0, 3] / 0.2, out[1, 3] / 0.9)


def test_random_point_drop_keeps_the_labels_aligned():
    from voxformer.datasets.transforms import RandomPointDrop

    points = torch.arange(4000, dtype=torch.float32)[:, None].repeat(1, 4)
    labels = torch.arange(4000)
    np.random.seed(0)
    out = RandomPointDrop(keep_range=(0.5, 0.5))({"points": points, "pts_semantic_mask": labels})
    assert 1800 < len(out["points"]) < 2200
    torch.testing.assert_close(out["points"][:, 0].long(), out["pts_semantic_mask"])
    assert len(RandomPointDrop(keep_range=(1.0, 1.0))({"points": points})["points"]) == 4000
    assert len(RandomPointDrop()({"points": points[:0]})["points"]) == 0
