"""Preprocessing steps, built on scikit-learn transformers.

Each config step becomes one scikit-learn transformer, and together they form a ``Pipeline``.
It is fitted on the training split only and saved with the model, so new data at predict time
goes through exactly the same transformations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dmrun.errors import DataError
from dmrun.suggest import closest_hint

STEPS: dict[str, str] = {
    "impute": "fill missing values (mean, median, most_frequent, constant)",
    "scale": "scale numeric columns (standard, minmax, robust)",
    "onehot": "one-hot encode categorical columns; unknown categories at predict time become all zeros",
    "drop": "remove feature columns",
    "select": "keep only the listed feature columns",
}


@dataclass
class FittedPreprocessing:
    """A fitted scikit-learn pipeline (or none) and the feature names it produces."""

    pipeline: Any  # sklearn.pipeline.Pipeline | None
    input_columns: list[str]
    output_columns: list[str]

    def transform(self, frame):
        """Apply the fitted steps and return a float64 NumPy array."""
        import numpy as np

        if len(frame) == 0:
            return np.empty((0, len(self.output_columns)), dtype=np.float64)
        frame = _prepare_text_columns(frame[self.input_columns])
        if self.pipeline is not None:
            frame = self.pipeline.transform(frame)
        return np.array(frame.to_numpy(dtype=np.float64), copy=True)


def _check_columns(step_index: int, step_name: str, columns: list[str], available: list[str]) -> None:
    for column in columns:
        if column not in available:
            hint = closest_hint(column, available, "feature columns")
            raise DataError(f"preprocess[{step_index}] ({step_name}): column '{column}' not found", hint=hint)


def _numeric_columns(frame) -> list[str]:
    import pandas as pd

    return [column for column in frame.columns if pd.api.types.is_numeric_dtype(frame[column])]


def _build_step(index: int, step: Any, frame):
    """Return a transformer for one config step, given the columns it will see."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

    available = list(frame.columns)
    numeric = _numeric_columns(frame)
    name = step.step
    if name in ("drop", "select"):
        _check_columns(index, name, step.columns, available)
        if name == "drop":
            parts = [("drop", "drop", step.columns)]
            remainder = "passthrough"
        else:
            parts = [("select", "passthrough", step.columns)]
            remainder = "drop"
    elif name == "impute":
        default = numeric if step.strategy in ("mean", "median") else available
        columns = step.columns if step.columns is not None else [c for c in default if frame[c].isna().any()]
        _check_columns(index, name, columns, available)
        if step.strategy in ("mean", "median"):
            text_columns = [column for column in columns if column not in numeric]
            if text_columns:
                raise DataError(
                    f"preprocess[{index}] (impute): strategy '{step.strategy}' needs numeric columns, "
                    f"but {', '.join(text_columns)} hold text",
                    hint="use strategy most_frequent or constant for text columns",
                )
        fill_value = step.fill_value
        if step.strategy == "constant" and fill_value is None:
            fill_value = 0 if all(column in numeric for column in columns) else "missing"
        imputer = SimpleImputer(strategy=step.strategy, fill_value=fill_value, keep_empty_features=True)
        parts = [("impute", imputer, columns)]
        remainder = "passthrough"
    elif name == "scale":
        columns = step.columns if step.columns is not None else numeric
        _check_columns(index, name, columns, available)
        text_columns = [column for column in columns if column not in numeric]
        if text_columns:
            raise DataError(
                f"preprocess[{index}] (scale): columns {', '.join(text_columns)} hold text and cannot be scaled",
                hint="encode them first with an onehot step, or list only numeric columns",
            )
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}[step.method]()
        parts = [("scale", scaler, columns)]
        remainder = "passthrough"
    elif name == "onehot":
        columns = step.columns if step.columns is not None else [c for c in available if c not in numeric]
        _check_columns(index, name, columns, available)
        encoder = OneHotEncoder(
            handle_unknown="ignore",
            drop="first" if step.drop_first else None,
            sparse_output=False,
        )
        parts = [("onehot", encoder, columns)]
        remainder = "passthrough"
    else:  # pragma: no cover - the schema admits only the steps above
        raise AssertionError(f"unhandled preprocessing step {name}")
    transformer = ColumnTransformer(parts, remainder=remainder, verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas")


def _prepare_text_columns(frame):
    """Give text columns one dtype scikit-learn encoders accept (object, with NaN for missing)."""
    import numpy as np
    import pandas as pd

    frame = frame.copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame


def fit_preprocessing(steps: list[Any], train_frame) -> FittedPreprocessing:
    """Fit the configured steps on the training features, one after the other.

    Raises:
        DataError: when a step names an unknown column, or when the features that come out
            are not all numeric and complete (the hint names the step to add).
    """
    from sklearn.pipeline import Pipeline

    frame = _prepare_text_columns(train_frame)
    input_columns = list(frame.columns)
    fitted = []
    for index, step in enumerate(steps):
        transformer = _build_step(index, step, frame)
        try:
            frame = transformer.fit_transform(frame)
        except ValueError as err:
            raise DataError(f"preprocess[{index}] ({step.step}) failed on the training split: {err}") from None
        # Imputing text and numbers together yields object columns; give numbers their dtype back.
        frame = frame.infer_objects()
        fitted.append((f"{index}_{step.step}", transformer))
    check_model_ready(frame)
    pipeline = Pipeline(fitted) if fitted else None
    return FittedPreprocessing(pipeline=pipeline, input_columns=input_columns, output_columns=list(frame.columns))


def _text_column_hint(frame, columns: list[str]) -> str:
    """Suggest the fix that fits: a decimal comma, a missing-value marker, or encoding categories."""
    import pandas as pd

    for column in columns:
        values = frame[column].dropna().astype(str)
        if len(values) and pd.to_numeric(values.str.replace(",", ".", regex=False), errors="coerce").notna().all():
            return f"column '{column}' holds numbers with a decimal comma, such as {values.iloc[0]!r}: set dataset.decimal: ','"
        parsed = pd.to_numeric(values, errors="coerce")
        strays = sorted(set(values[parsed.isna()]))
        if len(values) and parsed.notna().mean() >= 0.9 and len(strays) <= 3:
            shown = ", ".join(repr(value) for value in strays)
            return f"column '{column}' holds numbers and {shown}: if that marks a missing value, add it to dataset.missing_values"
    listed = ", ".join(columns)
    return f"add a preprocess step that encodes them, for example `- {{step: onehot, columns: [{listed}]}}`"


def check_model_ready(frame) -> None:
    """Raise a ``DataError`` naming the columns that are not numeric or have missing values."""
    import numpy as np

    numeric = _numeric_columns(frame)
    text_columns = [column for column in frame.columns if column not in numeric]
    if text_columns:
        listed = ", ".join(text_columns)
        raise DataError(f"feature columns are not numeric: {listed}", hint=_text_column_hint(frame, text_columns))
    missing = {column: int(frame[column].isna().sum()) for column in frame.columns if frame[column].isna().any()}
    if missing:
        listed = ", ".join(f"{column} ({count})" for column, count in missing.items())
        first = frame[list(missing)].isna().any(axis=1).idxmax()
        row = f"; the first is in row {first + 1}" if isinstance(first, (int, np.integer)) else ""
        raise DataError(
            f"feature columns have missing values in the training split: {listed}{row}",
            hint="add a preprocess step such as `- {step: impute, strategy: median}`",
        )
    if frame.shape[1] == 0:
        raise DataError("no feature columns are left after preprocessing")
