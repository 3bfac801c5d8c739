"""Both pictures render headless, are not blank and show the ground-truth and prediction colours."""

import numpy as np
import pytest
from matplotlib.image import imread

from voxformer.benchmark.scans import ring_scan
from voxformer.visualization.palette import GT_COLOR, PRED_COLOR
from voxformer.visualization.scene import render_scene

GT = np.array([[12.0, 3.0, -0.9, 4.5, 1.9, 1.6, 0.4], [25.0, -6.0, -0.9, 4.2, 1.8, 1.5, -1.2]], np.float32)
PRED = GT + np.array([0.6, -0.4, 0.0, 0.0, 0.0, 0.0, 0.2], np.float32)


def colour_fraction(image: np.ndarray, colour, tolerance: float = 0.12) -> float:
    """Fraction of pixels within ``tolerance`` (per channel) of ``colour``."""
    close = np.abs(image[..., :3] - np.asarray(colour)[None, None]).max(axis=-1) < tolerance
    return float(close.mean())


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    points = ring_scan(azimuth_steps=600, num_obstacles=40).numpy()
    written = render_scene(tmp_path_factory.mktemp("pictures") / "frame", points, gt=GT, pred=PRED)
    return {path.name.split("_")[-1]: imread(path) for path in written}


@pytest.mark.parametrize("kind", ["bev.png", "3d.png"])
def test_picture_is_not_blank_and_shows_both_box_colours(pictures, kind):
    assert kind in pictures, f"{kind} was not written (Open3D off-screen rendering unavailable?)"
    image = pictures[kind]
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.02, "picture is blank"
    assert colour_fraction(image, GT_COLOR) > 1e-5, "no ground-truth colour"
    assert colour_fraction(image, PRED_COLOR) > 1e-5, "no prediction colour"


def test_palette_keeps_ground_truth_and_predictions_apart():
    assert np.abs(np.subtract(GT_COLOR, PRED_COLOR)).max() > 0.5
