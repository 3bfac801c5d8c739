"""scatter_to_bev / gather_from_bev: against a per-voxel loop, round trip, gradients, empty input."""

import pytest
import torch
from voxformer.ops import gather_from_bev, scatter_to_bev


def random_pillars(rng, batch_size=3, grid=(5, 7), m=20, channels=4):
    """Unique (b, y, x) cells with a random z, and features."""
    cells = torch.randperm(batch_size * grid[0] * grid[1], generator=rng)[:m]
    b, rest = cells // (grid[0] * grid[1]), cells % (grid[0] * grid[1])
    z = torch.randint(0, 3, (m,), generator=rng)
    coords = torch.stack([b, z, rest // grid[1], rest % grid[1]], dim=1).int()
    return torch.randn(m, channels, generator=rng, dtype=torch.float64), coords


def test_scatter_matches_loop(rng):
    features, coords = random_pillars(rng)
    bev = scatter_to_bev(features, coords, batch_size=4, grid_yx=(5, 7))
    expected = torch.zeros(4, 4, 5, 7, dtype=torch.float64)
    for f, (b, _, y, x) in zip(features, coords.tolist()):
        expected[b, :, y, x] = f
    assert bev.is_contiguous()
    assert torch.equal(bev, expected)


def test_gather_inverts_scatter(rng):
    features, coords = random_pillars(rng)
    assert torch.equal(gather_from_bev(scatter_to_bev(features, coords, 3, (5, 7)), coords), features)
    bev = torch.randn(3, 2, 5, 7, generator=rng)
    gathered = gather_from_bev(bev, coords)
    for row, (b, _, y, x) in zip(gathered, coords.tolist()):
        assert torch.equal(row, bev[b, :, y, x])


def test_gradients(rng):
    features, coords = random_pillars(rng, m=6, channels=2)
    features.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: scatter_to_bev(f, coords, 3, (5, 7)), (features,))
    bev = torch.randn(3, 2, 5, 7, generator=rng, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: gather_from_bev(m, coords), (bev,))


def test_empty_inputs():
    bev = scatter_to_bev(torch.zeros(0, 3), torch.zeros(0, 4, dtype=torch.int32), 2, (4, 5))
    assert bev.shape == (2, 3, 4, 5) and bev.abs().sum() == 0
    assert gather_from_bev(bev, torch.zeros(0, 4, dtype=torch.int32)).shape == (0, 3)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="coords"):
        scatter_to_bev(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int32), 1, (4, 4))
    with pytest.raises(ValueError, match="coords"):
        scatter_to_bev(torch.zeros(2, 3), torch.zeros(3, 4, dtype=torch.int32), 1, (4, 4))
    with pytest.raises(ValueError, match="grid_yx"):
        scatter_to_bev(torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.int32), 1, (4, 4, 1))
    with pytest.raises(ValueError, match="bev"):
        gather_from_bev(torch.zeros(3, 4, 4), torch.zeros(2, 4, dtype=torch.int32))
