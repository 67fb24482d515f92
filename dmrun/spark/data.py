"""Readers that load tables (CSV, TSV, Parquet, JSON lines) and baskets into Spark.

Spark reads the files itself, so no row passes through pandas. Only built-in datasets, which
are small, are read in memory and handed to Spark. Baskets are cleaned as the local readers
clean them: items trimmed, duplicates in a basket collapsed, blank items, ignored items and
empty baskets dropped and counted.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmrun.config.schema import DatasetConfig, ExperimentConfig
from dmrun.errors import DataError
from dmrun.spark.options import SPARK_CHARSETS
from dmrun.spark.session import SparkHandle
from dmrun.suggest import closest_hint

logger = logging.getLogger(__name__)

ITEMS = "items"
# Lines of a basket file read to choose between comma and whitespace separators.
HEAD_LINES = 1000


@dataclass
class SparkTable:
    """A table as a Spark DataFrame, with the reader's facts for data.json."""

    frame: Any  # pyspark.sql.DataFrame
    source: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SparkBaskets:
    """Cleaned transactions as a cached DataFrame with one ``items`` column (array of distinct strings)."""

    frame: Any
    source: str
    summary: dict[str, Any]
    handle: SparkHandle
    engine: str = "spark"

    def close(self) -> None:
        self.frame.unpersist()
        self.handle.stop()


def file_fingerprint(path: Path) -> str:
    from dmrun.data.options import file_fingerprint as local_fingerprint

    return local_fingerprint(path)


def resolve_path(config: DatasetConfig, base_dir: Path) -> Path:
    from dmrun.data import resolve_file

    return resolve_file(config, base_dir).resolve()


# --- tables ---------------------------------------------------------------------------------


def read_table(handle: SparkHandle, config: DatasetConfig, base_dir: Path, seed: int) -> SparkTable:
    """Read the table a dataset section names, then apply drop_columns, features, exclude and sample."""
    if config.name is not None:
        table = _builtin_table(handle, config)
    else:
        table = _file_table(handle, config, base_dir)
    return _apply_options(table, config, seed)


def _builtin_table(handle: SparkHandle, config: DatasetConfig) -> SparkTable:
    from dmrun.data import load_builtin
    from dmrun.data.types import Table

    dataset = load_builtin(config.name)
    if not isinstance(dataset, Table):
        raise DataError(f"dataset.name: the built-in dataset '{config.name}' contains baskets, not a table")
    frame = dataset.frame
    columns = [str(column) for column in frame.columns]
    types = [_spark_type(frame[column]) for column in frame.columns]
    schema = ", ".join(f"`{name}` {kind}" for name, kind in zip(columns, types))
    rows = [tuple(map(_plain_value, row, types)) for row in frame.itertuples(index=False, name=None)]
    spark_frame = handle.session.createDataFrame(rows, schema)
    table = SparkTable(_numbers_as_double(spark_frame), f"built-in:{config.name}", {"rows_read": len(frame)})
    if config.target is None and dataset.target is not None:
        table.summary["target"] = dataset.target
    return table


def _spark_type(series: Any) -> str:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "double" if numeric else "string"


def _plain_value(value: Any, kind: str) -> float | str | None:
    """Convert a pandas cell to the Python value Spark expects for a column of ``kind``; NaN becomes None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return float(value) if kind == "double" else str(value)


def _file_table(handle: SparkHandle, config: DatasetConfig, base_dir: Path) -> SparkTable:
    from dmrun.data import file_format

    path = resolve_path(config, base_dir)
    kind = file_format(path, config)
    reader = handle.session.read
    if kind == "parquet":
        frame = reader.parquet(str(path))
        frame = frame.drop(*[name for name in frame.columns if name == "__index_level_0__"])
    elif kind == "jsonl":
        frame = reader.json(str(path))
    else:
        frame = _read_csv(reader, path, config, kind)
    summary = {"fingerprint": file_fingerprint(path), "format": kind}
    return SparkTable(frame, str(path), summary)


def _read_csv(reader: Any, path: Path, config: DatasetConfig, kind: str) -> Any:
    """Read CSV or TSV, mark missing values as null and type the numeric columns.

    Spark infers the column types first, in its own pass over the file. Only the columns it
    reads as text are trimmed and checked against the missing-value markers, because a marker
    such as `?` makes Spark read a numeric column as text.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from dmrun.data.readers import detect_delimiter

    delimiter = config.delimiter or ("\t" if kind == "tsv" else detect_delimiter(_head(path, config.encoding)))
    frame = (
        reader.option("header", config.header)
        .option("sep", delimiter)
        .option("encoding", SPARK_CHARSETS.get(codecs.lookup(config.encoding).name, config.encoding))
        .option("inferSchema", True)
        .option("ignoreLeadingWhiteSpace", True)
        .option("ignoreTrailingWhiteSpace", True)
        .option("mode", "FAILFAST")
        .csv(str(path))
    )
    names = [name.strip().lstrip("\ufeff") for name in frame.columns]
    if not config.header:
        names = config.columns or [f"column_{index}" for index in range(1, len(names) + 1)]
        if len(names) != len(frame.columns):
            raise DataError(f"dataset.columns names {len(names)} columns, but {path.name} has {len(frame.columns)}")
    frame = frame.toDF(*names)
    markers = [marker for marker in config.missing_values if marker != ""]
    cleaned = []
    for item in frame.schema.fields:
        column = F.col(f"`{item.name}`")
        if not isinstance(item.dataType, StringType):
            cleaned.append(column)
            continue
        value = F.trim(column)
        missing = (value == "") | value.isin(markers) if markers else value == ""
        cleaned.append(F.when(missing, F.lit(None)).otherwise(value).alias(item.name))
    return _numbers_as_double(frame.select(*cleaned))


def _head(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as stream:
        return stream.read(20000)


def try_double(name: str) -> Any:
    """Return the column as a double, or null where the text is not a number (Spark 4 fails a plain cast)."""
    from pyspark.sql import functions as F

    quoted = name.replace("`", "``")
    return F.expr(f"try_cast(`{quoted}` AS DOUBLE)")


def _numbers_as_double(frame: Any) -> Any:
    """Cast each text column whose every value is a number to double, in one pass over the data."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType, StringType

    text = [item.name for item in frame.schema.fields if isinstance(item.dataType, StringType)]
    numeric = [item.name for item in frame.schema.fields if isinstance(item.dataType, NumericType)]
    if text:
        counts = frame.agg(
            *[F.count(F.col(f"`{name}`")).alias(f"n{index}") for index, name in enumerate(text)],
            *[F.count(try_double(name)).alias(f"d{index}") for index, name in enumerate(text)],
        ).first()
        numbers = {name for index, name in enumerate(text) if counts[f"n{index}"] == counts[f"d{index}"] and counts[f"n{index}"]}
    else:
        numbers = set()
    columns = [
        F.col(f"`{item.name}`").cast("double").alias(item.name)
        if item.name in numbers or item.name in numeric
        else F.col(f"`{item.name}`")
        for item in frame.schema.fields
    ]
    return frame.select(*columns)


def _require(frame: Any, columns: list[str], setting: str, source: str) -> None:
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise DataError(
            f"{setting}: column '{absent[0]}' not found in {Path(source).name}",
            hint=closest_hint(absent[0], list(frame.columns), "columns"),
        )


def _apply_options(table: SparkTable, config: DatasetConfig, seed: int) -> SparkTable:
    frame = table.frame
    if config.drop_columns:
        _require(frame, config.drop_columns, "dataset.drop_columns", table.source)
        frame = frame.drop(*config.drop_columns)
    target = config.target or table.summary.get("target")
    if config.features is not None:
        _require(frame, config.features, "dataset.features", table.source)
        wanted = set(config.features) | ({target} if target else set())
        frame = frame.select(*[f"`{name}`" for name in frame.columns if name in wanted])
    if config.exclude:
        _require(frame, config.exclude, "dataset.exclude", table.source)
        if target in config.exclude:
            raise DataError(f"dataset.exclude lists the target '{target}'", hint="remove it from dataset.exclude")
        frame = frame.drop(*config.exclude)
    table.frame = frame
    if config.sample is not None:
        table.frame, table.summary["sample"] = sample_rows(frame, config.sample, seed)
    return table


def sample_rows(frame: Any, sample: int | float, seed: int) -> tuple[Any, dict[str, Any]]:
    """Keep a seeded random sample: a fraction (each row drawn independently) or at most a count of rows."""
    total = frame.count()
    if isinstance(sample, float):
        kept = frame.sample(fraction=sample, seed=seed)
    else:
        kept = frame.sample(fraction=min(1.0, 1.2 * sample / max(total, 1)), seed=seed).limit(sample) if sample < total else frame
    return kept, {"requested": sample, "rows_before": total, "seed": seed, "method": "spark sample"}


# --- baskets --------------------------------------------------------------------------------


def read_baskets(handle: SparkHandle, config: DatasetConfig, base_dir: Path, seed: int) -> SparkBaskets:
    """Read basket data (one transaction per line, or a long table) into cleaned, cached transactions."""
    from pyspark.sql import functions as F

    settings = config.baskets
    summary: dict[str, Any] = {}
    if config.name is not None:
        raw, source = _builtin_baskets(handle, config.name), f"built-in:{config.name}"
    elif settings.layout == "long" or (settings.layout == "auto" and settings.transaction_column is not None):
        path = resolve_path(config, base_dir)
        raw, summary = _long_baskets(handle, config, path)
        source = str(path)
    else:
        path = resolve_path(config, base_dir)
        raw, summary = _line_baskets(handle, config, path)
        source = str(path)
    frame, counts = _clean(raw, settings.ignore_items)
    frame = frame.where(F.size(ITEMS) > 0).select(ITEMS)
    if config.sample is not None:
        frame, summary["sample"] = sample_rows(frame, config.sample, seed)
    frame = frame.cache()
    totals = frame.agg(
        F.count(F.lit(1)).alias("transactions"),
        F.coalesce(F.sum(F.size(ITEMS)), F.lit(0)).alias("items_total"),
        F.coalesce(F.max(F.size(ITEMS)), F.lit(0)).alias("max_basket_size"),
    ).first()
    if totals["transactions"] == 0:
        raise DataError(f"{source} contains no transactions")
    distinct = frame.select(F.explode(ITEMS).alias("item")).distinct().count()
    summary = {
        "transactions": totals["transactions"],
        "distinct_items": distinct,
        "items_total": totals["items_total"],
        "max_basket_size": totals["max_basket_size"],
        **counts,
        **summary,
    }
    return SparkBaskets(frame, source, summary, handle)


def _builtin_baskets(handle: SparkHandle, name: str) -> Any:
    from dmrun.data import load_builtin
    from dmrun.data.types import Baskets

    dataset = load_builtin(name)
    if not isinstance(dataset, Baskets):
        raise DataError(f"dataset.name: the built-in dataset '{name}' is a table; the spark engine mines basket data")
    return handle.session.createDataFrame([(basket,) for basket in dataset.transactions], f"{ITEMS} array<string>")


def _line_baskets(handle: SparkHandle, config: DatasetConfig, path: Path) -> tuple[Any, dict[str, Any]]:
    """Split each line on the delimiter: a comma when the first lines have one, else runs of whitespace."""
    from pyspark.sql import functions as F

    delimiter = config.delimiter
    if delimiter is None:
        with open(path, encoding="utf-8", errors="replace") as stream:
            head = [stream.readline() for _ in range(HEAD_LINES)]
        delimiter = "," if any("," in line for line in head) else "whitespace"
    lines = handle.session.read.text(str(path))
    value = F.regexp_replace("value", "^\ufeff", "")
    quoted = lines.where(F.col("value").contains('"')).limit(1).count() if delimiter == "," else 0
    if quoted:
        raise DataError(
            f"{path.name} has quoted items (a line contains '\"'), and the spark engine splits lines on the "
            "delimiter without CSV quoting",
            hint="use engine: fim, or write the baskets as a long table (transaction,item)",
        )
    if delimiter == "whitespace":
        items = F.split(F.trim(F.regexp_replace(value, r"\s+", " ")), " ")
        items = F.filter(items, lambda item: item != "")
    else:
        pattern = "\t" if delimiter in ("\t", "tab") else delimiter
        # An empty line is an empty basket, not one blank item, as Python's csv reader has it.
        items = F.when(value == "", F.array().cast("array<string>")).otherwise(F.split(value, _regex_literal(pattern)))
    summary = {"fingerprint": file_fingerprint(path), "delimiter": delimiter}
    return lines.select(items.alias(ITEMS)), summary


def _regex_literal(text: str) -> str:
    import re

    return re.escape(text)


def _long_baskets(handle: SparkHandle, config: DatasetConfig, path: Path) -> tuple[Any, dict[str, Any]]:
    """Group a long table (one row per transaction id and item) into baskets."""
    from pyspark.sql import functions as F

    from dmrun.data import file_format

    settings = config.baskets
    if settings.transaction_column is None:
        raise DataError(
            "dataset.baskets.transaction_column is required for the long layout",
            hint="name the column that holds the transaction id, for example `transaction_column: order_id`",
        )
    kind = file_format(path, config.model_copy(update={"format": "auto"}))
    table_config = config.model_copy(update={"missing_values": [], "target": None, "sample": None})
    if kind == "parquet":
        frame = handle.session.read.parquet(str(path))
    else:
        frame = _read_csv(handle.session.read, path, table_config, "tsv" if kind == "tsv" else "csv")
    if config.drop_columns:
        frame = frame.drop(*config.drop_columns)
    for setting, column in (("transaction_column", settings.transaction_column), ("item_column", settings.item_column)):
        _require(frame, [column], f"dataset.baskets.{setting}", str(path))
    transaction = F.col(f"`{settings.transaction_column}`")
    item = F.coalesce(F.col(f"`{settings.item_column}`").cast("string"), F.lit(""))
    counted = frame.agg(F.count(F.lit(1)).alias("rows"), F.sum(transaction.isNull().cast("int")).alias("missing")).first()
    grouped = frame.where(transaction.isNotNull()).groupBy(transaction).agg(F.collect_list(item).alias(ITEMS))
    summary = {
        "layout": "long",
        "rows_read": counted["rows"],
        "rows_without_transaction_id": counted["missing"] or 0,
        "fingerprint": file_fingerprint(path),
    }
    return grouped.select(ITEMS), summary


def _clean(raw: Any, ignore_items: list[str]) -> tuple[Any, dict[str, int]]:
    """Trim items, drop blank and ignored ones, collapse duplicates, and count each change."""
    from pyspark.sql import functions as F

    def strip(item):
        return F.regexp_replace(item, r"^\s+|\s+$", "")

    ignored = sorted({item.strip() for item in ignore_items})
    trimmed = F.transform(ITEMS, strip)
    steps = raw.select(
        F.size(F.filter(ITEMS, lambda item: item != strip(item))).alias("trimmed"),
        F.size(F.filter(trimmed, lambda item: item == "")).alias("blank"),
        F.filter(trimmed, lambda item: item != "").alias("present"),
    )
    if ignored:
        ignore = F.array(*[F.lit(item) for item in ignored])
        steps = steps.select(
            "trimmed", "blank",
            F.size(F.filter("present", lambda item: F.array_contains(ignore, item))).alias("ignored"),
            F.filter("present", lambda item: ~F.array_contains(ignore, item)).alias("present"),
        )
    else:
        steps = steps.withColumn("ignored", F.lit(0))
    steps = steps.select(
        "trimmed", "blank", "ignored", (F.size("present") - F.size(F.array_distinct("present"))).alias("duplicates"),
        F.array_distinct("present").alias(ITEMS),
    )
    counts = steps.agg(
        F.coalesce(F.sum("trimmed"), F.lit(0)).alias("items_trimmed"),
        F.coalesce(F.sum("blank"), F.lit(0)).alias("blank_items_dropped"),
        F.coalesce(F.sum("ignored"), F.lit(0)).alias("ignored_items_dropped"),
        F.coalesce(F.sum("duplicates"), F.lit(0)).alias("duplicate_items_collapsed"),
        F.coalesce(F.sum((F.size(ITEMS) == 0).cast("int")), F.lit(0)).alias("empty_baskets_dropped"),
    ).first()
    return steps, {key: int(value) for key, value in counts.asDict().items()}
