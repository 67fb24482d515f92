"""Frequent itemset tables and vectorised association rule generation.

Itemsets are held as integer item ids (ids follow the sorted item names, so sorting ids sorts
names) with their transaction counts. Rules are every split of a frequent itemset into a non-empty
antecedent and consequent, the definition mlxtend's ``association_rules`` uses, with its measures
computed by the same formulas in the same floating-point order, so values match it exactly.

Rule generation never loops over rules in Python. Each itemset gets a 64-bit key, the XOR of
random per-item keys; the key of any subset is the XOR of its items' keys and the key of the
complement is the itemset's key XOR the subset's. By downward closure every antecedent and
consequent is itself a frequent itemset, so one ``searchsorted`` over the sorted keys finds
its count. Keys are checked to be distinct before use, which makes every lookup exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


# Candidate rules evaluated in one block: bounds the temporary arrays to a few tens of MB.
BLOCK = 1 << 18
# Largest packed sort key (support and both name ranks) that ``order_rules`` puts in an int64.
PACKED_KEY_LIMIT = 2**63


@dataclass
class ItemsetTable:
    """Frequent itemsets: ``members[k]`` is an (n_k, k) array of sorted item ids, ``counts[k]`` their counts."""

    items: list[str]
    members: dict[int, np.ndarray]
    counts: dict[int, np.ndarray]
    n_transactions: int

    @classmethod
    def from_pairs(cls, pairs, items: list[str], n_transactions: int) -> ItemsetTable:
        """Build a table from ``(tuple of item ids, count)`` pairs."""
        grouped: dict[int, tuple[list, list]] = {}
        for itemset, count in pairs:
            ids, counts = grouped.setdefault(len(itemset), ([], []))
            ids.append(sorted(itemset))
            counts.append(count)
        members = {k: np.asarray(ids, dtype=np.int32).reshape(len(ids), k) for k, (ids, _) in grouped.items()}
        counts = {k: np.asarray(found, dtype=np.int64) for k, (_, found) in grouped.items()}
        return cls(items, members, counts, n_transactions)

    @classmethod
    def from_flat(cls, items: list[str], lengths, members, counts, n_transactions: int) -> ItemsetTable:
        """Build a table from flat sequences: each itemset's length, all item ids in a row, and the counts.

        The ids of each itemset must be ascending. Itemsets keep their order within each length.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        members = np.asarray(members, dtype=np.int32)
        counts = np.asarray(counts, dtype=np.int64)
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        grouped_members: dict[int, np.ndarray] = {}
        grouped_counts: dict[int, np.ndarray] = {}
        for k in np.flatnonzero(np.bincount(lengths)).tolist():
            rows = np.flatnonzero(lengths == k)
            grouped_members[k] = members[starts[rows][:, None] + np.arange(k)].reshape(len(rows), k)
            grouped_counts[k] = counts[rows]
        return cls(items, grouped_members, grouped_counts, n_transactions)

    def __len__(self) -> int:
        return sum(len(counts) for counts in self.counts.values())

    @property
    def longest(self) -> int:
        return max((k for k, counts in self.counts.items() if len(counts)), default=0)

    def candidate_rules(self, max_length: int | None = None) -> int:
        """Count the candidate rules: every split of every itemset of at least two items (2^k - 2 each)."""
        return sum(
            (2**k - 2) * len(counts)
            for k, counts in self.counts.items()
            if k >= 2 and (max_length is None or k <= max_length)
        )

    def ordered(self) -> tuple[list[list[str]], np.ndarray]:
        """Return the itemsets as item-name lists with counts, by descending count, then length, then names.

        Ids follow the sorted names and are ascending within an itemset, so comparing id rows
        compares the name lists. Each length is sorted by count and ids, and one stable sort by
        count merges the lengths in ascending order.
        """
        names = np.asarray(self.items, dtype=object)
        named: list[list[str]] = []
        counts = []
        for k in sorted(self.members):
            members, found = self.members[k], self.counts[k]
            order = np.lexsort((*members.T[::-1], -found))
            named += names[members[order]].tolist()
            counts.append(found[order])
        flat_counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        order = np.argsort(-flat_counts, kind="stable")
        return [named[index] for index in order.tolist()], flat_counts[order]


@dataclass
class Rules:
    """Generated rules: antecedent and consequent as indexes into ``itemsets``, with the counts behind them.

    Measures are computed from the counts on demand (``measures``), a block at a time when
    writing, so millions of rules never hold a dozen float columns in memory at once.
    """

    itemsets: list[list[str]]
    antecedents: np.ndarray
    consequents: np.ndarray
    count_rule: np.ndarray
    count_a: np.ndarray
    count_c: np.ndarray
    n_transactions: int

    def __len__(self) -> int:
        return len(self.antecedents)

    def measures(self, rows: slice = slice(None)) -> dict[str, np.ndarray]:
        return measures(self.count_rule[rows], self.count_a[rows], self.count_c[rows], self.n_transactions)

    def take(self, order: np.ndarray) -> Rules:
        return Rules(
            self.itemsets,
            self.antecedents[order],
            self.consequents[order],
            self.count_rule[order],
            self.count_a[order],
            self.count_c[order],
            self.n_transactions,
        )


class _KeyIndex:
    """Sorted 64-bit itemset keys with the position of each itemset in a flat list."""

    def __init__(self, table: ItemsetTable, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.item_keys = rng.integers(1, np.iinfo(np.uint64).max, size=len(table.items), dtype=np.uint64)
        keys = [np.bitwise_xor.reduce(self.item_keys[table.members[k]], axis=1) for k in sorted(table.members)]
        flat = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        order = np.argsort(flat, kind="stable")
        self.sorted_keys = flat[order]
        self.flat_position = order
        self.distinct = bool(len(flat) < 2 or np.all(self.sorted_keys[1:] != self.sorted_keys[:-1]))

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Return the flat positions of ``keys``, all of which must be present."""
        where = np.searchsorted(self.sorted_keys, keys)
        if not np.array_equal(self.sorted_keys[np.minimum(where, len(self.sorted_keys) - 1)], keys):
            raise AssertionError("an antecedent or consequent is missing from the frequent itemsets")
        return self.flat_position[where]


def _key_index(table: ItemsetTable) -> _KeyIndex:
    for seed in range(8):
        index = _KeyIndex(table, seed)
        if index.distinct:
            return index
    raise AssertionError("could not find distinct itemset keys")


def _subset_keys(item_keys: np.ndarray) -> np.ndarray:
    """Return the keys of every subset of each row, indexed by bitmask: shape (rows, 2^k)."""
    rows, k = item_keys.shape
    keys = np.zeros((rows, 1 << k), dtype=np.uint64)
    for mask in range(1, 1 << k):
        low = mask & -mask
        keys[:, mask] = keys[:, mask ^ low] ^ item_keys[:, low.bit_length() - 1]
    return keys


def measures(count_rule: np.ndarray, count_a: np.ndarray, count_c: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Compute every rule measure with mlxtend's formulas and operation order (complete data)."""
    s_ac = count_rule / n
    s_a = count_a / n
    s_c = count_c / n
    confidence = (s_ac * n) / (s_a * n)
    leverage = s_ac - s_a * s_c
    conviction = np.full(confidence.shape, np.inf)
    below = confidence < 1.0
    conviction[below] = (1.0 - s_c[below]) / (1.0 - confidence[below])
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = np.maximum(s_ac * (1 - s_a), s_a * (s_c - s_ac))
        zhang = np.where(denominator == 0, 0, leverage / denominator)
        certainty = np.where(1 - s_c == 0, 0, (confidence - s_c) / (1 - s_c))
    reverse = (s_ac * n) / (s_c * n)
    return {
        "antecedent support": s_a,
        "consequent support": s_c,
        "support": s_ac,
        "confidence": confidence,
        "lift": confidence / s_c,
        "leverage": leverage,
        "conviction": conviction,
        "zhangs_metric": zhang.astype(float),
        "jaccard": s_ac / (s_a + s_c - s_ac),
        "certainty": certainty.astype(float),
        "kulczynski": (confidence + reverse) / 2,
        "representativity": np.full(confidence.shape, float(n) / n),
    }


def _score(metric: str, count_rule: np.ndarray, count_a: np.ndarray, count_c: np.ndarray, n: int) -> np.ndarray:
    """Compute one measure, skipping the others for confidence, support and lift (same operations as ``measures``)."""
    if metric == "confidence":
        return ((count_rule / n) * n) / ((count_a / n) * n)
    if metric == "support":
        return count_rule / n
    if metric == "lift":
        return (((count_rule / n) * n) / ((count_a / n) * n)) / (count_c / n)
    return measures(count_rule, count_a, count_c, n)[metric]


def _blocks(table: ItemsetTable) -> Iterator[tuple[int, slice]]:
    for k in sorted(table.members):
        if k < 2:
            continue
        step = max(1, BLOCK >> k)
        for start in range(0, len(table.counts[k]), step):
            yield k, slice(start, start + step)


def generate(table: ItemsetTable, metric: str, min_threshold: float) -> tuple[np.ndarray, ...]:
    """Return the flat positions of antecedent and consequent, and the three counts, of rules that pass.

    A rule is kept when ``metric >= min_threshold``, as in mlxtend.
    """
    if not any(k >= 2 and len(counts) for k, counts in table.counts.items()):
        return tuple(np.zeros(0, dtype=np.int32) for _ in range(5))  # no itemset has two items to split
    index = _key_index(table)
    flat_counts = np.concatenate([table.counts[k] for k in sorted(table.members)])
    count_type = np.int32 if table.n_transactions < 2**31 else np.int64
    found: list[tuple[np.ndarray, ...]] = []
    for k, rows in _blocks(table):
        subsets = _subset_keys(index.item_keys[table.members[k][rows]])
        antecedent_keys = subsets[:, 1:-1]
        position_a = index.find(antecedent_keys.ravel())
        position_c = index.find((antecedent_keys ^ subsets[:, -1:]).ravel())
        count_rule = np.repeat(table.counts[k][rows], antecedent_keys.shape[1])
        count_a, count_c = flat_counts[position_a], flat_counts[position_c]
        keep = _score(metric, count_rule, count_a, count_c, table.n_transactions) >= min_threshold
        found.append(
            (
                position_a[keep].astype(np.int32),
                position_c[keep].astype(np.int32),
                *(column[keep].astype(count_type) for column in (count_rule, count_a, count_c)),
            )
        )
    if not found:
        return tuple(np.zeros(0, dtype=np.int32) for _ in range(5))
    return tuple(np.concatenate(parts) for parts in zip(*found))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return the distinct values in ascending order, as ``np.unique`` does.

    ``np.unique`` in NumPy 2.4 imports ``numpy.ma`` on its first call, which took about 0.14 s
    of a mining run's start-up here. A sort and a comparison of neighbours give the same array.
    """
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def association_rules(table: ItemsetTable, metric: str, min_threshold: float, sort_by: str) -> Rules:
    """Generate and order the rules of ``table`` (see ``order_rules``)."""
    position_a, position_c, count_rule, count_a, count_c = generate(table, metric, min_threshold)
    used = _sorted_unique(np.concatenate([position_a, position_c]))
    itemsets = _named(table, used)
    rules = Rules(
        itemsets,
        np.searchsorted(used, position_a).astype(np.int32),
        np.searchsorted(used, position_c).astype(np.int32),
        count_rule,
        count_a,
        count_c,
        table.n_transactions,
    )
    return order_rules(rules, sort_by)


def _named(table: ItemsetTable, positions: np.ndarray) -> list[list[str]]:
    """Return the item names of the itemsets at sorted flat ``positions``."""
    names = np.asarray(table.items, dtype=object)
    lengths = sorted(table.members)
    starts = np.cumsum([0] + [len(table.counts[k]) for k in lengths])
    named: list[list[str]] = []
    for k, start, stop in zip(lengths, starts[:-1], starts[1:]):
        rows = positions[(positions >= start) & (positions < stop)] - start
        named += names[table.members[k][rows]].tolist()
    return named


def order_rules(rules: Rules, sort_by: str) -> Rules:
    """Order rules by ``sort_by`` (descending), then support (descending), then item names.

    Each rule is one (antecedent, consequent) pair, so the order is total. Where support and
    the two name ranks fit one int64 key, one sort by that key and a stable sort by ``sort_by``
    replace a four-key ``lexsort``, about twice as fast.
    """
    count = len(rules.itemsets)
    rank = np.empty(count, dtype=np.int64)
    rank[np.asarray(sorted(range(count), key=rules.itemsets.__getitem__), dtype=np.int64)] = np.arange(count)
    primary = _score(sort_by, rules.count_rule, rules.count_a, rules.count_c, rules.n_transactions)
    if (rules.n_transactions + 1) * count * count < PACKED_KEY_LIMIT:
        pair = rank[rules.antecedents] * count + rank[rules.consequents]
        key = (rules.n_transactions - rules.count_rule.astype(np.int64)) * (count * count) + pair
        by_key = np.argsort(key)
        order = by_key[np.argsort(-primary[by_key], kind="stable")]
    else:
        order = np.lexsort((rank[rules.consequents], rank[rules.antecedents], -rules.count_rule, -primary))
    return rules.take(order)
