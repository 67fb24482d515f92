"""Decision tree classifier and regressor, with the tree written as if-then rules."""

from __future__ import annotations

from dmrun.config.schema import ExperimentConfig, TreeConfig
from dmrun.data.prepare import SupervisedData
from dmrun.errors import ConfigError, TrainerError
from dmrun.rundir import write_atomic, write_csv
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.metrics import supervised_metrics, write_confusion_matrix, write_predictions
from dmrun.trainers.persist import save_preprocessing, save_sklearn

CLASSIFICATION_CRITERIA = ("gini", "entropy", "log_loss")


def _criterion(settings: TreeConfig, task: str) -> str:
    if settings.criterion == "auto":
        return "gini" if task == "classification" else "squared_error"
    if (settings.criterion in CLASSIFICATION_CRITERIA) != (task == "classification"):
        allowed = "gini, entropy, log_loss" if task == "classification" else "squared_error, absolute_error, friedman_mse"
        raise ConfigError(
            f"model.criterion '{settings.criterion}' does not fit a {task} task",
            hint=f"use auto or one of: {allowed}",
        )
    return settings.criterion


def _probabilities(model, data: SupervisedData):
    """Return test-split class probabilities with one column per class of the dataset, or ``None``.

    The tree knows only the classes present in the training split; the others get probability 0.
    """
    import numpy as np

    if data.task != "classification":
        return None
    known = model.predict_proba(data.X_test)  # (N, classes seen in training)
    full = np.zeros((data.X_test.shape[0], len(data.classes)))
    full[:, model.classes_.astype(int)] = known
    return full


def fit(config: ExperimentConfig, data: SupervisedData, context: TrainContext) -> TrainResult:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    settings: TreeConfig = config.model
    if settings.engine == "spark":
        from dmrun.spark.session import spark_errors
        from dmrun.spark.tree import fit as fit_on_spark

        with spark_errors(TrainerError, "training the tree"):
            return fit_on_spark(config, data, context)
    classification = data.task == "classification"
    options = dict(
        criterion=_criterion(settings, data.task),
        max_depth=settings.max_depth,
        min_samples_split=settings.min_samples_split,
        min_samples_leaf=settings.min_samples_leaf,
        max_leaf_nodes=settings.max_leaf_nodes,
        ccp_alpha=settings.ccp_alpha,
        random_state=config.seed,
    )
    if classification:
        model = DecisionTreeClassifier(class_weight=settings.class_weight, **options)
    else:
        if settings.class_weight is not None:
            raise ConfigError("model.class_weight applies to classification only")
        model = DecisionTreeRegressor(**options)
    model.fit(data.X_train, data.y_train)

    predicted = model.predict(data.X_test)
    metrics = supervised_metrics(data.task, data.y_test, predicted, data.classes)
    if len(data.y_val):
        validation = supervised_metrics(data.task, data.y_val, model.predict(data.X_val), data.classes)
        metrics.update({f"val_{key}": value for key, value in validation.items() if key != "confusion_matrix"})
    metrics.update(depth=int(model.get_depth()), leaves=int(model.get_n_leaves()))
    importances = sorted(
        zip(data.feature_names, model.feature_importances_), key=lambda pair: pair[1], reverse=True
    )
    metrics["feature_importances"] = {name: float(value) for name, value in importances}

    # The tree has only the classes present in the training split, in code order.
    class_names = [str(data.classes[code]) for code in model.classes_] if classification else None
    rules = export_text(model, feature_names=list(data.feature_names), class_names=class_names, show_weights=classification)
    write_atomic(context.artifacts / "tree.txt", rules)
    write_csv(context.artifacts / "feature_importances.csv", ["feature", "importance"], importances)
    write_predictions(context.artifacts / "predictions.csv", data.y_test, predicted, data.classes, _probabilities(model, data))
    artifacts = ["artifacts/tree.txt", "artifacts/feature_importances.csv", "artifacts/predictions.csv"]
    if classification:
        write_confusion_matrix(context.artifacts / "confusion_matrix.csv", metrics["confusion_matrix"], data.classes)
        artifacts.append("artifacts/confusion_matrix.csv")
    artifacts += save_sklearn(model, context, "estimator")
    artifacts += save_preprocessing(data.preprocessing, context)
    return TrainResult(metrics=metrics, artifacts=artifacts, model=model)
