"""Minimum-cost assignment (the Hungarian problem) for rectangular cost matrices, in NumPy.

Shortest augmenting paths with row/column potentials (Kuhn-Munkres in the Jonker-Volgenant form):
O(n^2 m) for n <= m, with the inner scan over columns vectorized. Used for Waymo's per-frame
matching, so the evaluation needs no SciPy.
"""

from __future__ import annotations

import numpy as np


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of a (N, M) cost matrix.

    Every row is assigned when N <= M (every column when N > M). Returns (rows, cols), int64
    arrays of length min(N, M) sorted by row, like ``scipy.optimize.linear_sum_assignment``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost: expected a 2D matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost: entries must be finite")
    if cost.shape[0] > cost.shape[1]:
        cols, rows = linear_sum_assignment(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # 1-based internally; column 0 is a virtual start column. row_of[j] = row assigned to column j (0 = none).
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    row_of = np.zeros(m + 1, dtype=np.int64)
    previous = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        row_of[0] = row
        column = 0
        min_slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[column] = True
            current_row = row_of[column]
            slack = cost[current_row - 1] - u[current_row] - v[1:]
            free = ~used[1:]
            improved = free & (slack < min_slack[1:])
            min_slack[1:][improved] = slack[improved]
            previous[1:][improved] = column
            candidates = np.where(free, min_slack[1:], np.inf)
            next_column = int(np.argmin(candidates)) + 1
            delta = candidates[next_column - 1]
            used_columns = np.flatnonzero(used)
            u[row_of[used_columns]] += delta
            v[used_columns] -= delta
            min_slack[1:][free] -= delta
            column = next_column
            if row_of[column] == 0:
                break
        while column:
            prior = previous[column]
            row_of[column] = row_of[prior]
            column = prior
    assigned = np.flatnonzero(row_of[1:])
    rows = row_of[1:][assigned] - 1
    order = np.argsort(rows)
    return rows[order].astype(np.int64), assigned[order].astype(np.int64)


def maximum_weight_matching(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of a one-to-one matching of maximum total weight using only positive entries
    of the (N, M) matrix ``weights``. The graph of positive entries is split into connected
    components first, each solved by :func:`linear_sum_assignment` (sparse IoU matrices give
    many tiny components). Sorted by row."""
    weights = np.asarray(weights, dtype=np.float64)
    edge_rows, edge_cols = np.nonzero(weights > 0)
    if len(edge_rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    num_rows = weights.shape[0]
    parent = np.arange(num_rows + weights.shape[1])  # union-find over rows then columns

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for r, c in zip(edge_rows, edge_cols):
        parent[root(r)] = root(num_rows + c)
    component = np.array([root(r) for r in edge_rows])
    rows, cols = [], []
    for label in np.unique(component):
        in_component = component == label
        sub_rows = np.unique(edge_rows[in_component])
        sub_cols = np.unique(edge_cols[in_component])
        sub = weights[np.ix_(sub_rows, sub_cols)]
        r, c = linear_sum_assignment(-np.where(sub > 0, sub, 0.0))
        positive = sub[r, c] > 0
        rows.append(sub_rows[r[positive]])
        cols.append(sub_cols[c[positive]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    order = np.argsort(rows)
    return rows[order].astype(np.int64), cols[order].astype(np.int64)
