"""Basket data from tables: long, one-hot and quantity layouts, and tables mined after binning.

Every layout ends in ``readers.build_baskets``, which trims items, collapses duplicates within a
basket and drops and counts blank items and empty baskets. Baskets are kept as lists of item
names (a sparse encoding), so no dense transactions x items matrix is built here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dmrun.config.schema import DatasetConfig
from dmrun.data.types import Baskets, Table
from dmrun.errors import DataError
from dmrun.suggest import closest_hint

logger = logging.getLogger(__name__)

TRUE_TEXT = {"1", "true", "t", "yes", "y"}
FALSE_TEXT = {"0", "false", "f", "no", "n", ""}
# Negative quantities listed one by one in the summary; the rest are counted.
MAX_LISTED_NEGATIVES = 20
# A numeric column with at most this many distinct values is mined as categories without binning.
MAX_UNBINNED_VALUES = 20


def _require_column(frame, column: str, setting: str, path: str) -> None:
    columns = [str(name) for name in frame.columns]
    if column not in columns:
        raise DataError(
            f"{setting}: column '{column}' not found in {Path(path).name}",
            hint=closest_hint(column, columns, "columns"),
        )


def read_basket_table(table: Table, config: DatasetConfig) -> Baskets:
    """Build baskets from a table in the layout ``config.baskets.layout`` names."""
    settings = config.baskets
    layout = settings.layout
    if layout == "long":
        return long_baskets(table.frame, settings.transaction_column, settings.item_column, settings.ignore_items, table.source)
    return wide_baskets(table.frame, layout, settings.transaction_column, settings.ignore_items, table.source)


def drop_ignored(rows, ignore: set[str], counts: dict[str, int]):
    """Yield rows without the items in ``ignore``, counting each one dropped."""
    for row in rows:
        kept = []
        for item in row:
            if item.strip() in ignore:
                counts["ignored_items_dropped"] += 1
            else:
                kept.append(item)
        yield kept


def long_baskets(frame, transaction_column: str | None, item_column: str, ignore_items: list[str], source: str) -> Baskets:
    """Group a long table (one row per transaction id and item) into baskets, in first-seen order."""
    import numpy as np
    import pandas as pd

    from dmrun.data.readers import build_baskets

    if transaction_column is None:
        raise DataError(
            "dataset.baskets.transaction_column is required for the long layout",
            hint="name the column that holds the transaction id, for example `transaction_column: order_id`",
        )
    _require_column(frame, transaction_column, "dataset.baskets.transaction_column", source)
    _require_column(frame, item_column, "dataset.baskets.item_column", source)
    ids = frame[transaction_column]
    missing_ids = int(ids.isna().sum())
    codes, _ = pd.factorize(ids, use_na_sentinel=True)
    items = frame[item_column].astype(object).where(frame[item_column].notna(), "").astype(str).to_numpy()
    keep = codes >= 0
    codes, items = codes[keep], items[keep]
    order = np.argsort(codes, kind="stable")
    boundaries = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(items[order], boundaries) if len(order) else []
    counts = {"ignored_items_dropped": 0}
    rows = drop_ignored((list(group) for group in groups), set(ignore_items), counts)
    baskets = build_baskets(rows, source=source)
    baskets.summary.update(
        layout="long",
        rows_read=int(len(frame)),
        transaction_ids=len(groups),
        rows_without_transaction_id=missing_ids,
        **counts,
    )
    baskets.summary["support_denominator"] = (
        "transactions with at least one item after cleaning (empty transactions are dropped)"
    )
    return baskets


def _present(values, column: str, layout: str, source: str, row_ids) -> tuple[Any, Any]:
    """Return a boolean array of present cells and a boolean array of negative quantities."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values)
    if layout == "onehot":
        if pd.api.types.is_bool_dtype(series):
            return series.to_numpy(dtype=bool), np.zeros(len(series), dtype=bool)
        if pd.api.types.is_numeric_dtype(series):
            numbers = series.to_numpy(dtype="float64")
            bad = ~np.isnan(numbers) & ~np.isin(numbers, (0.0, 1.0))
            present = numbers == 1.0
        else:
            text = series.astype(object).where(series.notna(), "").astype(str).str.strip().str.lower()
            bad = ~text.isin(TRUE_TEXT | FALSE_TEXT).to_numpy()
            present = text.isin(TRUE_TEXT).to_numpy()
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            value = series.iloc[position]
            value = value.item() if hasattr(value, "item") else value
            raise DataError(
                f"{Path(source).name}: column '{column}' has the value {value!r} in transaction "
                f"{row_ids[position]}, but a one-hot basket table holds only 0/1 or true/false",
                hint="for counts or quantities set dataset.baskets.layout: quantity",
            )
        return present, np.zeros(len(series), dtype=bool)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{Path(source).name}: column '{column}' has the non-numeric value {series.iloc[position]!r} in "
            f"transaction {row_ids[position]}, but a quantity table holds numbers",
            hint="fix the value, or drop the column with dataset.drop_columns",
        )
    numbers = numbers.to_numpy(dtype="float64")
    return numbers > 0, numbers < 0


def wide_baskets(frame, layout: str, transaction_column: str | None, ignore_items: list[str], source: str) -> Baskets:
    """Build baskets from a table with one row per transaction and one column per item.

    In the quantity layout a quantity above 0 means present. Negative quantities (returns) are
    not counted as present; each is reported in the summary and in one warning.
    """
    from dmrun.data.readers import build_baskets

    if transaction_column is not None:
        _require_column(frame, transaction_column, "dataset.baskets.transaction_column", source)
        row_ids = [str(value) for value in frame[transaction_column].tolist()]
        item_columns = [column for column in frame.columns if column != transaction_column]
    else:
        row_ids = [f"row {index}" for index in range(1, len(frame) + 1)]
        item_columns = list(frame.columns)
    ignore = {item.strip() for item in ignore_items}
    rows: list[list[str]] = [[] for _ in range(len(frame))]
    negatives: list[dict[str, Any]] = []
    negative_count = ignored = 0
    for column in item_columns:
        name = str(column)
        present, negative = _present(frame[column].to_numpy(), name, layout, source, row_ids)
        if name.strip() in ignore:
            ignored += int(present.sum())
            continue
        for position in negative.nonzero()[0]:
            negative_count += 1
            if len(negatives) < MAX_LISTED_NEGATIVES:
                negatives.append({"transaction": row_ids[position], "item": name, "value": float(frame[column].iloc[position])})
        for position in present.nonzero()[0]:
            rows[position].append(name)
    baskets = build_baskets(rows, source=source)
    summary = baskets.summary
    summary.update(layout=layout, rows_read=int(len(frame)), item_columns=len(item_columns), ignored_items_dropped=ignored)
    summary["warnings"] = []
    if layout == "quantity":
        summary["negative_quantities"] = negative_count
        summary["negative_quantities_listed"] = negatives
        if negative_count:
            shown = ", ".join(f"transaction {entry['transaction']}, {entry['item']} = {entry['value']:g}" for entry in negatives[:5])
            message = (
                f"{negative_count} negative quantit{'y' if negative_count == 1 else 'ies'} (such as returns) "
                f"counted as absent: {shown}"
            )
            summary["warnings"].append(message)
            logger.warning("%s", message)
    return baskets


def table_baskets(table: Table, steps: list[Any]) -> Baskets:
    """Turn each table row into a basket of ``column=value`` items, for mining a table.

    ``discretise`` steps bin numeric columns first (the item is ``column=[low, high)``);
    ``drop``, ``select`` and ``drop_constant`` steps choose the columns. Missing cells give no
    item. A numeric column with many distinct values and no bins is an error naming it.
    """
    import pandas as pd

    # The target, if any, is an ordinary column here, so rules may predict it.
    frame = table.frame
    labels: dict[str, Any] = {}
    columns = [str(column) for column in frame.columns]
    for index, step in enumerate(steps):
        named = getattr(step, "columns", None) or []
        absent = [column for column in named if column not in columns]
        if absent:
            raise DataError(
                f"preprocess[{index}] ({step.step}): column '{absent[0]}' not found",
                hint=closest_hint(absent[0], columns, "columns"),
            )
        if step.step == "drop":
            columns = [column for column in columns if column not in step.columns]
        elif step.step == "select":
            columns = [column for column in columns if column in step.columns]
        elif step.step == "drop_constant":
            checked = step.columns or columns
            columns = [column for column in columns if column not in checked or frame[column].nunique(dropna=False) > 1]
        elif step.step == "discretise":
            targets = step.columns or [column for column in columns if pd.api.types.is_numeric_dtype(frame[column])]
            for column in targets:
                labels[column] = _bin_labels(frame[column], column, step, index)
    rows: list[list[str]] = [[] for _ in range(len(frame))]
    for column in columns:
        values = labels.get(column)
        if values is None:
            series = frame[column]
            if pd.api.types.is_float_dtype(series) and series.nunique() > MAX_UNBINNED_VALUES:
                raise DataError(
                    f"column '{column}' is numeric with {series.nunique()} distinct values, too many to mine as items",
                    hint=f"add a step such as `- {{step: discretise, n_bins: 5, columns: [{column}]}}`, or drop the column",
                )
            values = series.astype(object).where(series.notna(), None).tolist()
            values = [None if value is None else _plain(value) for value in values]
        for position, value in enumerate(values):
            if value is not None and str(value).strip() != "":
                rows[position].append(f"{column}={value}")
    from dmrun.data.readers import build_baskets

    baskets = build_baskets(rows, source=table.source)
    baskets.summary.update(layout="table", rows_read=int(len(frame)), columns_mined=columns, binned_columns=sorted(labels))
    return baskets


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bin_labels(series, column: str, step: Any, index: int) -> list[str | None]:
    """Fit a KBinsDiscretizer on the column and return each row's bin as ``[low, high)`` text."""
    import warnings

    import numpy as np
    import pandas as pd

    from dmrun.preprocess.steps import make_discretiser

    if not pd.api.types.is_numeric_dtype(series):
        raise DataError(
            f"preprocess[{index}] (discretise): column '{column}' holds text and cannot be binned",
            hint="list only numeric columns in the discretise step",
        )
    known = series.notna().to_numpy()
    values = series.to_numpy(dtype="float64")
    if not np.isfinite(values[known]).all():
        raise DataError(f"preprocess[{index}] (discretise): column '{column}' has infinite values")
    labels: list[str | None] = [None] * len(series)
    if known.sum() == 0:
        return labels
    discretiser = make_discretiser(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bins too narrow to hold a value are merged; the labels show it
        bins = discretiser.fit_transform(values[known].reshape(-1, 1))[:, 0].astype(int)
    edges = discretiser.bin_edges_[0]
    names = [f"[{_short(edges[b])}, {_short(edges[b + 1])}{']' if b == len(edges) - 2 else ')'}" for b in range(len(edges) - 1)]
    for position, bin_index in zip(np.flatnonzero(known), bins):
        labels[position] = names[bin_index]
    return labels


def _short(value: float) -> str:
    return f"{value:.4g}"
