import numpy as np
import pytest
import torch

from voxformer.structures import check_window_fits, derive_sparse_shape, in_bev_range


@pytest.mark.parametrize(
    "pc_range, voxel, expected",
    [
        ([-74.88, -74.88, -2, 74.88, 74.88, 4], [0.32, 0.32, 6], (1, 468, 468)),
        ([-76.8, -76.8, -2, 76.8, 76.8, 4], [0.32, 0.32, 0.1875], (32, 480, 480)),
        ([0, -40, -3, 70.4, 40, 1], [0.05, 0.05, 0.1], (40, 1600, 1408)),
        ([-54, -54, -5, 54, 54, 3], [0.3, 0.3, 8], (1, 360, 360)),
    ],
)
def test_published_grids(pc_range, voxel, expected):
    assert derive_sparse_shape(pc_range, voxel) == expected


def test_range_not_a_whole_number_of_voxels_names_keys_and_numbers():
    with pytest.raises(ValueError) as info:
        derive_sparse_shape([-75, -75, -2, 75, 75, 4], [0.32, 0.32, 6])
    message = str(info.value)
    assert "point_cloud_range" in message and "voxel_size" in message and "468.75" in message


def test_non_positive_sizes_and_wrong_lengths():
    with pytest.raises(ValueError, match="positive"):
        derive_sparse_shape([0, 0, 0, 1, 1, 1], [0.1, 0.0, 0.1])
    with pytest.raises(ValueError, match="6 numbers"):
        derive_sparse_shape([0, 0, 1, 1], [0.1, 0.1, 0.1])


def test_window_must_fit_grid():
    check_window_fits((1, 468, 468), (1, 12, 12))
    with pytest.raises(ValueError, match="window_shape .* does not fit"):
        check_window_fits((1, 10, 468), (1, 12, 12))


@pytest.mark.parametrize("to_array", [np.asarray, torch.tensor])
def test_in_bev_range_is_half_open_in_x_and_y_and_ignores_z(to_array):
    centres = to_array([[0.0, 0.0, 50.0], [-10.0, -5.0, 0.0], [10.0, 0.0, 0.0], [0.0, 5.0, 0.0], [-10.1, 0.0, 0.0]])
    keep = in_bev_range(centres, [-10, -5, -3, 10, 5, 1])
    assert type(keep) is type(centres)
    assert keep.tolist() == [True, True, False, False, False]
