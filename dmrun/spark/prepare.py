"""Shape Spark data for a trainer: baskets for rules, a split and fitted features for trees and k-means.

The split draws each row into train, validation or test independently with the seed, so the
split sizes are close to, not exactly, the configured fractions, and classes keep their
proportions in expectation rather than exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import ConfigError, DataError
from dmrun.spark.data import SparkTable, read_baskets, read_table, try_double
from dmrun.spark.features import FEATURES, LABEL, FeaturePlan, plan_features
from dmrun.spark.session import SparkHandle, spark_errors, start_session
from dmrun.suggest import closest_hint

logger = logging.getLogger(__name__)

# An integral numeric target with at most this many distinct values is read as class labels,
# as on the local engines.
MAX_INFERRED_CLASSES = 20


@dataclass
class SparkPrepared:
    """A table ready for MLlib: the fitted feature stages and the DataFrames they produced.

    ``train``, ``val`` and ``test`` (supervised) or ``rows`` (clustering) hold a ``features``
    vector column and, when there is a target, a ``label`` column (class codes or values).
    """

    handle: SparkHandle
    task: str
    plan: FeaturePlan
    feature_names: list[str]
    classes: list[Any] | None
    target: str | None
    train: Any = None
    val: Any = None
    test: Any = None
    rows: Any = None
    summary: dict[str, Any] = field(default_factory=dict)
    engine: str = "spark"

    def close(self) -> None:
        self.handle.stop()


def prepare(config: ExperimentConfig, base_dir: Path, kind: str) -> tuple[Any, dict[str, Any]]:
    """Start Spark, read the dataset and shape it for a trainer that consumes ``kind`` data."""
    handle = start_session(config)
    try:
        with spark_errors(DataError, "reading the data"):
            return _prepare(handle, config, base_dir, kind)
    except BaseException:
        handle.stop()
        raise


def _prepare(handle: SparkHandle, config: ExperimentConfig, base_dir: Path, kind: str) -> tuple[Any, dict[str, Any]]:
    if kind == "baskets":
        baskets = read_baskets(handle, config.dataset, base_dir, config.seed)
        summary = {"source": baskets.source, **baskets.summary, "engine": "spark", "spark": handle.info}
        return baskets, summary
    table = read_table(handle, config.dataset, base_dir, config.seed)
    if kind == "clustering":
        prepared = prepare_clustering(handle, table, config)
    else:
        prepared = prepare_supervised(handle, table, config)
    prepared.summary.update(engine="spark", spark=handle.info)
    return prepared, prepared.summary


def _base_summary(table: SparkTable) -> dict[str, Any]:
    summary = {"source": table.source, "columns": [], "rows_dropped": {}, "warnings": []}
    if "fingerprint" in table.summary:
        summary["fingerprint"] = table.summary["fingerprint"]
    summary["reader"] = {key: value for key, value in table.summary.items() if key not in ("fingerprint", "target")}
    return summary


def _describe(frame: Any, summary: dict[str, Any]) -> None:
    """Record the row count and each column's type and missing count, in one pass."""
    from pyspark.sql import functions as F

    names = frame.columns
    counts = frame.agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.sum(F.col(f"`{name}`").isNull().cast("long")).alias(f"m{index}") for index, name in enumerate(names)],
    ).first()
    types = dict(frame.dtypes)
    summary["rows"] = int(counts["rows"])
    summary["columns"] = [
        {"name": name, "dtype": types[name], "missing": int(counts[f"m{index}"] or 0)} for index, name in enumerate(names)
    ]


def _target(table: SparkTable, config: ExperimentConfig, required: bool) -> str | None:
    target = config.dataset.target or table.summary.get("target")
    if target is None:
        if required:
            raise ConfigError(
                f"dataset.target is required for model type '{config.model.type}'",
                hint="name the column to predict, for example `target: label`; columns: " + ", ".join(table.frame.columns),
            )
        return None
    if target not in table.frame.columns:
        raise DataError(
            f"dataset.target: column '{target}' not found in {table.source}",
            hint=closest_hint(target, list(table.frame.columns), "columns"),
        )
    return target


def infer_task(frame: Any, target: str, declared: str) -> str:
    """Pick classification or regression as the local engines do, from one small query."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    if declared != "auto":
        return declared
    column = F.col(f"`{target}`")
    if not isinstance(frame.schema[target].dataType, NumericType):
        return "classification"
    values = frame.where(column.isNotNull()).select(column).distinct().limit(MAX_INFERRED_CLASSES + 1).collect()
    integral = frame.where(column.isNotNull() & (column != F.round(column))).limit(1).count() == 0
    return "classification" if integral and len(values) <= MAX_INFERRED_CLASSES else "regression"


def encode_target(
    frame: Any, target: str, task: str, summary: dict[str, Any], require_two: bool = True
) -> tuple[Any, list[Any] | None]:
    """Add the ``label`` column: class codes 0..K-1 in sorted label order, or the value as a double."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    column = F.col(f"`{target}`")
    if task == "regression":
        if not isinstance(frame.schema[target].dataType, NumericType):
            bad = frame.where(try_double(target).isNull()).select(column).first()
            if bad is not None:
                raise DataError(
                    f"target '{target}' has non-numeric value {bad[0]!r}, so it cannot be a regression target",
                    hint="set dataset.task: classification if the values are classes",
                )
        return frame.withColumn(LABEL, column.cast("double")), None
    counts = frame.groupBy(column.alias("value")).count().collect()
    numeric = isinstance(frame.schema[target].dataType, NumericType)
    classes = sorted(row["value"] for row in counts)
    if numeric and all(float(value).is_integer() for value in classes):
        classes = [int(value) for value in classes]
    if require_two and len(classes) < 2:
        raise DataError(
            f"target '{target}' has a single class: all rows are {classes[0]!r}; classification needs at least 2 classes",
            hint="check dataset.target, or add rows of other classes",
        )
    code = F.lit(None).cast("double")
    for index, value in enumerate(classes):
        code = F.when(column == F.lit(value), F.lit(float(index))).otherwise(code)
    by_value = {row["value"]: row["count"] for row in counts}
    summary["label_mapping"] = {str(index): value for index, value in enumerate(classes)}
    summary["class_balance"] = {str(value): int(by_value[value]) for value in classes}
    return frame.withColumn(LABEL, code), classes


def _split(frame: Any, config: ExperimentConfig) -> tuple[Any, Any, Any]:
    """Draw each row into test, validation or train with the seed (see the module docstring)."""
    from pyspark.sql import functions as F

    split = config.dataset.split
    draw = F.rand(config.seed)
    frame = frame.withColumn("_draw", draw)
    test = frame.where(F.col("_draw") < split.test_size)
    val = frame.where((F.col("_draw") >= split.test_size) & (F.col("_draw") < split.test_size + split.val_size))
    train = frame.where(F.col("_draw") >= split.test_size + split.val_size)
    return (part.drop("_draw") for part in (train, val, test))


def prepare_supervised(handle: SparkHandle, table: SparkTable, config: ExperimentConfig) -> SparkPrepared:
    """Encode the target, split the rows and fit the feature stages on the training split."""
    from pyspark.sql import functions as F

    target = _target(table, config, required=True)
    summary = _base_summary(table)
    frame = table.frame
    _describe(frame, summary)
    missing = next(column["missing"] for column in summary["columns"] if column["name"] == target)
    if missing:
        summary["rows_dropped"]["missing target"] = missing
        frame = frame.where(F.col(f"`{target}`").isNotNull())
    task = infer_task(frame, target, config.dataset.task)
    if task == "forecasting":
        raise ConfigError("dataset.task 'forecasting' needs model type 'rnn'")
    frame, classes = encode_target(frame, target, task, summary)
    train, val, test = _split(frame, config)
    train = train.cache()
    plan = plan_features(train.drop(target, LABEL), config.preprocess, table.source)
    plan.check_complete(frame)
    parts = [plan.transform(part).select(FEATURES, LABEL).cache() for part in (train, val, test)]
    sizes = [part.count() for part in parts]
    train.unpersist()
    if sizes[0] == 0 or sizes[2] == 0:
        raise DataError(f"dataset has {summary['rows']} rows, too few to split into train and test")
    if classes is not None:
        present = {int(row[0]) for row in parts[0].select(LABEL).distinct().collect()}
        if len(present) < 2:
            raise DataError(
                f"the training split has a single class of the {len(classes)} in the data; classification needs at least 2",
                hint="add rows of the other classes",
            )
    summary.update(
        target=target,
        task=task,
        features=plan.feature_names,
        split={"train": sizes[0], "validation": sizes[1], "test": sizes[2], "method": "each row drawn at random with the seed"},
    )
    return SparkPrepared(handle, task, plan, plan.feature_names, classes, target, *parts, summary=summary)


def prepare_clustering(handle: SparkHandle, table: SparkTable, config: ExperimentConfig) -> SparkPrepared:
    """Fit the feature stages on every row; keep the target, if any, aside as true labels."""
    target = _target(table, config, required=False)
    summary = _base_summary(table)
    frame = table.frame
    _describe(frame, summary)
    classes = None
    if target is not None:
        missing = next(column["missing"] for column in summary["columns"] if column["name"] == target)
        if missing:
            summary["warnings"].append(f"target '{target}' has missing values, so ARI and NMI are not computed")
            frame, target = frame.drop(target), None
        else:
            frame, classes = encode_target(frame, target, "classification", summary, require_two=False)
    features = frame.drop(*[column for column in (target, LABEL) if column in frame.columns])
    plan = plan_features(features, config.preprocess, table.source)
    plan.check_complete(features)
    kept = [FEATURES] + ([LABEL] if target is not None else [])
    rows = plan.transform(frame).select(*kept).cache()
    summary.update(target=target, task="clustering", features=plan.feature_names, split={"train": summary["rows"]})
    return SparkPrepared(handle, "clustering", plan, plan.feature_names, classes, target, rows=rows, summary=summary)
