"""Dataset options applied to every table after reading: column choice and a row sample."""

from __future__ import annotations

from collections import Counter
from itertools import chain

import hashlib
from pathlib import Path

from dmrun.config.schema import DatasetConfig
from dmrun.data.types import Baskets, Table
from dmrun.errors import DataError


def _missing(table: Table, columns: list[str], setting: str) -> None:
    present = [str(column) for column in table.frame.columns]
    absent = [column for column in columns if column not in present]
    if absent:
        raise DataError(
            f"{setting}: column(s) {', '.join(absent)} not found in {Path(table.source).name}",
            hint="columns: " + ", ".join(present),
        )


def drop_columns(table: Table, columns: list[str]) -> Table:
    _missing(table, columns, "dataset.drop_columns")
    table.frame = table.frame.drop(columns=columns)
    return table


def file_fingerprint(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def apply(table: Table, config: DatasetConfig, seed: int | None) -> Table:
    """Drop id columns, keep the chosen features and, unless ``seed`` is None, draw the row sample.

    The target and the split's ``group_by`` and ``time_column`` are kept whatever ``features``
    and ``exclude`` say, because the split needs them; they never become features.
    """
    if "fingerprint" not in table.meta and Path(table.source).is_file():
        table.meta["fingerprint"] = file_fingerprint(Path(table.source))
    if config.drop_columns:
        drop_columns(table, config.drop_columns)
    target = config.target or table.target
    kept = [column for column in (target, config.split.group_by, config.split.time_column) if column]
    if config.features is not None:
        _missing(table, config.features, "dataset.features")
        wanted = set(config.features) | set(kept)
        table.frame = table.frame[[column for column in table.frame.columns if column in wanted]]
    if config.exclude:
        _missing(table, config.exclude, "dataset.exclude")
        if target in config.exclude:
            raise DataError(f"dataset.exclude lists the target '{target}'", hint="remove it from dataset.exclude")
        table.frame = table.frame.drop(columns=[column for column in config.exclude if column not in kept])
    if seed is not None and config.sample is not None:
        table = sample_rows(table, config.sample, seed)
    return table


def sample_rows(table: Table, sample: int | float, seed: int) -> Table:
    """Keep a random sample of rows: a count or a fraction, in file order."""
    frame = table.frame
    total = len(frame)
    count = sample if isinstance(sample, int) else max(1, int(round(total * sample)))
    if count < total:
        table.frame = frame.sample(n=count, random_state=seed).sort_index()
    table.summary["sample"] = {"requested": sample, "rows_before": total, "rows_kept": int(len(table.frame)), "seed": seed}
    return table


def sample_baskets(baskets: Baskets, sample: int | float, seed: int) -> Baskets:
    """Keep a random sample of transactions, in file order; the summary counts are recomputed."""
    import numpy as np

    total = len(baskets.transactions)
    count = sample if isinstance(sample, int) else max(1, int(round(total * sample)))
    if count < total:
        keep = np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))
        baskets.transactions = [baskets.transactions[index] for index in keep]
        baskets.item_counts = Counter(chain.from_iterable(baskets.transactions))
        baskets.summary.update(
            transactions=count,
            distinct_items=len(baskets.item_counts),
            items_total=sum(baskets.item_counts.values()),
            max_basket_size=max(len(basket) for basket in baskets.transactions),
        )
    baskets.summary["sample"] = {"requested": sample, "transactions_before": total, "transactions_kept": min(count, total), "seed": seed}
    return baskets
