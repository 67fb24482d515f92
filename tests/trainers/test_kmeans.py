"""The distinct-point count that guards k-means against more clusters than points."""

from __future__ import annotations

import numpy as np

from dmrun.trainers import kmeans
from dmrun.trainers.kmeans import count_distinct_rows


def test_count_of_distinct_rows():
    X = np.arange(20_000, dtype=np.float64).reshape(-1, 2)
    assert count_distinct_rows(X) == 10_000


def test_count_of_repeated_rows():
    X = np.repeat(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), 1_000, axis=0)
    assert count_distinct_rows(X) == 3


def test_count_crosses_blocks():
    # Two distinct rows, the second one only after the first 1,024.
    X = np.zeros((3_000, 4), dtype=np.float32)
    X[2_500] = 1.0
    assert count_distinct_rows(X) == 2


def test_negative_zero_equals_zero():
    X = np.array([[0.0, 1.0], [-0.0, 1.0]])
    assert count_distinct_rows(X) == 1


def test_hash_collisions_keep_points_apart(monkeypatch):
    monkeypatch.setattr(kmeans, "row_hash", lambda key: 0)
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [5.0, 6.0], [3.0, 4.0]])
    assert count_distinct_rows(X) == 3


def test_count_agrees_with_numpy_unique():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(2_500, 3)).astype(np.float64)
    assert count_distinct_rows(X) == len(np.unique(X, axis=0))
