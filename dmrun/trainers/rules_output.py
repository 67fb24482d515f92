"""Output of a mining run: rule generation from the itemsets, the CSV and JSON files, metrics and summary.

Every engine hands its frequent itemsets to ``mining_result``. This module imports NumPy, so
the trainer module (``dmrun.trainers.rules``) imports it only once the miner has started.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any, Iterable, Iterator

import numpy as np

from dmrun.config.schema import RulesConfig
from dmrun.errors import DataError
from dmrun.rundir import atomic_target
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.rulegen import ItemsetTable, Rules, association_rules, order_rules
from dmrun.trainers.rules import ITEM_SEPARATOR, memory_budget
from dmrun.trainers.rules_csv import arrow_column, fits_python_writer, write_arrow_csv, write_python_csv

logger = logging.getLogger(__name__)

# Peak memory per kept rule, an estimate: two itemset positions and three counts, plus the
# copies, sort keys and sort order that ordering the rules makes.
RULE_BYTES = 80
# Rules per block when writing CSV: bounds the memory of the measure columns and Arrow tables.
CSV_BLOCK = 1 << 16
JSON_BLOCK = 1 << 14
# Float columns of rules.csv: the twelve measures, antecedent and consequent support included.
RULE_FLOAT_COLUMNS = 12


def rules_with_mlxtend(table: ItemsetTable, settings: RulesConfig) -> Rules:
    """Generate rules with mlxtend's ``association_rules`` and order them like the fim engine."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules

    total = table.n_transactions
    if not table.candidate_rules():
        empty = np.zeros(0, dtype=np.int64)
        return Rules([], empty, empty, empty, empty, empty, total)
    sets = [frozenset(row) for k in sorted(table.members) for row in table.members[k].tolist()]
    supports = np.concatenate([table.counts[k] for k in sorted(table.members)]) / total
    frame = pd.DataFrame({"support": supports, "itemsets": sets})
    # mlxtend divides by zero for conviction at confidence 1 and warns; the value is recorded as inf.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        found = association_rules(frame, num_itemsets=total, metric=settings.metric, min_threshold=settings.min_threshold)
    names = np.asarray(table.items, dtype=object)
    keys = sorted({tuple(sorted(side)) for column in ("antecedents", "consequents") for side in found[column]})
    position = {key: index for index, key in enumerate(keys)}

    def indexes(column: str) -> np.ndarray:
        return np.asarray([position[tuple(sorted(side))] for side in found[column]], dtype=np.int32)

    def counts(column: str) -> np.ndarray:
        return np.rint(found[column].to_numpy(dtype=float) * total).astype(np.int64)

    rules = Rules(
        [names[list(key)].tolist() for key in keys],
        indexes("antecedents"),
        indexes("consequents"),
        counts("support"),
        counts("antecedent support"),
        counts("consequent support"),
        total,
    )
    return order_rules(rules, settings.sort_by)


def support_that_fits(table: ItemsetTable, limit: int) -> float | None:
    """Return the lowest support whose itemsets give at most ``limit`` candidate rules.

    Raising the support only removes itemsets from ``table``, so no new mining is needed.
    """
    lengths = [k for k in sorted(table.counts) if k >= 2]
    if not lengths:
        return None
    counts = np.concatenate([table.counts[k] for k in lengths])
    weights = np.concatenate([np.full(len(table.counts[k]), 2**k - 2, dtype=np.int64) for k in lengths])
    order = np.argsort(-counts, kind="stable")
    counts, total = counts[order], np.cumsum(weights[order])
    over = np.nonzero(total > limit)[0]
    if not len(over):
        return None
    # Every itemset with the count of the first one over the limit must go, so one more basket is needed.
    return (int(counts[over[0]]) + 1) / table.n_transactions


def check_rule_count(table: ItemsetTable, settings: RulesConfig) -> int:
    """Reject rule generation whose candidate count exceeds ``settings.max_rules`` or the memory budget.

    The message gives the memory that generation would take and the ``--max-len`` and
    ``--support`` that would fit.
    """
    candidates = table.candidate_rules()
    budget = memory_budget(settings)
    limit = min(settings.max_rules, budget // RULE_BYTES)
    if candidates > limit:
        fitting = [length for length in range(2, table.longest) if table.candidate_rules(length) <= limit]
        advice = [f"--max-len {fitting[-1]}"] if fitting else []
        support = support_that_fits(table, limit)
        if support is not None and support <= 1:
            advice.append(f"--support {math.ceil(support * 10_000) / 10_000:g}")
        fits = f"{' or '.join(advice)} fits; " if advice else ""
        reason = f"max_rules {settings.max_rules:,}"
        if limit < settings.max_rules:
            reason = f"the memory budget of {_size(budget)}, about {limit:,} rules"
        raise DataError(
            f"{len(table):,} frequent itemsets (up to {table.longest} items) give {candidates:,} candidate rules "
            f"(limit: {reason}); keeping them all would take about {_size(candidates * RULE_BYTES)} of memory "
            "and several times that on disk",
            hint=f"{fits}or raise max_rules (--max-rules) and memory_budget_mb (--memory-budget) if you need them all",
        )
    return candidates


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{max(1, round(count / 2**20))} MB"


def _json_column(values: Any) -> list[Any]:
    """Return a block of one column as JSON values: floats with NaN and infinities as ``None`` (null)."""
    if not isinstance(values, np.ndarray):
        return list(values)
    if values.dtype.kind != "f":
        return values.tolist()
    return [value if finite else None for value, finite in zip(values.tolist(), np.isfinite(values).tolist())]


def write_json_records(path, blocks: Iterable[dict[str, Any]]) -> None:
    """Write blocks of columns (lists or NumPy arrays) as a JSON array with one compact object per line.

    Each record goes through the C JSON encoder on its own, which is many times faster than
    an indented dump of the whole list. One encoder serves every record, because ``json.dumps``
    with options builds a new one per call. The file is written a block at a time, so memory
    stays flat: with 95,482 rules the whole run peaked at 159 MB, against 292 MB with one string.
    """
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    with atomic_target(path) as temporary, open(temporary, "w", encoding="utf-8") as stream:
        separator = "[\n"
        for block in blocks:
            keys = list(block)
            lines = [encode(dict(zip(keys, values))) for values in zip(*map(_json_column, block.values()))]
            if lines:
                stream.write(separator + ",\n".join(lines))
                separator = ",\n"
        stream.write("[\n\n]\n" if separator == "[\n" else "\n]\n")


def _log_json_skipped(name: str, count: int, limit: int) -> None:
    if count > limit:
        logger.info(
            "%s.json not written: %s %s are more than json_limit (%s); %s.csv has them all",
            name, f"{count:,}", name, f"{limit:,}", name,
        )


def write_itemsets(
    context: TrainContext, itemsets: list[list[str]], counts: np.ndarray, total: int, settings: RulesConfig
) -> list[str]:
    supports = counts / total
    lengths = np.fromiter(map(len, itemsets), dtype=np.int64, count=len(itemsets))
    joined = [ITEM_SEPARATOR.join(itemset) for itemset in itemsets]
    block = {"itemset": joined, "length": lengths, "support": supports, "count": counts}
    write_csv = write_python_csv if fits_python_writer(len(itemsets), 1) else write_arrow_csv
    write_csv(context.artifacts / "itemsets.csv", [block])
    written = ["artifacts/itemsets.csv"]
    _log_json_skipped("itemsets", len(itemsets), settings.json_limit)
    if len(itemsets) <= settings.json_limit:
        records = (
            {"itemset": itemsets[rows], "length": lengths[rows], "support": supports[rows], "count": counts[rows]}
            for rows in _blocks(len(itemsets), JSON_BLOCK)
        )
        write_json_records(context.artifacts / "itemsets.json", records)
        written.append("artifacts/itemsets.json")
    return written


def _rule_blocks(rules: Rules, arrow: bool) -> Iterator[dict[str, Any]]:
    """Yield the rules in blocks of columns, with itemsets as Arrow arrays or as lists of strings."""
    names = [ITEM_SEPARATOR.join(itemset) for itemset in rules.itemsets]
    joined = arrow_column(names) if arrow else np.asarray(names, dtype=object)
    for start in range(0, max(len(rules), 1), CSV_BLOCK):
        rows = slice(start, start + CSV_BLOCK)
        if arrow:
            sides = {
                "antecedents": joined.take(arrow_column(rules.antecedents[rows])),
                "consequents": joined.take(arrow_column(rules.consequents[rows])),
            }
        else:
            sides = {"antecedents": joined[rules.antecedents[rows]].tolist(), "consequents": joined[rules.consequents[rows]].tolist()}
        yield {**sides, **rules.measures(rows)}


def _blocks(count: int, size: int) -> Iterator[slice]:
    return (slice(start, start + size) for start in range(0, count, size))


def write_rules(context: TrainContext, rules: Rules, settings: RulesConfig) -> list[str]:
    """Write rules as CSV (``|``-joined items, ``inf`` for infinite conviction) and JSON (lists, ``null``)."""
    arrow = not fits_python_writer(len(rules), RULE_FLOAT_COLUMNS)
    write_csv = write_arrow_csv if arrow else write_python_csv
    write_csv(context.artifacts / "rules.csv", _rule_blocks(rules, arrow))
    written = ["artifacts/rules.csv"]
    _log_json_skipped("rules", len(rules), settings.json_limit)
    if len(rules) <= settings.json_limit:
        records = (
            {
                "antecedents": [rules.itemsets[index] for index in rules.antecedents[rows].tolist()],
                "consequents": [rules.itemsets[index] for index in rules.consequents[rows].tolist()],
                **rules.measures(rows),
            }
            for rows in _blocks(len(rules), JSON_BLOCK)
        )
        write_json_records(context.artifacts / "rules.json", records)
        written.append("artifacts/rules.json")
    return written


def itemset_text(items) -> str:
    """Join an itemset's items for the console table, quoting each item that contains a comma or a quote.

    Without the quotes, the item ``milk, whole`` would read as two items.
    """
    cells = []
    for item in items:
        if "," in item or '"' in item:
            item = '"' + item.replace('"', '""') + '"'
        cells.append(item)
    return ", ".join(cells)


def mining_result(
    table: ItemsetTable, distinct_items: int, min_count: int, settings: RulesConfig, context: TrainContext
) -> TrainResult:
    """Write the itemsets and, unless ``settings.output`` is itemsets, generate and write the rules.

    Every engine ends here, so the files, metrics and summary table are the same whichever mined.
    """
    n_transactions = table.n_transactions
    itemsets, itemset_counts = table.ordered()
    artifacts = write_itemsets(context, itemsets, itemset_counts, n_transactions, settings)
    metrics: dict[str, Any] = {
        "transactions": n_transactions,
        "distinct_items": distinct_items,
        "min_support": settings.min_support,
        "min_count": min_count,
        "itemsets": len(table),
        "max_itemset_length": table.longest,
    }
    if settings.output == "itemsets":
        rows = [
            [itemset_text(items), f"{count / n_transactions:.4f}"]
            for items, count in zip(itemsets[: settings.top], itemset_counts[: settings.top].tolist())
        ]
        return TrainResult(metrics=metrics, artifacts=artifacts, table=(["itemset", "support"], rows))

    candidates = check_rule_count(table, settings)
    context.reporter.status(
        f"generating rules from {candidates:,} candidates with {settings.metric} >= {settings.min_threshold:g}"
    )
    if settings.engine == "mlxtend":
        rules = rules_with_mlxtend(table, settings)
    else:
        rules = association_rules(table, settings.metric, settings.min_threshold, settings.sort_by)
    artifacts += write_rules(context, rules, settings)
    metrics["rules"] = len(rules)
    header = ["antecedents", "consequents", "support", "confidence", "lift"]
    top = rules.measures(slice(0, settings.top))
    rows = [
        [
            itemset_text(rules.itemsets[rules.antecedents[index]]),
            itemset_text(rules.itemsets[rules.consequents[index]]),
            f"{top['support'][index]:.4f}",
            f"{top['confidence'][index]:.4f}",
            f"{top['lift'][index]:.3f}",
        ]
        for index in range(len(top["support"]))
    ]
    return TrainResult(metrics=metrics, artifacts=artifacts, table=(header, rows))
