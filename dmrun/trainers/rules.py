"""Frequent itemsets and association rules.

Three engines give the same results: ``fim`` mines with pyfim (Christian Borgelt's C code) and
generates rules with vectorised NumPy (``rulegen``); ``mlxtend`` uses mlxtend on a sparse one-hot
matrix; ``spark`` mines with MLlib's FPGrowth (``dmrun.spark.rules``) and generates rules like
``fim``. Itemsets are written as lists in JSON and as one ``|``-separated string in CSV, never as
a Python ``frozenset(...)`` repr.
"""

from __future__ import annotations

import logging
import math
import os
from array import array
from collections import Counter
from itertools import chain, combinations
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from dmrun import forking
from dmrun.data.types import Baskets
from dmrun.errors import DataError, TrainerError
from dmrun.trainers.base import TrainContext, TrainResult

if TYPE_CHECKING:
    from dmrun.config.schema import ExperimentConfig, RulesConfig
    from dmrun.trainers.rulegen import ItemsetTable

logger = logging.getLogger(__name__)

ITEM_SEPARATOR = "|"


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


def minimum_count(min_support: float, total: int) -> int:
    """Return the number of baskets that a support fraction of ``total`` baskets requires."""
    return max(1, math.ceil(min_support * total - 1e-9))


def check_size(baskets: Baskets, settings: RulesConfig) -> int:
    """Return the minimum count, after rejecting a run whose itemsets are certain to exceed ``settings.max_itemsets``."""
    min_count = minimum_count(settings.min_support, len(baskets.transactions))
    check_itemset_bound(baskets.transactions, settings, min_count)
    return min_count


def check_itemset_bound(transactions: list[list[str]], settings: RulesConfig | MiningSettings, min_count: int) -> None:
    """Raise ``DataError`` when the itemsets that ``itemset_lower_bound`` finds exceed ``settings.max_itemsets``."""
    total = len(transactions)
    bound, size = itemset_lower_bound(transactions, min_count, settings.max_len)
    if bound > settings.max_itemsets:
        raise DataError(
            f"min_support {settings.min_support:g} x {total} transactions = {min_count} basket(s); "
            f"{min_count} basket(s) share {size} items, which alone produce at least {bound:.3g} itemsets "
            f"(limit {settings.max_itemsets:,})",
            hint="raise the support, or limit the itemset length with max_len (--max-len)",
        )


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


def _over_budget(settings: RulesConfig, budget: int) -> Callable[[], DataError]:
    return lambda: DataError(
        f"mining at min_support {settings.min_support:g} needed more than the memory budget of "
        f"{budget / 2**20:,.0f} MB and was stopped; the support is too low for this data",
        hint="raise the support (--support), limit the itemset length (--max-len), "
        "or raise memory_budget_mb (--memory-budget)",
    )


def run_bounded(
    work: Callable[[], Any], budget: int, settings: RulesConfig, meanwhile: Callable[[], Any] | None = None
) -> Any:
    """Run ``work`` in a forked child process and return its result.

    pyfim runs in C and never returns to Python until it is done, so neither a signal nor a
    memory check could reach it in this process. The parent kills the child once it adds more
    than ``budget`` bytes (see ``dmrun.forking.collect``), and calls ``meanwhile`` while it
    works. Without ``os.fork`` (Windows), ``work`` runs here without the guard, then ``meanwhile``.
    """
    if not forking.fork_available():
        result = work()
        if meanwhile is not None:
            meanwhile()
        return result
    read_end, write_end = os.pipe()
    pid = forking.fork()
    if pid == 0:  # the child: do the work, send the result, and leave without cleanup handlers
        os.close(read_end)
        forking.send_result(write_end, work)
        os._exit(0)
    os.close(write_end)
    return forking.collect(pid, read_end, budget, _over_budget(settings, budget), meanwhile)


def fim_itemsets(
    transactions: list[list[Any]],
    counts: dict[str, int],
    settings: RulesConfig | MiningSettings,
    min_count: int,
    names: list[str] | None = None,
) -> tuple[list[str], array, array, array, int]:
    """Mine with pyfim and return the itemsets flat, without NumPy, for ``ItemsetTable.from_flat``.

    The result is the sorted item names, each itemset's length, the item ids of every itemset
    one after another (ids index the names, ascending within an itemset), the counts, and the
    number of transactions. Compact arrays pickle as bytes, so the forked miner returns them fast.
    With ``names``, the transactions hold int codes that index them (``Baskets.item_names``).
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
    position_of = ids.__getitem__ if names is None else [ids[name] for name in names].__getitem__
    lengths, members, found_counts = array("i"), array("i"), array("q")
    for itemset, count in found:
        lengths.append(len(itemset))
        members.extend(sorted(map(position_of, itemset)))
        found_counts.append(count)
    total = len(transactions)
    everywhere = sorted(ids[item] for item, count in counts.items() if count == total)
    if everywhere:
        longest = len(everywhere) if settings.max_len is None else min(len(everywhere), settings.max_len)
        if target == "s":
            sizes = range(1, longest + 1)
        else:  # fpmax: when nothing else is frequent, the largest subsets of these items are the maximal itemsets
            sizes = range(longest, longest + 1) if not lengths else range(0)
        for size in sizes:
            for subset in combinations(everywhere, size):
                lengths.append(size)
                members.extend(subset)
                found_counts.append(total)
    return items, lengths, members, found_counts, total


class MiningSettings(NamedTuple):
    """The settings pyfim mining reads, without pydantic, for a child that has not imported it."""

    algorithm: str
    max_len: int | None
    min_support: float
    max_itemsets: int


def check_read_baskets(baskets: Baskets, settings: MiningSettings, min_count: int) -> None:
    """Check the itemset bound in the child that read the baskets (``dmrun.data.read_ahead``)."""
    check_itemset_bound(baskets.transactions, settings, min_count)


def mine_read_baskets(baskets: Baskets, settings: MiningSettings, min_count: int) -> tuple[list[str], array, array, array, int]:
    """Mine in the child that read the baskets (``dmrun.data.read_ahead``)."""
    return fim_itemsets(baskets.transactions, baskets.item_counts, settings, min_count, baskets.item_names)


def mine_with_fim(transactions: list[list[str]], counts: dict[str, int], settings: RulesConfig, min_count: int) -> ItemsetTable:
    """Mine with pyfim in this process and return the itemset table."""
    from dmrun.trainers.rulegen import ItemsetTable

    return ItemsetTable.from_flat(*fim_itemsets(transactions, counts, settings, min_count))


def mine_with_mlxtend(transactions: list[list[str]], settings: RulesConfig) -> ItemsetTable:
    """Mine with mlxtend on a sparse one-hot matrix with one column per item."""
    import pandas as pd
    from mlxtend.frequent_patterns import apriori, fpgrowth, fpmax
    from mlxtend.preprocessing import TransactionEncoder

    from dmrun.trainers.rulegen import ItemsetTable

    encoder = TransactionEncoder()
    matrix = encoder.fit(transactions).transform(transactions, sparse=True)
    items = [str(item) for item in encoder.columns_]
    onehot = pd.DataFrame.sparse.from_spmatrix(matrix, columns=range(len(items)))
    miner = {"apriori": apriori, "fpgrowth": fpgrowth, "fpmax": fpmax}[settings.algorithm]
    found = miner(onehot, min_support=settings.min_support, max_len=settings.max_len)
    total = len(transactions)
    counts = (found["support"].to_numpy() * total).round().astype(int).tolist()
    return ItemsetTable.from_pairs(zip(found["itemsets"].map(list), counts), items, total)


def fit(config: ExperimentConfig, data: Baskets, context: TrainContext) -> TrainResult:
    settings: RulesConfig = config.model
    if settings.engine == "spark":
        from dmrun.spark.session import spark_errors
        from dmrun.spark.rules import fit as fit_on_spark

        with spark_errors(TrainerError, "mining"):
            return fit_on_spark(config, data, context)
    n_transactions = len(data.transactions)
    settings = settings.model_copy(update={"min_support": effective_support(settings, n_transactions)})
    from dmrun.data.read_ahead import ReadAheadTransactions

    read_ahead = isinstance(data.transactions, ReadAheadTransactions)
    if read_ahead:  # the baskets are in the child that read them, so the itemset bound is checked there
        if settings.engine != "fim" or data.item_counts is None:
            raise TrainerError(f"baskets read ahead can only be mined by the fim engine, not by {settings.engine}")
        min_count = minimum_count(settings.min_support, n_transactions)
        plain = MiningSettings(settings.algorithm, settings.max_len, settings.min_support, settings.max_itemsets)
        data.transactions.call(check_read_baskets, (plain, min_count))
        counts = data.item_counts
    else:
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

        budget = memory_budget(settings)
        if read_ahead:
            flat = data.transactions.run(mine_read_baskets, (plain, min_count), budget, _over_budget(settings, budget), _import_output)
        else:
            flat = run_bounded(
                lambda: fim_itemsets(data.transactions, counts, settings, min_count), budget, settings, meanwhile=_import_output
            )
        from dmrun.trainers.rulegen import ItemsetTable  # imports NumPy, so only once the miner is running

        table = ItemsetTable.from_flat(*flat)
    else:
        table = mine_with_mlxtend(data.transactions, settings)
    from dmrun.trainers.rules_output import mining_result

    return mining_result(table, len(counts), min_count, settings, context)


def _import_output() -> None:
    """Import NumPy and the output code while the forked miner works, which saves their import time."""
    import numpy.random  # noqa: F401  rule generation draws the item keys with it

    import dmrun.trainers.rules_output  # noqa: F401
