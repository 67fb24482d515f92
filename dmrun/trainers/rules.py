"""Frequent itemsets and association rules with mlxtend.

Baskets are one-hot encoded as a sparse matrix, so memory grows with the number of item
occurrences rather than baskets x distinct items. Itemsets are written as lists in JSON and as
one ``|``-separated string in CSV, never as a Python ``frozenset(...)`` repr.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np

from dmrun.config.schema import ExperimentConfig, RulesConfig
from dmrun.data.types import Baskets
from dmrun.errors import DataError
from dmrun.rundir import write_atomic, write_csv
from dmrun.trainers.base import TrainContext, TrainResult

ITEM_SEPARATOR = "|"
RULE_MEASURES = [
    "antecedent support",
    "consequent support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
    "jaccard",
    "certainty",
    "kulczynski",
    "representativity",
]


def itemset_lower_bound(transactions: list[list[str]], min_count: int, max_len: int | None) -> tuple[int, int]:
    """Return a lower bound on the number of frequent itemsets and the basket size behind it.

    The ``min_count`` largest baskets all contain their common items, so every non-empty subset
    of that intersection (up to ``max_len`` items) is frequent.
    """
    largest = sorted(transactions, key=len, reverse=True)[:min_count]
    if len(largest) < min_count:
        return 0, 0
    common = set(largest[0]).intersection(*map(set, largest[1:]))
    size = len(common)
    limit = size if max_len is None else min(size, max_len)
    return sum(math.comb(size, length) for length in range(1, limit + 1)), size


def effective_support(settings: RulesConfig, total: int) -> float:
    """Return the support fraction, converting ``min_count`` when it is set."""
    if settings.min_count is None:
        return settings.min_support
    if settings.min_count > total:
        raise DataError(
            f"min_count {settings.min_count} is larger than the number of transactions ({total})",
            hint=f"use a count of at most {total}",
        )
    return settings.min_count / total


def check_size(baskets: Baskets, settings: RulesConfig) -> int:
    """Reject a mining run whose itemset count is certain to exceed ``settings.max_itemsets``."""
    total = len(baskets.transactions)
    min_count = max(1, math.ceil(settings.min_support * total - 1e-9))
    bound, size = itemset_lower_bound(baskets.transactions, min_count, settings.max_len)
    if bound > settings.max_itemsets:
        raise DataError(
            f"min_support {settings.min_support:g} x {total} transactions = {min_count} basket(s); "
            f"{min_count} basket(s) share {size} items, which alone produce at least {bound:.3g} itemsets "
            f"(limit {settings.max_itemsets:,})",
            hint="raise the support, or limit the itemset length with max_len (--max-len)",
        )
    return min_count


def encode(transactions: list[list[str]]):
    """One-hot encode baskets into a sparse boolean DataFrame with one column per item."""
    import pandas as pd
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    matrix = encoder.fit(transactions).transform(transactions, sparse=True)
    return pd.DataFrame.sparse.from_spmatrix(matrix, columns=[str(item) for item in encoder.columns_])


def mine_itemsets(onehot, settings: RulesConfig):
    from mlxtend.frequent_patterns import apriori, fpgrowth, fpmax

    miner = {"apriori": apriori, "fpgrowth": fpgrowth, "fpmax": fpmax}[settings.algorithm]
    itemsets = miner(onehot, min_support=settings.min_support, use_colnames=True, max_len=settings.max_len)
    itemsets["itemsets"] = itemsets["itemsets"].map(lambda items: sorted(items))
    itemsets["length"] = itemsets["itemsets"].map(len)
    return itemsets.sort_values(["support", "length"], ascending=[False, True], kind="stable").reset_index(drop=True)


def candidate_rules(itemsets) -> int:
    """Count the rules mlxtend evaluates: every split of every itemset into two non-empty parts."""
    return int(sum(2**length - 2 for length in itemsets["length"] if length >= 2))


def check_rule_count(itemsets, settings: RulesConfig) -> int:
    """Reject rule generation whose candidate count exceeds ``settings.max_rules``."""
    candidates = candidate_rules(itemsets)
    if candidates > settings.max_rules:
        longest = int(itemsets["length"].max())
        fitting = [
            length
            for length in range(2, longest)
            if candidate_rules(itemsets[itemsets["length"] <= length]) <= settings.max_rules
        ]
        advice = f"--max-len {fitting[-1]} fits; " if fitting else ""
        raise DataError(
            f"{len(itemsets):,} frequent itemsets (up to {longest} items) give {candidates:,} candidate rules "
            f"(limit {settings.max_rules:,}); generating and writing them would take very long and a lot of disk",
            hint=f"{advice}otherwise raise the support, or raise max_rules (--max-rules) if you need them all",
        )
    return candidates


def mine_rules(itemsets, n_transactions: int, settings: RulesConfig):
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules

    if (itemsets["length"] < 2).all():
        return pd.DataFrame(columns=["antecedents", "consequents", *RULE_MEASURES])
    frozen = itemsets[["support", "itemsets"]].assign(itemsets=itemsets["itemsets"].map(frozenset))
    # mlxtend divides by zero for measures such as conviction at confidence 1 and warns about it.
    # The warning is dropped because the files record those values as inf (CSV) and null (JSON).
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        rules = association_rules(
            frozen, num_itemsets=n_transactions, metric=settings.metric, min_threshold=settings.min_threshold
        )
    rules["antecedents"] = rules["antecedents"].map(sorted)
    rules["consequents"] = rules["consequents"].map(sorted)
    rules["_order"] = rules["antecedents"].map(ITEM_SEPARATOR.join) + "=>" + rules["consequents"].map(ITEM_SEPARATOR.join)
    rules = rules.sort_values([settings.sort_by, "support", "_order"], ascending=[False, False, True], kind="stable")
    measures = [column for column in RULE_MEASURES if column in rules.columns]
    return rules[["antecedents", "consequents", *measures]].reset_index(drop=True)


def _finite_or_none(values) -> list[Any]:
    """Return a column as Python floats, with NaN and infinities as ``None`` (JSON null)."""
    array = np.asarray(values, dtype=float)
    return [float(value) if finite else None for value, finite in zip(array.tolist(), np.isfinite(array).tolist())]


def write_json_records(path, columns: dict[str, list[Any]]) -> None:
    """Write a JSON array with one compact object per line.

    Each record goes through the C JSON encoder on its own, which is many times faster than
    an indented dump of the whole list for hundreds of thousands of rules.
    """
    keys = list(columns)
    lines = (
        json.dumps(dict(zip(keys, values)), ensure_ascii=False, allow_nan=False) for values in zip(*columns.values())
    )
    write_atomic(path, "[\n" + ",\n".join(lines) + "\n]\n")


def write_itemsets(context: TrainContext, itemsets, n_transactions: int) -> list[str]:
    supports = itemsets["support"].astype(float).tolist()
    counts = [round(support * n_transactions) for support in supports]
    items = itemsets["itemsets"].tolist()
    lengths = [len(itemset) for itemset in items]
    write_csv(
        context.artifacts / "itemsets.csv",
        ["itemset", "length", "support", "count"],
        zip((ITEM_SEPARATOR.join(itemset) for itemset in items), lengths, supports, counts),
    )
    columns = {"itemset": items, "length": lengths, "support": supports, "count": counts}
    write_json_records(context.artifacts / "itemsets.json", columns)
    return ["artifacts/itemsets.csv", "artifacts/itemsets.json"]


def write_rules(context: TrainContext, rules) -> list[str]:
    """Write rules as CSV (``|``-joined items, ``inf`` for infinite conviction) and JSON (lists, ``null``)."""
    measures = [column for column in rules.columns if column not in ("antecedents", "consequents")]
    antecedents = rules["antecedents"].tolist()
    consequents = rules["consequents"].tolist()
    values = [rules[measure].astype(float).tolist() for measure in measures]
    write_csv(
        context.artifacts / "rules.csv",
        ["antecedents", "consequents", *measures],
        zip(
            (ITEM_SEPARATOR.join(items) for items in antecedents),
            (ITEM_SEPARATOR.join(items) for items in consequents),
            *values,
        ),
    )
    columns = {"antecedents": antecedents, "consequents": consequents}
    columns.update({measure: _finite_or_none(column) for measure, column in zip(measures, values)})
    write_json_records(context.artifacts / "rules.json", columns)
    return ["artifacts/rules.csv", "artifacts/rules.json"]


def fit(config: ExperimentConfig, data: Baskets, context: TrainContext) -> TrainResult:
    settings: RulesConfig = config.model
    n_transactions = len(data.transactions)
    settings = settings.model_copy(update={"min_support": effective_support(settings, n_transactions)})
    min_count = check_size(data, settings)

    context.reporter.status(f"encoding {n_transactions} transactions")
    onehot = encode(data.transactions)
    context.reporter.status(f"mining itemsets with {settings.algorithm} at min_support {settings.min_support:g}")
    itemsets = mine_itemsets(onehot, settings)
    artifacts = write_itemsets(context, itemsets, n_transactions)
    metrics: dict[str, Any] = {
        "transactions": n_transactions,
        "distinct_items": int(onehot.shape[1]),
        "min_support": settings.min_support,
        "min_count": min_count,
        "itemsets": int(len(itemsets)),
        "max_itemset_length": int(itemsets["length"].max()) if len(itemsets) else 0,
    }
    if settings.output == "itemsets":
        top = itemsets.head(settings.top)
        table = (["itemset", "support"], [[", ".join(items), f"{support:.4f}"] for items, support in zip(top["itemsets"], top["support"])])
        return TrainResult(metrics=metrics, artifacts=artifacts, table=table)

    candidates = check_rule_count(itemsets, settings)
    context.reporter.status(
        f"generating rules from {candidates:,} candidates with {settings.metric} >= {settings.min_threshold:g}"
    )
    rules = mine_rules(itemsets, n_transactions, settings)
    artifacts += write_rules(context, rules)
    metrics["rules"] = int(len(rules))
    top = rules.head(settings.top)
    header = ["antecedents", "consequents", "support", "confidence", "lift"]
    rows = [
        [", ".join(row["antecedents"]), ", ".join(row["consequents"]), f"{row['support']:.4f}", f"{row['confidence']:.4f}", f"{row['lift']:.3f}"]
        for row in top.to_dict("records")
    ]
    return TrainResult(metrics=metrics, artifacts=artifacts, table=(header, rows))
