"""Frequent itemsets and association rules.

Three engines give the same results: ``fim`` mines with pyfim (Christian Borgelt's C code) and
generates rules with vectorised NumPy (``rulegen``); ``mlxtend`` uses mlxtend on a sparse one-hot
matrix; ``spark`` mines with MLlib's FPGrowth (``dmrun.spark.rules``) and generates rules like
``fim``. Itemsets are written as lists in JSON and as one ``|``-separated string in CSV, never as
a Python ``frozenset(...)`` repr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pickle
import select
import signal
import warnings
from collections import Counter
from itertools import chain, combinations
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from dmrun.config.schema import ExperimentConfig, RulesConfig
from dmrun.data.types import Baskets
from dmrun.errors import DataError, TrainerError
from dmrun.rundir import atomic_target
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.rulegen import ItemsetTable, Rules, association_rules, order_rules
from dmrun.trainers.rules_csv import arrow_column, fits_python_writer, write_arrow_csv, write_python_csv

logger = logging.getLogger(__name__)

ITEM_SEPARATOR = "|"
# Peak memory per kept rule, an estimate: two itemset positions and three counts, plus the
# copies, sort keys and sort order that ordering the rules makes.
RULE_BYTES = 80
# Rules per block when writing CSV: bounds the memory of the measure columns and Arrow tables.
CSV_BLOCK = 1 << 16
JSON_BLOCK = 1 << 14
# Float columns of rules.csv: the twelve measures, antecedent and consequent support included.
RULE_FLOAT_COLUMNS = 12


def itemset_lower_bound(transactions: list[list[str]], min_count: int, max_len: int | None) -> tuple[int, int]:
    """Return a lower bound on the number of frequent itemsets and the basket size behind it.

    The ``min_count`` largest baskets all contain their common items, so every non-empty subset
    of that intersection (up to ``max_len`` items) is frequent.
    """
    largest = sorted(transactions, key=len, reverse=True)[:min_count]
    if len(largest) < min_count:
        return 0, 0
    common = set(largest[0])
    # One basket at a time: building a set of every basket first took 45 MB on retail.dat at 0.5.
    for basket in largest[1:]:
        common.intersection_update(basket)
        if not common:
            break
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


def item_counts(transactions: list[list[str]]) -> dict[str, int]:
    return Counter(chain.from_iterable(transactions))


def memory_budget(settings: RulesConfig) -> int:
    """Return the mining memory budget in bytes: the configured one, or half the machine's memory."""
    if settings.memory_budget_mb is not None:
        return settings.memory_budget_mb * 2**20
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_bounded(work: Callable[[], Any], budget: int, settings: RulesConfig) -> Any:
    """Run ``work`` in a forked child process and return its result.

    pyfim runs in C and never returns to Python until it is done, so neither a signal nor a
    memory check could reach it in this process. The parent polls how much resident memory the
    child has added since it started and kills it past ``budget``. A SIGINT or SIGTERM in the
    parent kills it too. Without
    ``os.fork`` (Windows), ``work`` runs here without the guard.
    """
    if not hasattr(os, "fork") or not os.path.exists("/proc/self/statm"):
        return work()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, send the result, and leave without cleanup handlers
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            payload = pickle.dumps(("ok", work()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as err:  # noqa: BLE001 - every failure is reported to the parent
            payload = pickle.dumps(("error", f"{type(err).__name__}: {err}"))
        with os.fdopen(write_end, "wb") as stream:
            stream.write(payload)
        os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    # The child starts with the parent's pages, so the budget applies to what it adds to them.
    start = _resident_bytes(pid)
    peak = 0
    try:
        while True:
            readable, _, _ = select.select([read_end], [], [], 0.05)
            if readable:
                chunk = os.read(read_end, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            peak = max(peak, _resident_bytes(pid) - start)
            if peak > budget:
                raise DataError(
                    f"mining at min_support {settings.min_support:g} needed more than the memory budget of "
                    f"{budget / 2**20:,.0f} MB and was stopped; the support is too low for this data",
                    hint="raise the support (--support), limit the itemset length (--max-len), "
                    "or raise memory_budget_mb (--memory-budget)",
                )
    finally:
        os.close(read_end)
        if not chunks or peak > budget:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    status, value = pickle.loads(b"".join(chunks))  # written by the child above, never by anyone else
    if status != "ok":
        raise TrainerError(f"mining failed: {value}")
    return value


def mine_with_fim(transactions: list[list[str]], counts: dict[str, int], settings: RulesConfig, min_count: int) -> ItemsetTable:
    """Mine with pyfim, which takes item names directly and returns ``(items, count)`` pairs.

    pyfim leaves out the itemsets made only of items found in every basket (it treats them as
    part of the empty set), so those are added back here with the full count.
    """
    import fim

    miner = fim.apriori if settings.algorithm == "apriori" else fim.fpgrowth
    target = "m" if settings.algorithm == "fpmax" else "s"
    options = {"zmax": settings.max_len} if settings.max_len else {}
    found = miner(transactions, target=target, supp=-min_count, report="a", **options)
    items = sorted(counts)
    ids = {item: position for position, item in enumerate(items)}
    pairs = [([ids[item] for item in itemset], count) for itemset, count in found]
    total = len(transactions)
    everywhere = sorted(ids[item] for item, count in counts.items() if count == total)
    if everywhere:
        longest = len(everywhere) if settings.max_len is None else min(len(everywhere), settings.max_len)
        if target == "s":
            pairs += [(list(subset), total) for size in range(1, longest + 1) for subset in combinations(everywhere, size)]
        elif not pairs:
            pairs = [(list(subset), total) for subset in combinations(everywhere, longest)]
    return ItemsetTable.from_pairs(pairs, items, total)


def mine_with_mlxtend(transactions: list[list[str]], settings: RulesConfig) -> ItemsetTable:
    """Mine with mlxtend on a sparse one-hot matrix with one column per item."""
    import pandas as pd
    from mlxtend.frequent_patterns import apriori, fpgrowth, fpmax
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    matrix = encoder.fit(transactions).transform(transactions, sparse=True)
    items = [str(item) for item in encoder.columns_]
    onehot = pd.DataFrame.sparse.from_spmatrix(matrix, columns=range(len(items)))
    miner = {"apriori": apriori, "fpgrowth": fpgrowth, "fpmax": fpmax}[settings.algorithm]
    found = miner(onehot, min_support=settings.min_support, max_len=settings.max_len)
    total = len(transactions)
    counts = (found["support"].to_numpy() * total).round().astype(int).tolist()
    return ItemsetTable.from_pairs(zip(found["itemsets"].map(list), counts), items, total)


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


def fit(config: ExperimentConfig, data: Baskets, context: TrainContext) -> TrainResult:
    settings: RulesConfig = config.model
    if settings.engine == "spark":
        from dmrun.spark.session import spark_errors
        from dmrun.spark.rules import fit as fit_on_spark

        with spark_errors(TrainerError, "mining"):
            return fit_on_spark(config, data, context)
    n_transactions = len(data.transactions)
    settings = settings.model_copy(update={"min_support": effective_support(settings, n_transactions)})
    min_count = check_size(data, settings)
    counts = data.item_counts
    if counts is None or sum(counts.values()) != sum(map(len, data.transactions)):
        counts = item_counts(data.transactions)
    most_common = max(counts.values(), default=0)
    if most_common < min_count:
        logger.warning(
            "no itemset is frequent: min_support %g needs %s of %s baskets, and the most common item is in %s "
            "(support %.4g); lower --support (min_support) to find itemsets and rules",
            settings.min_support, f"{min_count:,}", f"{n_transactions:,}", f"{most_common:,}", most_common / n_transactions,
        )

    context.reporter.status(
        f"mining itemsets with {settings.algorithm} ({settings.engine}) at min_support {settings.min_support:g}"
    )
    if settings.engine == "fim":
        import fim  # noqa: F401  imported here as well as in the miner, so that run.json records its version

        table = run_bounded(
            lambda: mine_with_fim(data.transactions, counts, settings, min_count), memory_budget(settings), settings
        )
    else:
        table = mine_with_mlxtend(data.transactions, settings)
    return mining_result(table, len(counts), min_count, settings, context)


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
            [", ".join(items), f"{count / n_transactions:.4f}"]
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
            ", ".join(rules.itemsets[rules.antecedents[index]]),
            ", ".join(rules.itemsets[rules.consequents[index]]),
            f"{top['support'][index]:.4f}",
            f"{top['confidence'][index]:.4f}",
            f"{top['lift'][index]:.3f}",
        ]
        for index in range(len(top["support"]))
    ]
    return TrainResult(metrics=metrics, artifacts=artifacts, table=(header, rows))
