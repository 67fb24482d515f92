"""Metrics shared by the trainers, computed with scikit-learn or, for regression, NumPy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dmrun.rundir import write_csv


def classification_metrics(y_true, y_pred, n_classes: int, sample_weight=None) -> dict[str, Any]:
    """Accuracy, macro-averaged F1, precision and recall, and the confusion matrix.

    The macro averages are over the classes that occur in ``y_true`` or ``y_pred``: a class with
    no row in the split and never predicted would otherwise count as a score of 0. The confusion
    matrix has a row and a column for each of the ``n_classes``. ``sample_weight`` counts each
    row that many times, so distinct pairs with their counts give the metrics of all the rows.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    labels = list(range(n_classes))
    weights = {"sample_weight": sample_weight}
    scores = {"average": "macro", "zero_division": 0, **weights}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred, **weights)),
        "f1_macro": float(f1_score(y_true, y_pred, **scores)),
        "precision_macro": float(precision_score(y_true, y_pred, **scores)),
        "recall_macro": float(recall_score(y_true, y_pred, **scores)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels, **weights).tolist(),
    }


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """MSE, RMSE, MAE and R² in the target's own units.

    NumPy computes them in the steps of scikit-learn 1.9's ``mean_squared_error``,
    ``mean_absolute_error`` and ``r2_score``: on (N, 1) columns, with R² of a constant target
    1.0 or 0.0. The values matched theirs bit for bit on random inputs. A forecasting run needs
    nothing else from scikit-learn, whose metrics module took about 1 s of CPU time to import.
    """
    import numpy as np

    actual, predicted = np.asarray(y_true), np.asarray(y_pred)
    floating = [array.dtype for array in (actual, predicted) if array.dtype.kind == "f"]
    dtype = np.result_type(*floating) if floating else np.float64
    actual = actual.astype(dtype, copy=False).reshape(-1, 1)
    predicted = predicted.astype(dtype, copy=False).reshape(-1, 1)

    mse = float(np.mean(np.mean((actual - predicted) ** 2, axis=0)))
    mae = float(np.mean(np.mean(np.abs(predicted - actual), axis=0)))
    metrics = {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": mae}
    if len(actual) > 1:
        residual = np.sum(1.0 * (actual - predicted) ** 2, axis=0)[0]
        total = np.sum(1.0 * (actual - np.mean(actual, axis=0)) ** 2, axis=0)[0]
        if residual == 0:
            metrics["r2"] = 1.0
        elif total == 0:
            metrics["r2"] = 0.0
        else:
            metrics["r2"] = float(1 - residual / total)
    return metrics


def forecast_metrics(actual, forecast, naive) -> dict[str, Any]:
    """Score (N, horizon) forecasts over all steps and, for several steps, at each step.

    The overall metrics pool every step; ``rmse_step1``, ``naive_rmse_step1`` and so on
    follow for each step when the horizon is above 1.
    """
    metrics = regression_metrics(actual.ravel(), forecast.ravel())
    naive_metrics = regression_metrics(actual.ravel(), naive.ravel())
    metrics.update({f"naive_{key}": value for key, value in naive_metrics.items() if key in ("mse", "rmse", "mae")})
    metrics["rmse_skill_vs_naive"] = 1 - metrics["rmse"] / naive_metrics["rmse"] if naive_metrics["rmse"] > 0 else None
    horizon = actual.shape[1]
    for step in range(1, horizon + 1) if horizon > 1 else ():
        model_step = regression_metrics(actual[:, step - 1], forecast[:, step - 1])
        naive_step = regression_metrics(actual[:, step - 1], naive[:, step - 1])
        metrics[f"rmse_step{step}"] = model_step["rmse"]
        metrics[f"mae_step{step}"] = model_step["mae"]
        metrics[f"naive_rmse_step{step}"] = naive_step["rmse"]
        metrics[f"naive_mae_step{step}"] = naive_step["mae"]
    return metrics


def write_confusion_matrix(path: Path, matrix: list[list[int]], classes: list[Any]) -> None:
    """Write the confusion matrix with the original class labels; rows are true, columns predicted."""
    names = [str(label) for label in classes]
    write_csv(path, ["true \\ predicted", *names], [[name, *row] for name, row in zip(names, matrix)])


def supervised_metrics(task: str, y_true, y_pred, classes: list[Any] | None) -> dict[str, Any]:
    if task == "classification":
        return classification_metrics(y_true, y_pred, len(classes or []))
    return regression_metrics(y_true, y_pred)


def write_predictions(path: Path, y_true, y_pred, classes: list[Any] | None, probabilities=None) -> None:
    """Write the test split's targets and predictions, in original labels, one row per test row.

    Classification rows carry one ``probability_<class>`` column per class (``probabilities`` has
    shape (rows, classes) in class-code order) with 6 significant digits; regression rows carry
    the two values only.
    """
    import numpy as np

    if classes is None:
        true_values = np.asarray(y_true, dtype=np.float64).tolist()
        predicted_values = np.asarray(y_pred, dtype=np.float64).tolist()
        write_csv(path, ["target", "prediction"], zip(true_values, predicted_values))
        return
    names = [str(label) for label in classes]
    header = ["target", "prediction"]
    columns = [
        [names[code] for code in np.asarray(y_true, dtype=np.int64).tolist()],
        [names[code] for code in np.asarray(y_pred, dtype=np.int64).tolist()],
    ]
    if probabilities is not None:
        header += [f"probability_{name}" for name in names]
        columns += _rounded_columns(np.asarray(probabilities, dtype=np.float64))
    write_csv(path, header, zip(*columns))


def _rounded_columns(values) -> list[list[float]]:
    """Return each column of a 2-D float array as floats rounded to 6 significant digits.

    Each distinct value is formatted once, because a tree's probabilities repeat: one row per leaf.
    """
    import numpy as np

    distinct, codes = np.unique(values, return_inverse=True)
    rounded = [float(f"{value:.6g}") for value in distinct.tolist()]
    codes = codes.reshape(values.shape)
    return [[rounded[code] for code in column] for column in codes.T.tolist()]
