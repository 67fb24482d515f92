"""Checks of the config options the spark engine supports, run before Spark starts.

Each unsupported option is a ``ConfigError`` that names the key and the value, so a config
never runs on Spark with a setting silently ignored. This module imports no pyspark.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import ConfigError

# File formats Spark reads itself; a built-in dataset (`dataset.name`) is small and read in memory.
TABLE_FORMATS = ("csv", "tsv", "parquet", "jsonl")
# Preprocessing steps built from MLlib stages (see dmrun.spark.features).
SPARK_STEPS = ("impute", "scale", "onehot", "ordinal", "drop", "select")
# The charsets Spark's CSV reader accepts: Python's codec name to Spark's name.
SPARK_CHARSETS = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-be": "UTF-16BE",
    "utf-16-le": "UTF-16LE",
    "utf-32": "UTF-32",
    "ascii": "US-ASCII",
    "iso8859-1": "ISO-8859-1",
}
# MLlib's DecisionTree accepts a maximum depth of at most 30.
MAX_TREE_DEPTH = 30


def _unsupported(key: str, value: object, hint: str) -> ConfigError:
    return ConfigError(f"{key}: {value!r} is not supported on the spark engine", hint=hint)


def check_supported(config: ExperimentConfig, base_dir: Path) -> None:
    """Raise a ``ConfigError`` for the first option in ``config`` that the spark engine does not support."""
    from dmrun.spark.session import check_master, resolve_master, under_spark_submit

    if not under_spark_submit():
        check_master(*resolve_master(config.spark))
    _check_dataset(config, base_dir)
    _check_preprocess(config)
    model = config.model
    if model.type == "rules":
        _check_rules(config)
    elif model.type == "tree":
        _check_tree(config)


def _check_dataset(config: ExperimentConfig, base_dir: Path) -> None:
    from dmrun.data import file_format, mining_dataset_config

    dataset = config.dataset
    if dataset.decimal != ".":
        raise _unsupported("dataset.decimal", dataset.decimal, "convert the file to `.` decimals or to Parquet")
    split = dataset.split
    if split.group_by is not None:
        raise _unsupported("dataset.split.group_by", split.group_by, "remove it, or use engine: sklearn")
    if split.time_column is not None:
        raise _unsupported("dataset.split.time_column", split.time_column, "remove it, or use engine: sklearn")
    if not split.shuffle:
        raise _unsupported("dataset.split.shuffle", False, "Spark draws the split at random; remove the setting")
    if dataset.path is None:
        return
    if config.model.type == "rules":
        dataset = mining_dataset_config(dataset)
    kind = file_format(Path(dataset.path), dataset)
    if kind not in (*TABLE_FORMATS, "basket"):
        raise _unsupported("dataset.format", kind, "convert the data to Parquet or CSV, or use the local engine")
    if kind in ("csv", "tsv") and codecs.lookup(dataset.encoding).name not in SPARK_CHARSETS:
        raise _unsupported(
            "dataset.encoding",
            dataset.encoding,
            f"Spark reads CSV as UTF-8, UTF-16, UTF-32, ASCII or ISO-8859-1: convert the file, for example with "
            f"`iconv -f {dataset.encoding} -t utf-8`, or use the local engine",
        )


def _check_preprocess(config: ExperimentConfig) -> None:
    for index, step in enumerate(config.preprocess):
        if step.step not in SPARK_STEPS:
            raise ConfigError(
                f"preprocess[{index}]: step '{step.step}' is not supported on the spark engine",
                hint=f"the spark engine supports the steps {', '.join(SPARK_STEPS)}",
            )
        if step.step == "impute" and step.strategy == "constant":
            raise _unsupported(f"preprocess[{index}].strategy", "constant", "use mean, median or most_frequent")
        if step.step == "onehot" and step.drop_first:
            raise _unsupported(f"preprocess[{index}].drop_first", True, "remove drop_first")


def _check_rules(config: ExperimentConfig) -> None:
    settings = config.model
    if settings.algorithm != "fpgrowth":
        raise _unsupported(
            "model.algorithm", settings.algorithm, "MLlib mines with FPGrowth, which finds the same itemsets: use fpgrowth"
        )
    dataset = config.dataset
    layout = dataset.baskets.layout
    if layout in ("onehot", "quantity"):
        raise _unsupported("dataset.baskets.layout", layout, "use the lines or long layout, or engine: fim")
    if dataset.path is None:
        return
    from dmrun.data import file_format, mining_dataset_config

    mined = mining_dataset_config(dataset)
    if file_format(Path(mined.path), mined) != "basket":
        raise ConfigError(
            f"mining the table {Path(dataset.path).name} row by row (column=value items) is not supported on "
            "the spark engine",
            hint="give basket data (one transaction per line, or a long table with baskets.transaction_column), "
            "or use engine: fim",
        )
    if layout in ("auto", "lines") and dataset.baskets.transaction_column is None:
        if dataset.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise _unsupported("dataset.encoding", dataset.encoding, "Spark reads basket lines as UTF-8: convert the file")


def _check_tree(config: ExperimentConfig) -> None:
    settings = config.model
    if settings.criterion in ("absolute_error", "friedman_mse"):
        raise _unsupported("model.criterion", settings.criterion, "MLlib supports gini, entropy and squared_error")
    if settings.min_samples_split != 2:
        raise _unsupported(
            "model.min_samples_split", settings.min_samples_split, "MLlib has no such limit: use min_samples_leaf"
        )
    if settings.max_leaf_nodes is not None:
        raise _unsupported("model.max_leaf_nodes", settings.max_leaf_nodes, "limit the tree with max_depth instead")
    if settings.ccp_alpha != 0:
        raise _unsupported("model.ccp_alpha", settings.ccp_alpha, "MLlib does not prune: limit max_depth instead")
    if settings.max_depth is not None and settings.max_depth > MAX_TREE_DEPTH:
        raise ConfigError(
            f"model.max_depth: {settings.max_depth} is above {MAX_TREE_DEPTH}, the largest depth the spark engine (MLlib) supports",
            hint=f"set max_depth to at most {MAX_TREE_DEPTH}",
        )
