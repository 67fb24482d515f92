"""Synthetic market baskets in the style of the IBM Quest generator (Agrawal and Srikant, 1994).

Baskets are built from a pool of "potentially large" itemsets: each basket draws pattern after
pattern (weighted by an exponential weight) until it reaches a Poisson-distributed size, and each
pattern is corrupted by dropping items. Patterns share part of their items with the previous one.
The defaults follow the T10I4 family: baskets of 10 items on average, patterns of 4, 1,000 items.

    python bench/quest.py --baskets 100000 --out t10i4.dat
"""

from __future__ import annotations

import argparse

import numpy as np


def generate(
    baskets: int,
    items: int = 1000,
    avg_basket: float = 10.0,
    avg_pattern: float = 4.0,
    patterns: int = 2000,
    correlation: float = 0.5,
    corruption: float = 0.5,
    seed: int = 0,
) -> list[list[int]]:
    """Return ``baskets`` transactions of integer item ids."""
    rng = np.random.default_rng(seed)
    pool: list[np.ndarray] = []
    previous = np.zeros(0, dtype=np.int64)
    for _ in range(patterns):
        size = max(1, rng.poisson(avg_pattern - 1) + 1)
        shared = min(len(previous), int(round(rng.exponential(correlation) * size)), size)
        kept = rng.choice(previous, shared, replace=False) if shared else np.zeros(0, dtype=np.int64)
        fresh = rng.choice(items, size - shared, replace=False)
        previous = np.unique(np.concatenate([kept, fresh]))
        pool.append(previous)
    weights = rng.exponential(1.0, patterns)
    weights /= weights.sum()
    noise = np.clip(rng.normal(corruption, 0.1, patterns), 0, 1)
    picks = rng.choice(patterns, size=baskets * 8, p=weights)
    transactions: list[list[int]] = []
    cursor = 0
    for target in np.maximum(1, rng.poisson(avg_basket, baskets)):
        basket: set[int] = set()
        while len(basket) < target:
            pattern = picks[cursor % len(picks)]
            cursor += 1
            chosen = pool[pattern]
            kept = chosen[rng.random(len(chosen)) >= noise[pattern]]
            if len(basket) + len(kept) > target and basket and rng.random() < 0.5:
                break
            basket.update(kept.tolist())
        transactions.append(sorted(basket))
    return transactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    options = parser.parse_args()
    with open(options.out, "w", encoding="ascii") as stream:
        for basket in generate(options.baskets, options.items, seed=options.seed):
            stream.write(" ".join(map(str, basket)) + "\n")


if __name__ == "__main__":
    main()
