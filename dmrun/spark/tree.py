"""Decision trees with MLlib's DecisionTreeClassifier and DecisionTreeRegressor.

MLlib splits a numeric feature at no more than 32 candidate thresholds (``maxBins``, taken
from quantiles), where scikit-learn tries every value, so the trees and their metrics differ
slightly between the engines. An unlimited ``max_depth`` becomes 30, MLlib's maximum.
"""

from __future__ import annotations

import re
from typing import Any

from dmrun.config.schema import ExperimentConfig, TreeConfig
from dmrun.errors import ConfigError
from dmrun.rundir import write_atomic, write_csv
from dmrun.spark import metrics as spark_metrics
from dmrun.spark.features import FEATURES, LABEL
from dmrun.spark.metrics import PREDICTION
from dmrun.spark.options import MAX_TREE_DEPTH
from dmrun.spark.persist import save_pipeline
from dmrun.spark.prepare import SparkPrepared
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.metrics import write_confusion_matrix
from dmrun.trainers.tree import _criterion

# scikit-learn criterion -> MLlib impurity.
IMPURITIES = {"gini": "gini", "entropy": "entropy", "log_loss": "entropy", "squared_error": "variance"}
WEIGHT = "weight"


def _class_weights(train: Any, n_classes: int) -> Any:
    """Add scikit-learn's ``balanced`` weights, rows / (classes x rows of the class), as a column."""
    from pyspark.sql import functions as F

    counts = {int(row[0]): row[1] for row in train.groupBy(LABEL).count().collect()}
    total = sum(counts.values())
    weight = F.lit(0.0)
    for code, count in counts.items():
        weight = F.when(F.col(LABEL) == float(code), F.lit(total / (n_classes * count))).otherwise(weight)
    return train.withColumn(WEIGHT, weight)


def _estimator(settings: TreeConfig, task: str, seed: int, weighted: bool) -> Any:
    from pyspark.ml.classification import DecisionTreeClassifier
    from pyspark.ml.regression import DecisionTreeRegressor

    options = dict(
        featuresCol=FEATURES,
        labelCol=LABEL,
        predictionCol=PREDICTION,
        maxDepth=settings.max_depth or MAX_TREE_DEPTH,
        minInstancesPerNode=settings.min_samples_leaf,
        impurity=IMPURITIES[_criterion(settings, task)],
        seed=seed,
    )
    if weighted:
        options["weightCol"] = WEIGHT
    if task == "classification":
        return DecisionTreeClassifier(**options)
    return DecisionTreeRegressor(**options)


def _evaluate(model: Any, frame: Any, data: SparkPrepared) -> dict[str, Any]:
    predictions = model.transform(frame)
    if data.task == "classification":
        return spark_metrics.classification(predictions, len(data.classes))
    return spark_metrics.regression(predictions)


def tree_text(model: Any, feature_names: list[str], classes: list[Any] | None) -> str:
    """Return MLlib's if-then description of the tree with feature names and class labels."""
    text = re.sub(r"feature (\d+)", lambda match: feature_names[int(match.group(1))], model.toDebugString)
    if classes is not None:
        text = re.sub(r"Predict: (\d+)\.0", lambda match: f"Predict: {classes[int(match.group(1))]}", text)
    return text


def fit(config: ExperimentConfig, data: SparkPrepared, context: TrainContext) -> TrainResult:
    settings: TreeConfig = config.model
    classification = data.task == "classification"
    if settings.class_weight is not None and not classification:
        raise ConfigError("model.class_weight applies to classification only")
    train = data.train
    if settings.class_weight == "balanced":
        train = _class_weights(train, len(data.classes))
    context.reporter.status(f"fitting MLlib decision tree ({data.task})")
    model = _estimator(settings, data.task, config.seed, settings.class_weight is not None).fit(train)

    metrics = _evaluate(model, data.test, data)
    if data.summary["split"]["validation"]:
        validation = _evaluate(model, data.val, data)
        metrics.update({f"val_{key}": value for key, value in validation.items() if key != "confusion_matrix"})
    # MLlib trees are binary, so a tree of N nodes has (N + 1) / 2 leaves.
    metrics.update(depth=int(model.depth), leaves=(int(model.numNodes) + 1) // 2)
    importances = sorted(
        zip(data.feature_names, model.featureImportances.toArray().tolist()), key=lambda pair: pair[1], reverse=True
    )
    metrics["feature_importances"] = {name: float(value) for name, value in importances}

    write_atomic(context.artifacts / "tree.txt", tree_text(model, data.feature_names, data.classes))
    write_csv(context.artifacts / "feature_importances.csv", ["feature", "importance"], importances)
    _write_predictions(model, data, context)
    artifacts = ["artifacts/tree.txt", "artifacts/feature_importances.csv", "artifacts/predictions.csv"]
    if classification:
        write_confusion_matrix(context.artifacts / "confusion_matrix.csv", metrics["confusion_matrix"], data.classes)
        artifacts.append("artifacts/confusion_matrix.csv")
    description = {"algorithm": "tree", "task": data.task, "features": data.feature_names, "target": data.target}
    if classification:
        description["classes"] = data.classes
    artifacts += save_pipeline([*data.plan.model.stages, model], description, context)
    return TrainResult(metrics=metrics, artifacts=artifacts)


def _write_predictions(model: Any, data: SparkPrepared, context: TrainContext) -> None:
    """Stream the test split's targets and predictions into predictions.csv, in original labels."""
    predictions = model.transform(data.test)
    path = context.artifacts / "predictions.csv"
    if data.classes is None:
        rows = predictions.select(LABEL, PREDICTION).toLocalIterator()
        write_csv(path, ["target", "prediction"], ([float(row[0]), float(row[1])] for row in rows))
        return
    names = [str(label) for label in data.classes]
    header = ["target", "prediction", *(f"probability_{name}" for name in names)]
    rows = predictions.select(LABEL, PREDICTION, "probability").toLocalIterator()
    write_csv(
        path,
        header,
        (
            [names[int(row[0])], names[int(row[1])], *(float(f"{value:.6g}") for value in _padded(row[2], len(names)))]
            for row in rows
        ),
    )


def _padded(probabilities: Any, size: int) -> list[float]:
    """Return one probability per class; classes above the highest code seen in training get 0."""
    values = probabilities.toArray().tolist()
    return values + [0.0] * (size - len(values))
