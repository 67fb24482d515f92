"""Preprocessing steps as MLlib stages, fitted one after another on the training split.

Supported steps: ``impute`` (numeric columns, with mean, median or most_frequent), ``scale``
(standard, minmax, robust), ``onehot`` and ``ordinal`` (text columns), ``drop`` and ``select``.
A category not seen in training, or a missing text value, gets no one-hot column and the code
after the last category. The fitted stages, ending in a VectorAssembler that writes the
``features`` column, form one ``PipelineModel`` that is saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmrun.errors import ConfigError, DataError
from dmrun.suggest import closest_hint

FEATURES = "features"
LABEL = "label"
SCALERS = {"standard": "StandardScaler", "minmax": "MinMaxScaler", "robust": "RobustScaler"}
IMPUTE_STRATEGIES = {"mean": "mean", "median": "median", "most_frequent": "mode"}


@dataclass
class Feature:
    """One input of the final VectorAssembler: a column, its kind and the feature names it holds."""

    column: str
    kind: str  # "numeric", "text" or "vector"
    names: list[str]
    imputed: bool = False
    raw: list[str] = field(default_factory=list)  # a scaled vector's input columns that were not imputed


@dataclass
class FeaturePlan:
    """The fitted stages and the feature names, in the order of the ``features`` vector."""

    model: Any  # pyspark.ml.PipelineModel
    feature_names: list[str]
    raw_numeric: list[str] = field(default_factory=list)

    def transform(self, frame: Any) -> Any:
        return self.model.transform(frame)

    def check_complete(self, frame: Any) -> None:
        """Raise a ``DataError`` naming a numeric feature column with missing or infinite values.

        Only columns that reach the features without an impute step are checked.
        """
        from pyspark.sql import functions as F

        if not self.raw_numeric:
            return
        infinity = [float("inf"), float("-inf")]
        counts = frame.agg(
            *[F.sum(F.col(f"`{name}`").isNull().cast("long")).alias(f"m{index}") for index, name in enumerate(self.raw_numeric)],
            *[F.sum(F.col(f"`{name}`").isin(infinity).cast("long")).alias(f"i{index}") for index, name in enumerate(self.raw_numeric)],
        ).first()
        for index, name in enumerate(self.raw_numeric):
            if counts[f"i{index}"]:
                raise DataError(
                    f"feature column '{name}' has {counts[f'i{index}']} infinite value(s)",
                    hint="replace infinite values in the file, or mark them as missing with dataset.missing_values",
                )
            if counts[f"m{index}"]:
                raise DataError(
                    f"feature column '{name}' has {counts[f'm{index}']} missing value(s) after preprocessing",
                    hint=f"add a step such as `- {{step: impute, strategy: median, columns: [{name}]}}`",
                )


def _initial_features(frame: Any, source: str) -> list[Feature]:
    from pyspark.sql.types import BooleanType, NumericType, StringType

    features = []
    for item in frame.schema.fields:
        if isinstance(item.dataType, (NumericType, BooleanType)):
            features.append(Feature(item.name, "numeric", [item.name]))
        elif isinstance(item.dataType, StringType):
            features.append(Feature(item.name, "text", [item.name]))
        else:
            raise DataError(
                f"column '{item.name}' of {Path(source).name} has the type {item.dataType.simpleString()}, which the "
                "spark engine cannot use as a feature",
                hint="remove it with dataset.drop_columns or dataset.exclude",
            )
    return features


def _named(features: list[Feature], columns: list[str] | None, index: int, step: str) -> list[str]:
    known = [feature.names[0] for feature in features if feature.kind != "vector"]
    for column in columns or []:
        if column not in known:
            raise DataError(
                f"preprocess[{index}] ({step}): column '{column}' not found",
                hint=closest_hint(column, known, "columns"),
            )
    return list(columns) if columns else []


class _Fitter:
    """Fits stages in order on the training frame, keeping the fitted models and the current columns."""

    def __init__(self, frame: Any, source: str) -> None:
        self.frame = frame
        self.source = source
        self.stages: list[Any] = []
        self.features = _initial_features(frame, source)
        booleans = [item.name for item in frame.schema.fields if item.dataType.simpleString() == "boolean"]
        if booleans:
            from pyspark.ml.feature import SQLTransformer

            casts = ", ".join(f"CAST(`{name}` AS DOUBLE) AS `{name}__double`" for name in booleans)
            self.add(SQLTransformer(statement=f"SELECT *, {casts} FROM __THIS__"))
            for feature in self.features:
                if feature.column in booleans:
                    feature.column = f"{feature.column}__double"

    def add(self, estimator: Any) -> Any:
        fitted = estimator.fit(self.frame) if hasattr(estimator, "fit") else estimator
        self.frame = fitted.transform(self.frame)
        self.stages.append(fitted)
        return fitted

    def pick(self, columns: list[str], kind: str) -> list[Feature]:
        if columns:
            return [feature for feature in self.features if feature.names[0] in columns and feature.kind != "vector"]
        return [feature for feature in self.features if feature.kind == kind]


def _impute(fitter: _Fitter, step: Any, index: int) -> None:
    from pyspark.ml.feature import Imputer

    chosen = fitter.pick(_named(fitter.features, step.columns, index, "impute"), "numeric")
    text = [feature.names[0] for feature in chosen if feature.kind == "text"]
    if text:
        raise ConfigError(
            f"preprocess[{index}] (impute): column '{text[0]}' contains text, and the spark engine imputes numeric columns only",
            hint="a missing text value gets no one-hot column in an onehot step; list only numeric columns here",
        )
    if not chosen:
        return
    outputs = [f"{feature.column}__imputed{index}" for feature in chosen]
    fitter.add(Imputer(inputCols=[feature.column for feature in chosen], outputCols=outputs, strategy=IMPUTE_STRATEGIES[step.strategy]))
    for feature, output in zip(chosen, outputs):
        feature.column, feature.imputed = output, True


def _encode(fitter: _Fitter, step: Any, index: int) -> None:
    from pyspark.ml.feature import OneHotEncoder, StringIndexer

    chosen = fitter.pick(_named(fitter.features, step.columns, index, step.step), "text")
    for feature in chosen:
        indexed = f"{feature.column}__index{index}"
        source = feature.column
        if feature.kind == "numeric":
            from pyspark.ml.feature import SQLTransformer

            source = f"{feature.column}__text{index}"
            fitter.add(SQLTransformer(statement=f"SELECT *, CAST(`{feature.column}` AS STRING) AS `{source}` FROM __THIS__"))
        indexer = fitter.add(
            StringIndexer(inputCol=source, outputCol=indexed, handleInvalid="keep", stringOrderType="alphabetAsc")
        )
        labels = list(indexer.labels)
        if step.step == "ordinal":
            feature.column, feature.kind, feature.imputed = indexed, "numeric", True
            continue
        encoded = f"{feature.column}__onehot{index}"
        # StringIndexer puts unseen and missing values in one extra bucket after the labels, and
        # dropLast drops that last bucket, so those rows are all zeros.
        fitter.add(OneHotEncoder(inputCols=[indexed], outputCols=[encoded], dropLast=True, handleInvalid="error"))
        feature.column, feature.kind = encoded, "vector"
        feature.names = [f"{feature.names[0]}_{label}" for label in labels]


def _scale(fitter: _Fitter, step: Any, index: int) -> None:
    from pyspark.ml import feature as ml

    chosen = fitter.pick(_named(fitter.features, step.columns, index, "scale"), "numeric")
    text = [feature.names[0] for feature in chosen if feature.kind != "numeric"]
    if text:
        raise ConfigError(f"preprocess[{index}] (scale): column '{text[0]}' is not numeric", hint="scale numeric columns only")
    if not chosen:
        return
    assembled, scaled = f"scale{index}__input", f"scale{index}__output"
    fitter.add(ml.VectorAssembler(inputCols=[feature.column for feature in chosen], outputCol=assembled, handleInvalid="keep"))
    options = {"withMean": True, "withStd": True} if step.method == "standard" else {}
    fitter.add(getattr(ml, SCALERS[step.method])(inputCol=assembled, outputCol=scaled, **options))
    names = [name for feature in chosen for name in feature.names]
    merged = Feature(scaled, "vector", names, raw=[feature.column for feature in chosen if not feature.imputed])
    position = fitter.features.index(chosen[0])
    remaining = [feature for feature in fitter.features if feature not in chosen]
    fitter.features = remaining[:position] + [merged] + remaining[position:]


def plan_features(train: Any, steps: list[Any], source: str) -> FeaturePlan:
    """Fit ``steps`` on the ``train`` frame (features only) and return the fitted plan.

    Raises:
        ConfigError: for a step option the spark engine does not support.
        DataError: for an unknown column or a text column left without an encoding step.
    """
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import VectorAssembler

    fitter = _Fitter(train, source)
    for index, step in enumerate(steps):
        if step.step in ("drop", "select"):
            named = _named(fitter.features, step.columns, index, step.step)
            keep = (lambda feature: feature.names[0] not in named) if step.step == "drop" else (lambda feature: feature.names[0] in named)
            fitter.features = [feature for feature in fitter.features if feature.kind == "vector" or keep(feature)]
        elif step.step == "impute":
            _impute(fitter, step, index)
        elif step.step in ("onehot", "ordinal"):
            _encode(fitter, step, index)
        elif step.step == "scale":
            _scale(fitter, step, index)
    text = [feature.names[0] for feature in fitter.features if feature.kind == "text"]
    if text:
        raise DataError(
            f"column '{text[0]}' contains text, and the model needs numbers",
            hint=f"add a step such as `- {{step: onehot, columns: [{text[0]}]}}`, or drop the column",
        )
    if not fitter.features:
        raise DataError("no feature columns are left after preprocessing", hint="check dataset.features and the drop steps")
    assembler = VectorAssembler(inputCols=[feature.column for feature in fitter.features], outputCol=FEATURES, handleInvalid="keep")
    fitter.add(assembler)
    names = [name for feature in fitter.features for name in feature.names]
    size = fitter.frame.schema[FEATURES].metadata.get("ml_attr", {}).get("num_attrs")
    assert size in (None, len(names)), f"{size} features but {len(names)} feature names"
    raw = [feature.column for feature in fitter.features if feature.kind == "numeric" and not feature.imputed]
    raw += [column for feature in fitter.features for column in feature.raw]
    return FeaturePlan(PipelineModel(stages=fitter.stages), names, [column.removesuffix("__double") for column in raw])
