"""The fim engine and vectorised rule generation against mlxtend, measure by measure."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dmrun.config.schema import RulesConfig
from dmrun.trainers import rulegen
from dmrun.trainers.rules import item_counts, mine_with_fim, mine_with_mlxtend
from dmrun.trainers.rules_output import rules_with_mlxtend


def random_baskets(seed: int, count: int = 300, everywhere: tuple[str, ...] = ()) -> list[list[str]]:
    """Baskets with skewed item frequencies; items in ``everywhere`` are in every basket."""
    rng = random.Random(seed)
    items = [f"item {index}" for index in range(14)] + ["牛奶", "面包"]
    weights = [1 / (rank + 1) for rank in range(len(items))]
    baskets = []
    for _ in range(count):
        size = rng.randint(1, 7)
        basket = set(rng.choices(items, weights, k=size)) | set(everywhere)
        baskets.append(sorted(basket))
    return baskets


def settings(**values) -> RulesConfig:
    return RulesConfig.model_validate({"type": "rules", **values})


def itemset_dict(table: rulegen.ItemsetTable) -> dict[frozenset, int]:
    itemsets, counts = table.ordered()
    return {frozenset(itemset): count for itemset, count in zip(itemsets, counts.tolist())}


def rule_dict(rules: rulegen.Rules) -> dict[tuple[frozenset, frozenset], dict[str, float]]:
    values = rules.measures()
    return {
        (frozenset(rules.itemsets[a]), frozenset(rules.itemsets[c])): {
            name: float(column[index]) for name, column in values.items()
        }
        for index, (a, c) in enumerate(zip(rules.antecedents.tolist(), rules.consequents.tolist()))
    }


def mlxtend_measures(table: rulegen.ItemsetTable, metric: str, threshold: float):
    """Rules and measures exactly as mlxtend's association_rules returns them."""
    import warnings

    import pandas as pd
    from mlxtend.frequent_patterns import association_rules

    itemsets, counts = table.ordered()
    frame = pd.DataFrame({"support": counts / table.n_transactions, "itemsets": [frozenset(s) for s in itemsets]})
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        found = association_rules(frame, num_itemsets=table.n_transactions, metric=metric, min_threshold=threshold)
    return {
        (frozenset(row.pop("antecedents")), frozenset(row.pop("consequents"))): {k: float(v) for k, v in row.items()}
        for row in found.to_dict("records")
    }


def test_mlxtend_engine_rules_equal_fim_rules():
    baskets = random_baskets(5, everywhere=("always",))
    config = settings(min_support=0.05)
    table = mine_with_fim(baskets, item_counts(baskets), config, min_count(baskets, 0.05))
    ours = rulegen.association_rules(table, "confidence", 0.5, "lift")
    theirs = rules_with_mlxtend(table, config)
    assert rule_dict(ours) == rule_dict(theirs)
    assert [rules_as_text(ours, i) for i in range(len(ours))] == [rules_as_text(theirs, i) for i in range(len(theirs))]


def rules_as_text(rules: rulegen.Rules, index: int) -> str:
    return f"{rules.itemsets[rules.antecedents[index]]} => {rules.itemsets[rules.consequents[index]]}"


def min_count(transactions, support: float) -> int:
    return max(1, int(np.ceil(support * len(transactions) - 1e-9)))


@pytest.mark.parametrize("everywhere", [(), ("always",), ("always", "也总是")])
@pytest.mark.parametrize("algorithm", ["fpgrowth", "apriori", "fpmax"])
def test_fim_itemsets_equal_mlxtend(algorithm, everywhere):
    baskets = random_baskets(1, everywhere=everywhere)
    config = settings(algorithm=algorithm, output="itemsets", min_support=0.05)
    by_fim = mine_with_fim(baskets, item_counts(baskets), config, min_count(baskets, 0.05))
    assert itemset_dict(by_fim) == itemset_dict(mine_with_mlxtend(baskets, config))


def test_fim_respects_max_len():
    baskets = random_baskets(2, everywhere=("always",))
    config = settings(min_support=0.05, max_len=2)
    table = mine_with_fim(baskets, item_counts(baskets), config, min_count(baskets, 0.05))
    assert table.longest == 2
    assert itemset_dict(table) == itemset_dict(mine_with_mlxtend(baskets, config))


@pytest.mark.parametrize(
    ("metric", "threshold"), [("confidence", 0.5), ("lift", 1.1), ("leverage", 0.0), ("conviction", 1.2), ("support", 0.1)]
)
def test_rules_and_every_measure_equal_mlxtend(metric, threshold):
    baskets = random_baskets(3, everywhere=("always",))
    config = settings(min_support=0.05, metric=metric, min_threshold=threshold)
    table = mine_with_fim(baskets, item_counts(baskets), config, min_count(baskets, 0.05))
    ours = rule_dict(rulegen.association_rules(table, metric, threshold, "lift"))
    reference = mlxtend_measures(table, metric, threshold)
    assert ours, "the data should give rules"
    assert ours.keys() == reference.keys()
    for key, values in reference.items():
        assert ours[key] == values, key


def test_rule_order_is_by_sort_measure_then_support():
    baskets = random_baskets(4)
    table = mine_with_fim(baskets, item_counts(baskets), settings(min_support=0.05), min_count(baskets, 0.05))
    rules = rulegen.association_rules(table, "confidence", 0.3, "lift")
    lift = rules.measures()["lift"]
    support = rules.measures()["support"]
    assert np.all(lift[:-1] >= lift[1:])
    ties = lift[:-1] == lift[1:]
    assert np.all(support[:-1][ties] >= support[1:][ties])


@pytest.mark.parametrize("sort_by", ["lift", "confidence", "leverage", "conviction", "zhangs_metric"])
def test_packed_rule_order_equals_lexsort(sort_by, monkeypatch):
    """The packed-key sort gives the same order as the four-key lexsort it replaces."""
    baskets = random_baskets(6, count=400, everywhere=("always",))
    table = mine_with_fim(baskets, item_counts(baskets), settings(min_support=0.02), min_count(baskets, 0.02))
    packed = rulegen.association_rules(table, "confidence", 0.0, sort_by)
    monkeypatch.setattr(rulegen, "PACKED_KEY_LIMIT", 0)
    unpacked = rulegen.association_rules(table, "confidence", 0.0, sort_by)
    assert len(packed) > 1000
    assert np.array_equal(packed.antecedents, unpacked.antecedents)
    assert np.array_equal(packed.consequents, unpacked.consequents)
    names = [(rules_as_text(packed, i)) for i in range(len(packed))]
    assert len(set(names)) == len(names)


def test_itemsets_ordered_by_count_length_names():
    baskets = random_baskets(7, count=500, everywhere=("always",))
    table = mine_with_fim(baskets, item_counts(baskets), settings(min_support=0.01), min_count(baskets, 0.01))
    itemsets, counts = table.ordered()
    pairs = list(zip(counts.tolist(), itemsets))
    assert len(pairs) == len(table)
    assert len(pairs) > 500
    assert pairs == sorted(pairs, key=lambda pair: (-pair[0], len(pair[1]), pair[1]))
    assert all(itemset == sorted(itemset) for itemset in itemsets)


def test_no_rules_from_single_items():
    baskets = [["a"], ["b"], ["a"], ["c"]]
    table = mine_with_fim(baskets, item_counts(baskets), settings(min_support=0.25), 1)
    rules = rulegen.association_rules(table, "confidence", 0.5, "lift")
    assert len(rules) == 0
    assert table.candidate_rules() == 0
