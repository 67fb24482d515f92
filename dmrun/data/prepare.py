"""Turn a loaded table into the arrays a trainer needs: split, encode labels, preprocess.

Preprocessing is fitted on the training split only and then applied to the validation and
test splits, so no statistic of held-out rows leaks into training.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from dmrun.config.schema import ExperimentConfig
from dmrun.data.types import Table
from dmrun.errors import ConfigError, DataError
from dmrun.gctools import release_free_memory
from dmrun.preprocess import FittedPreprocessing, fit_preprocessing, missing_counts
from dmrun.suggest import closest_hint

logger = logging.getLogger(__name__)

# An integer target with at most this many distinct values is read as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass
class SupervisedData:
    """Train, validation and test arrays for classification or regression.

    The feature matrices are float64 NumPy arrays, or float32 SciPy sparse matrices (CSC for
    training, CSR for validation and test) when ``prepare_supervised`` was asked for sparse ones.
    """

    task: str
    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any
    X_test: Any
    y_test: Any
    feature_names: list[str]
    classes: list[Any] | None
    preprocessing: FittedPreprocessing
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClusteringData:
    """All rows for clustering, with the true labels when the dataset has a target."""

    X: Any
    labels: Any | None
    feature_names: list[str]
    classes: list[Any] | None
    preprocessing: FittedPreprocessing
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeriesData:
    """One numeric series split in time order into train, validation and test parts.

    ``inputs`` contains every input column over the whole series, shape (steps, columns), in the
    order of ``input_columns``; the first column is the target series itself.
    """

    train: Any
    val: Any
    test: Any
    name: str
    summary: dict[str, Any] = field(default_factory=dict)
    time_column: str | None = None
    times: list[Any] | None = None
    inputs: Any = None
    input_columns: list[str] = field(default_factory=list)


def infer_task(series, declared: str | None) -> str:
    import pandas as pd

    if declared and declared != "auto":
        return declared
    values = series.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _require_target(table: Table, config: ExperimentConfig) -> str:
    target = config.dataset.target or table.target
    columns = [str(column) for column in table.frame.columns]
    if target is None:
        raise ConfigError(
            f"dataset.target is required for model type '{config.model.type}'",
            hint="name the column to predict, for example `target: label`; columns: " + ", ".join(columns),
        )
    if target not in columns:
        from dmrun.data.readers import HEADERLESS_HINT, delimiter_in_name, header_looks_like_data

        hint = closest_hint(target, columns, "columns")
        split = delimiter_in_name(columns, [target])
        if split is not None:
            used = table.meta.get("delimiter")
            hint = f"the file looks {split!r}-separated" + (f", but it was read with the delimiter {used!r}" if used else "")
            hint += f"; set dataset.delimiter: {split!r}, or remove dataset.delimiter to detect it"
        elif header_looks_like_data(columns):
            hint = HEADERLESS_HINT
        raise DataError(f"dataset.target: column '{target}' not found in {table.source}", hint=hint)
    return target


def describe_columns(frame) -> list[dict[str, Any]]:
    return [
        {"name": str(column), "dtype": str(dtype), "missing": count}
        for (column, dtype), count in zip(frame.dtypes.items(), missing_counts(frame))
    ]


def _base_summary(table: Table) -> dict[str, Any]:
    frame = table.frame
    summary = {
        "source": table.source,
        "rows": int(len(frame)),
        "columns": describe_columns(frame),
        "rows_dropped": {},
        "warnings": [],
    }
    for key in ("fingerprint", "delimiter", "encoding"):
        if key in table.meta:
            summary[key] = table.meta[key]
    if table.summary:
        summary["reader"] = dict(table.summary)
    for message in text_value_warnings(frame):
        _warn(summary, message)
    return summary


def _warn(summary: dict[str, Any], message: str) -> None:
    """Record a data warning in the summary (data.json) and log it."""
    summary["warnings"].append(message)
    logger.warning("%s", message)


SUSPICIOUS_MARKERS = {".", "-", "--", "_", "*", "?", "n/a", "N/A", "na", "none", "None", "NONE", "missing", "#N/A"}


def text_value_warnings(frame) -> list[str]:
    """Return the warnings about the values of the text columns of ``frame``.

    Each column's distinct values are counted once, for both checks below, so a category
    column costs little.
    """
    warnings = []
    for column in frame.columns:
        series = frame[column]
        if not _is_text(series):
            continue
        counts = _text_counts(series)
        warnings += _marker_warnings(column, counts)
        warnings += _number_warnings(column, series, counts)
    return warnings


def _marker_warnings(column: str, counts: dict[str, int]) -> list[str]:
    """Warn about text values that look like missing-value markers but were read as categories."""
    return [
        f"column '{column}' has the value {marker!r} in {counts[marker]} row(s); it looks like a missing-value "
        f"marker: add it to dataset.missing_values if it means missing"
        for marker in sorted(set(counts) & SUSPICIOUS_MARKERS)
    ]


def _number_warnings(column: str, series, counts: dict[str, int]) -> list[str]:
    """Warn when a text column's values are numbers, except for a decimal comma or a few stray values.

    Such a column is read as text, so an encoding step would silently turn it into categories.
    """
    import numpy as np
    import pandas as pd

    stripped_counts: dict[str, int] = {}
    for text, count in counts.items():
        if text.strip():
            stripped_counts[text.strip()] = stripped_counts.get(text.strip(), 0) + count
    if not stripped_counts:
        return []
    texts = pd.Series(list(stripped_counts), dtype=object)
    rows = np.array(list(stripped_counts.values()))
    numeric = pd.to_numeric(texts, errors="coerce").notna().to_numpy()
    decimal_comma = texts.str.fullmatch(DECIMAL_COMMA).to_numpy()
    if rows[numeric | decimal_comma].sum() < 0.5 * rows.sum():
        return []  # mostly words: a real text column
    if (numeric | decimal_comma).all() and decimal_comma.any():
        return [
            f"column '{column}' contains numbers with a decimal comma, such as {_first_with_comma(series)!r}, "
            "and is read as text: set dataset.decimal: ','"
        ]
    strays = set(texts[~numeric])
    stray_rows = int(rows[~numeric].sum())
    if not strays or stray_rows > 0.1 * rows.sum() or strays <= SUSPICIOUS_MARKERS:
        return []
    stripped = series.astype(str).str.strip()
    row = int(np.flatnonzero(stripped.isin(strays).to_numpy() & series.notna().to_numpy())[0])
    return [
        f"column '{column}' contains numbers in {int(rows.sum()) - stray_rows} of {int(rows.sum())} rows and text "
        f"in {stray_rows} (such as {stripped.iloc[row]!r} in data row {row + 1}), so it is read as text: "
        "fix those values, or add them to dataset.missing_values if they mean missing"
    ]


# A number written with a decimal comma, such as 3,25 or -,5.
DECIMAL_COMMA = r"[-+]?\d*,\d+"


def _first_with_comma(values) -> str:
    """Return the first value in file order that has a comma (categories are sorted, rows are not)."""
    text = values.dropna().astype(str).str.strip()
    return text[text.str.contains(",", regex=False)].iloc[0]


def _is_text(values) -> bool:
    """Tell whether a column is text: object, string or category dtype, not numbers, booleans or dates."""
    import pandas as pd

    return not (
        pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_datetime64_any_dtype(values)
    )


def _check_decimal_comma_target(values, target: str) -> None:
    """Raise a ``DataError`` when the target is numbers written with a decimal comma and read as text.

    Left alone, every distinct value would become a class of its own.
    """
    import pandas as pd

    if not _is_text(values):
        return
    texts = pd.Series([text.strip() for text in _text_counts(values)], dtype=object)
    if len(texts) and texts.str.fullmatch(DECIMAL_COMMA + r"|[-+]?\d+").all() and texts.str.contains(",", regex=False).any():
        first = _first_with_comma(values)
        raise DataError(
            f"dataset.target: column '{target}' contains numbers with a decimal comma, such as {first!r}, so they "
            "were read as text and each value would become a class",
            hint="set dataset.decimal: ','",
        )


def _text_counts(values) -> dict[str, int]:
    """Count the rows of each present value of a column, by its text form; missing values are left out.

    A category column is counted by its codes, without a string per row.
    """
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype):
        counts = values.value_counts(sort=False)
        counts = counts[counts > 0]
        counts.index = counts.index.astype(str)
    else:
        counts = values.dropna().astype(str).value_counts(sort=False)
    totals: dict[str, int] = {}
    for text, count in counts.items():
        totals[text] = totals.get(text, 0) + int(count)
    return totals


def encode_labels(values) -> tuple[Any, list[Any]]:
    """Encode class labels to 0..K-1; return the codes and the original label of each code."""
    import numpy as np
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype) and values.notna().all():
        # Encode the categories that occur, then give each row the code of its category.
        row_codes = values.cat.codes.to_numpy()
        present = np.flatnonzero(np.bincount(row_codes, minlength=len(values.cat.categories)))
        classes, present_codes = _unique_labels(values.cat.categories.to_numpy(dtype=object)[present])
        lookup = np.zeros(len(values.cat.categories), dtype=np.int64)
        lookup[present] = present_codes
        codes = lookup[row_codes]
    else:
        classes, codes = _unique_labels(values.to_numpy())
    return codes.astype(np.int64), [value.item() if hasattr(value, "item") else value for value in classes]


def _unique_labels(raw):
    """Return the sorted distinct labels and each value's index among them."""
    import numpy as np

    try:
        return np.unique(raw, return_inverse=True)
    except TypeError:  # mixed types cannot be ordered; compare them as text
        return np.unique(raw.astype(str), return_inverse=True)


def _split_indices(n_rows: int, labels, config: ExperimentConfig, summary: dict[str, Any], frame=None):
    import numpy as np
    from sklearn.model_selection import train_test_split

    split = config.dataset.split
    if split.group_by is not None:
        return split_by_group(frame, split, config.seed, summary)
    if split.time_column is not None:
        return split_by_time(frame, split, summary)
    indices = np.arange(n_rows)
    stratify = labels if (labels is not None and split.stratify and split.shuffle) else None
    if stratify is not None and np.bincount(stratify).min() < 2:
        _warn(summary, "a class has fewer than 2 rows, so the split is not stratified")
        stratify = None

    def cut(pool, size, strat):
        try:
            return train_test_split(
                pool, test_size=size, random_state=config.seed, shuffle=split.shuffle, stratify=strat
            )
        except ValueError as err:
            if strat is None:
                raise DataError(f"cannot split {len(pool)} rows: {err}") from None
            _warn(summary, f"stratified split failed ({err}); rows were split without stratifying")
            return train_test_split(pool, test_size=size, random_state=config.seed, shuffle=split.shuffle)

    rest, test = cut(indices, split.test_size, stratify)
    val = np.array([], dtype=int)
    if split.val_size > 0:
        relative = split.val_size / (1 - split.test_size)
        rest_strat = stratify[rest] if stratify is not None else None
        rest, val = cut(rest, relative, rest_strat)
    if len(rest) == 0 or len(test) == 0:
        raise DataError(f"dataset has {n_rows} rows, too few to split into train and test")
    return rest, val, test


def prepare_supervised(table: Table, config: ExperimentConfig, sparse: bool = False) -> SupervisedData:
    """Split a table, encode class labels and fit preprocessing on the training rows.

    With ``sparse``, the feature matrices are float32 SciPy sparse matrices, which keep one-hot
    columns in a fraction of the memory of a dense array. They stay dense float64 arrays when
    the validation or test features have missing values.

    Raises:
        ConfigError: when no target is configured.
        DataError: for a missing target column, too few rows or features that are not model-ready.
    """
    import numpy as np
    import pandas as pd

    target = _require_target(table, config)
    summary = _base_summary(table)
    frame = table.frame
    missing_target = frame[target].isna()
    if missing_target.any():
        summary["rows_dropped"]["missing target"] = int(missing_target.sum())
        frame = frame.loc[~missing_target]
    if len(frame) < 3:
        raise DataError(f"dataset has {len(frame)} rows with a target; at least 3 are needed to train and test")
    if config.dataset.task == "auto" and table.task is None:
        _check_decimal_comma_target(frame[target], target)
    task = infer_task(frame[target], config.dataset.task if config.dataset.task != "auto" else table.task)
    if task == "forecasting":
        raise ConfigError(
            "dataset.task 'forecasting' needs model type 'rnn'",
            hint="use `model: {type: rnn}` or set dataset.task to classification or regression",
        )

    split_columns = [column for column in (config.dataset.split.group_by, config.dataset.split.time_column) if column]
    _require_split_columns(frame, split_columns, table.source)
    features = frame.drop(columns=[target, *[column for column in split_columns if column != target]])
    classes = None
    if task == "classification":
        target_values = frame[target]
        if pd.api.types.is_float_dtype(target_values) and bool((target_values == target_values.round()).all()):
            # An empty target cell made pandas read integer labels as floats; they are integers.
            target_values = target_values.astype("int64")
        labels, classes = encode_labels(target_values)
        summary["label_mapping"] = {str(index): label for index, label in enumerate(classes)}
        counts = {str(label): int((labels == index).sum()) for index, label in enumerate(classes)}
        summary["class_balance"] = counts
        if len(classes) < 2:
            raise DataError(
                f"target '{target}' has a single class: all {len(frame)} rows are {classes[0]!r}; "
                "classification needs at least 2 classes",
                hint="check dataset.target, or add rows of other classes",
            )
    else:
        numeric = pd.to_numeric(frame[target], errors="coerce")
        if numeric.isna().any():
            bad = frame[target][numeric.isna()].iloc[0]
            raise DataError(
                f"target '{target}' has non-numeric value {bad!r}, so it cannot be a regression target",
                hint="set dataset.task: classification if the values are classes",
            )
        check_finite(numeric.to_frame(), "target")
        labels = numeric.to_numpy(dtype="float64")
    check_finite(features, "feature")

    train, val, test = _split_indices(len(frame), labels if task == "classification" else None, config, summary, frame)
    if task == "classification":
        _check_training_classes(labels[train], classes)
        absent = [str(classes[code]) for code in range(len(classes)) if code not in set(labels[train].tolist())]
        if absent:
            _warn(summary, 
                f"class(es) {', '.join(absent)} have no rows in the training split, so the model cannot predict them"
            )
    missing = frozenset(column for column, count in zip(features.columns, missing_counts(features)) if count)
    preprocessing = fit_preprocessing(config.preprocess, features.iloc[train], missing)
    release_free_memory()  # the copy of the training rows that the steps were fitted on
    summary.update(
        target=target,
        task=task,
        features=preprocessing.output_columns,
        split={"train": len(train), "validation": len(val), "test": len(test)},
    )
    if sparse:
        X_val = preprocessing.transform_sparse(features, val, "csr")
        X_test = preprocessing.transform_sparse(features, test, "csr")
        # scikit-learn trees route missing values (NaN) only in dense input, so a split with a
        # value the training split never missed keeps the dense arrays.
        sparse = not (np.isnan(X_val.data).any() or np.isnan(X_test.data).any())
    if sparse:
        X_train = preprocessing.transform_sparse(features, train, "csc")
    else:
        X_train = preprocessing.transform(features, train)
        X_val = preprocessing.transform(features, val)
        X_test = preprocessing.transform(features, test)
    for name, matrix, rows in (("validation", X_val, val), ("test", X_test, test)):
        _check_held_out_missing(name, matrix, frame.index[rows], config.model.type, summary)
    return SupervisedData(
        task=task,
        X_train=X_train,
        y_train=labels[train],
        X_val=X_val,
        y_val=labels[val],
        X_test=X_test,
        y_test=labels[test],
        feature_names=preprocessing.output_columns,
        classes=classes,
        preprocessing=preprocessing,
        meta=dict(table.meta),
        summary=summary,
    )


def _check_held_out_missing(split: str, matrix, labels, model_type: str, summary: dict[str, Any]) -> None:
    """Warn about (tree) or reject (other models) validation or test rows with missing features.

    The training split was checked as the steps were fitted. A value missing only in a
    held-out split stays missing when no step fills it: a decision tree routes it as
    scikit-learn does, but the networks would turn it into NaN predictions.
    """
    import numpy as np

    values = matrix.data if hasattr(matrix, "tocsr") else matrix
    if not len(values) or np.isfinite(values).all():
        return
    dense = matrix.toarray() if hasattr(matrix, "tocsr") else matrix
    rows = np.flatnonzero(~np.isfinite(dense).all(axis=1))
    first = labels[rows[0]]
    where = f"data row {int(first) + 1}" if isinstance(first, (int, np.integer)) else f"row {first}"
    message = f"{len(rows)} {split} row(s) have missing feature values after preprocessing, the first in {where}"
    fix = "add an impute step, or list those columns in its `columns`"
    if model_type == "tree":
        _warn(summary, f"{message}; the tree routes them as scikit-learn does ({fix} to fill them)")
        return
    raise DataError(message, hint=fix)


def prepare_clustering(table: Table, config: ExperimentConfig) -> ClusteringData:
    """Fit preprocessing on every row; keep the target, if any, aside as true labels."""
    summary = _base_summary(table)
    frame = table.frame
    target = config.dataset.target or table.target
    labels = classes = None
    if target is not None:
        if target not in frame.columns:
            _require_target(table, config)
        features = frame.drop(columns=[target])
        known = frame[target].notna()
        labels_series = frame[target]
        if known.all():
            labels, classes = encode_labels(labels_series)
            summary["label_mapping"] = {str(index): label for index, label in enumerate(classes)}
        else:
            _warn(summary, f"target '{target}' has missing values, so ARI and NMI are not computed")
    else:
        features = frame
    split_columns = [column for column in (config.dataset.split.group_by, config.dataset.split.time_column) if column]
    features = features.drop(columns=[column for column in split_columns if column in features.columns])
    check_finite(features, "feature")
    preprocessing = fit_preprocessing(config.preprocess, features)
    summary.update(target=target, task="clustering", features=preprocessing.output_columns, split={"train": len(frame)})
    return ClusteringData(
        X=preprocessing.transform(features),
        labels=labels,
        feature_names=preprocessing.output_columns,
        classes=classes,
        preprocessing=preprocessing,
        meta=dict(table.meta),
        summary=summary,
    )


def prepare_series(table: Table, config: ExperimentConfig) -> SeriesData:
    """Cut the target column, in time order, into train, validation and test parts.

    The network reads the target and, when ``dataset.features`` is set, those columns too.

    Raises:
        DataError: for a missing or non-numeric value in an input column, or a series too short
            for ``model.window`` and ``model.horizon``.
    """
    import numpy as np
    import pandas as pd

    target = _require_target(table, config)
    summary = _base_summary(table)
    time_column = config.dataset.split.time_column
    if time_column is not None:
        _require_split_columns(table.frame, [time_column], table.source)
        order = np.argsort(time_values(table.frame, time_column), kind="stable")
        table.frame = table.frame.iloc[order].reset_index(drop=True)
        summary["split_method"] = f"time-ordered by '{time_column}'"
    input_columns = series_input_columns(target, config.dataset.features, time_column)
    inputs = numeric_series(table.frame, input_columns, "forecasting needs complete numeric series; fill or remove the gap in the file")
    check_finite(pd.DataFrame(inputs, columns=input_columns), "series")
    series = inputs[:, 0]
    n_train, n_val, n_test = series_split_sizes(target, len(series), config)
    summary.update(
        target=target,
        task="forecasting",
        split={"train": n_train, "validation": n_val, "test": n_test, "order": "time (no shuffling)"},
    )
    if len(input_columns) > 1:
        summary["inputs"] = input_columns
    # The first other column, when there is one, labels the time steps (a date or a year).
    others = [column for column in table.frame.columns if column not in input_columns]
    time_column = time_column or (others[0] if others else None)
    times = table.frame[time_column].tolist() if time_column else None
    return SeriesData(
        train=series[:n_train],
        val=series[n_train : n_train + n_val],
        test=series[n_train + n_val :],
        name=target,
        summary=summary,
        time_column=time_column,
        times=times,
        inputs=inputs,
        input_columns=input_columns,
    )


def series_input_columns(target: str, features: list[str] | None, time_column: str | None) -> list[str]:
    """Return the columns a forecaster reads: the target first, then the chosen features."""
    extra = [column for column in features or [] if column not in (target, time_column)]
    return [target, *dict.fromkeys(extra)]


def numeric_series(frame, columns: list[str], hint: str):
    """Return ``frame[columns]`` as a float64 array of shape (rows, columns).

    Raises:
        DataError: naming the column and the row (from 1) of the first missing or non-numeric value.
    """
    import numpy as np
    import pandas as pd

    arrays = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            position = int(np.flatnonzero(values.isna().to_numpy())[0])
            value = frame[column].iloc[position]
            if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d*,\d+\s*", value):
                hint = "the series uses a decimal comma: set dataset.decimal: ','"
            raise DataError(
                f"series '{column}' has a missing or non-numeric value at row {position + 1}: {value!r}",
                hint=hint,
            )
        arrays.append(values.to_numpy(dtype=np.float64))
    return np.stack(arrays, axis=1)


def series_split_sizes(target: str, length: int, config: ExperimentConfig) -> tuple[int, int, int]:
    """Return the train, validation and test lengths of a series, checked against the window.

    Raises:
        DataError: when no training window fits, or the test part is shorter than the horizon.
    """
    split = config.dataset.split
    n_test = max(1, int(round(length * split.test_size)))
    n_val = int(round(length * split.val_size))
    n_train = length - n_test - n_val
    window = getattr(config.model, "window", 1)
    horizon = getattr(config.model, "horizon", 1)
    if horizon == 1 and n_train <= window:
        raise DataError(
            f"series '{target}' has {length} values; the training part ({n_train}) must be longer "
            f"than model.window ({window})",
            hint="lower model.window or dataset.split.test_size",
        )
    if n_train < window + horizon:
        raise DataError(
            f"series '{target}' has {length} values; the training part ({n_train}) must hold at least "
            f"model.window + model.horizon ({window} + {horizon}) values",
            hint="lower model.window, model.horizon or dataset.split.test_size",
        )
    if n_test < horizon:
        raise DataError(
            f"series '{target}' has a test part of {n_test} values, shorter than model.horizon ({horizon})",
            hint="raise dataset.split.test_size or lower model.horizon",
        )
    return n_train, n_val, n_test


def _require_split_columns(frame, columns: list[str], source: str) -> None:
    present = [str(column) for column in frame.columns]
    for column in columns:
        if column not in present:
            raise DataError(
                f"dataset.split: column '{column}' not found in {source}",
                hint=closest_hint(column, present, "columns"),
            )


def _split_sizes(total: int, split) -> tuple[int, int]:
    """Return the test and validation counts for ``total`` units (rows or groups)."""
    n_test = max(1, int(round(total * split.test_size)))
    n_val = int(round(total * split.val_size)) if split.val_size > 0 else 0
    if total - n_test - n_val < 1:
        raise DataError(
            f"dataset has {total} rows or groups, too few to split into train, validation and test",
            hint="lower dataset.split.test_size or val_size, or use more data",
        )
    return n_test, n_val


def split_by_group(frame, split, seed: int, summary: dict[str, Any]):
    """Split so that all rows with one value of ``split.group_by`` fall into the same part.

    Whole groups are shuffled with the seed and assigned to test, validation and train until
    each part has its share of the groups; a missing group value is a group of its own.
    """
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(frame[split.group_by], use_na_sentinel=False)
    n_groups = len(uniques)
    n_test, n_val = _split_sizes(n_groups, split)
    order = np.random.default_rng(seed).permutation(n_groups)
    test_groups, val_groups = order[:n_test], order[n_test : n_test + n_val]
    part = np.zeros(n_groups, dtype=int)  # 0 train, 1 validation, 2 test
    part[val_groups] = 1
    part[test_groups] = 2
    row_part = part[codes]
    summary["split_method"] = f"grouped by '{split.group_by}' ({n_groups} groups: {n_groups - n_test - n_val} train, {n_val} validation, {n_test} test)"
    return np.flatnonzero(row_part == 0), np.flatnonzero(row_part == 1), np.flatnonzero(row_part == 2)


def time_values(frame, column: str):
    """Return ``frame[column]`` as numbers or dates that order the rows in time.

    Raises:
        DataError: naming the row of a missing time or of a value that is neither a number nor a date.
    """
    import numpy as np
    import pandas as pd

    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = parsed.isna() & values.notna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"dataset.split.time_column: '{column}' has the value {values.iloc[position]!r} in row "
                f"{position + 1}, which is neither a number nor a date",
                hint="fix the value, or order the rows by another column",
            )
        values = parsed
    if values.isna().any():
        position = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(
            f"dataset.split.time_column: '{column}' is missing in row {position + 1}",
            hint="every row needs a time to be placed before or after the others",
        )
    return values.to_numpy()


def split_by_time(frame, split, summary: dict[str, Any]):
    """Sort rows by ``split.time_column`` and cut without shuffling: train, then validation, then test.

    Rows with the same time stay in the same part, so no test row is older than a training row.
    """
    import numpy as np

    column = split.time_column
    times = time_values(frame, column)
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    n_test, n_val = _split_sizes(len(order), split)
    test_start = _boundary(sorted_times, len(order) - n_test)
    val_start = _boundary(sorted_times, test_start - n_val) if n_val else test_start
    if val_start < 1 or test_start >= len(order):
        raise DataError(
            f"dataset.split.time_column: too few distinct times in '{column}' to split without mixing them",
            hint="lower dataset.split.test_size or val_size",
        )
    summary["split_method"] = (
        f"time-ordered by '{column}' (train up to {sorted_times[val_start - 1]}, test from {sorted_times[test_start]})"
    )
    return order[:val_start], order[val_start:test_start], order[test_start:]


def _boundary(sorted_times, position: int) -> int:
    """Move a cut position back so that rows with equal times are not split across parts."""
    while 0 < position < len(sorted_times) and sorted_times[position] == sorted_times[position - 1]:
        position -= 1
    return position


def check_finite(frame, role: str) -> None:
    """Raise a ``DataError`` naming the first row and column with an infinite value.

    Rows are counted from 1 in file order, over the data rows (the header line is not counted).
    Missing values (NaN) are left to the preprocessing checks, because an impute step fills them.
    The float columns are checked one at a time, so no float64 copy of the whole frame is made.
    """
    import numpy as np

    first = None  # (row position, column position, value) of the first infinity in row order
    total = 0
    for position, dtype in enumerate(frame.dtypes.tolist()):
        if getattr(dtype, "kind", "") != "f":
            continue
        values = frame.iloc[:, position].to_numpy(dtype=np.float64)
        infinite = np.flatnonzero(np.isinf(values))
        if not len(infinite):
            continue
        total += len(infinite)
        row = int(infinite[0])
        if first is None or row < first[0]:
            first = (row, position, values[row])
    if first is None:
        return
    row, position, value = first
    label = frame.index[row]
    number = int(label) + 1 if isinstance(label, (int, np.integer)) else row + 1
    raise DataError(
        f"{role} column '{frame.columns[position]}' has the non-finite value {value} at row {number} "
        f"({total} such value(s) in all)",
        hint="replace infinite values in the file, or mark them as missing with dataset.missing_values",
    )


def _check_training_classes(train_labels, classes: list[Any]) -> None:
    """Raise a ``DataError`` when the training split holds fewer than 2 classes."""
    import numpy as np

    present = np.unique(train_labels)
    if len(present) < 2:
        label = classes[int(present[0])] if len(present) else None
        raise DataError(
            f"the training split has a single class ({label!r}, {len(train_labels)} rows) of the "
            f"{len(classes)} in the data; classification needs at least 2",
            hint="add rows of the other classes, or set dataset.split.stratify: true",
        )
