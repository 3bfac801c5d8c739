import itertools

import numpy as np
import pytest

from voxformer.evaluation.assignment import linear_sum_assignment, maximum_weight_matching


def brute_force_min_cost(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min((sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n)), default=0.0)
    return min((sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m)), default=0.0)


@pytest.mark.parametrize("seed", range(60))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = (int(v) for v in rng.integers(0, 6, 2))
    cost = rng.integers(0, 4, (n, m)).astype(float) if seed % 2 else rng.normal(size=(n, m))
    rows, cols = linear_sum_assignment(cost)
    assert len(rows) == min(n, m)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert np.all(np.diff(rows) > 0)
    assert cost[rows, cols].sum() == pytest.approx(brute_force_min_cost(cost))


def test_greedy_would_be_wrong():
    # greedy takes (0, 0) = 0.9 and leaves 0.1; the optimum pairs 0-1 and 1-0 for 0.8 + 0.8
    weights = np.array([[0.9, 0.8], [0.8, 0.0]])
    rows, cols = maximum_weight_matching(weights)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]


@pytest.mark.parametrize("seed", range(30))
def test_maximum_weight_matching_uses_only_positive_entries(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = (int(v) for v in rng.integers(1, 6, 2))
    weights = np.where(rng.uniform(size=(n, m)) < 0.4, rng.uniform(0.1, 1, (n, m)), 0.0)
    rows, cols = maximum_weight_matching(weights)
    assert np.all(weights[rows, cols] > 0)
    assert weights[rows, cols].sum() == pytest.approx(-brute_force_min_cost(-weights))


def test_empty_and_bad_input():
    assert [len(a) for a in linear_sum_assignment(np.zeros((0, 3)))] == [0, 0]
    assert [len(a) for a in maximum_weight_matching(np.zeros((3, 2)))] == [0, 0]
    with pytest.raises(ValueError, match="finite"):
        linear_sum_assignment(np.array([[np.inf]]))
