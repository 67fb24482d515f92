"""Metrics of Spark predictions, aggregated in Spark and finished with scikit-learn's formulas.

Only small tables reach the driver: a confusion matrix, a contingency table, per-cluster sums.
Classification metrics call scikit-learn on the distinct (true, predicted) pairs weighted by
their counts, which gives the same values as calling it on every row.
"""

from __future__ import annotations

import math
from typing import Any

from dmrun.spark.features import LABEL
from dmrun.trainers.metrics import classification_metrics

PREDICTION = "prediction"


def pair_counts(frame: Any, first: str, second: str) -> list[tuple[int, int, int]]:
    """Return ``(first, second, rows)`` for every distinct pair of the two integer-valued columns."""
    from pyspark.sql import functions as F

    grouped = frame.groupBy(F.col(first).cast("int").alias("a"), F.col(second).cast("int").alias("b")).count()
    return [(row["a"], row["b"], row["count"]) for row in grouped.collect()]


def classification(predictions: Any, n_classes: int) -> dict[str, Any]:
    """Accuracy, macro F1, precision, recall and the confusion matrix of a ``label``/``prediction`` frame."""
    import numpy as np

    pairs = pair_counts(predictions, LABEL, PREDICTION)
    y_true = np.asarray([pair[0] for pair in pairs])
    y_pred = np.asarray([pair[1] for pair in pairs])
    weights = np.asarray([pair[2] for pair in pairs], dtype=float)
    metrics = classification_metrics(y_true, y_pred, n_classes, sample_weight=weights)
    metrics["confusion_matrix"] = [[int(round(value)) for value in row] for row in metrics["confusion_matrix"]]
    return metrics


def regression(predictions: Any) -> dict[str, float]:
    """MSE, RMSE, MAE and R² of a ``label``/``prediction`` frame, in one pass."""
    from pyspark.sql import functions as F

    error = F.col(PREDICTION) - F.col(LABEL)
    totals = predictions.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(error * error).alias("squared"),
        F.sum(F.abs(error)).alias("absolute"),
        F.avg(LABEL).alias("mean"),
    ).first()
    spread = predictions.agg(F.sum((F.col(LABEL) - F.lit(totals["mean"])) ** 2).alias("total")).first()["total"]
    n = totals["n"]
    mse = totals["squared"] / n
    metrics = {"mse": mse, "rmse": math.sqrt(mse), "mae": totals["absolute"] / n}
    if n > 1:
        # scikit-learn's r2_score gives 1.0 for a constant target predicted exactly and 0.0 otherwise.
        if spread == 0:
            metrics["r2"] = 1.0 if totals["squared"] == 0 else 0.0
        else:
            metrics["r2"] = 1 - totals["squared"] / spread
    return metrics


def adjusted_rand(contingency) -> float:
    """Adjusted Rand index from a contingency table, with scikit-learn's pair-confusion formula."""
    import numpy as np

    n = int(contingency.sum())
    n_c = contingency.sum(axis=1)
    n_k = contingency.sum(axis=0)
    sum_squares = int((contingency.astype(np.int64) ** 2).sum())
    tp = sum_squares - n
    fp = int(contingency.dot(n_k).sum()) - sum_squares
    fn = int(contingency.T.dot(n_c).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def normalized_mutual_info(contingency) -> float:
    """Normalised mutual information (arithmetic mean of the entropies), as scikit-learn computes it."""
    import numpy as np
    from sklearn.metrics import mutual_info_score

    if contingency.shape[0] == contingency.shape[1] == 1:
        return 1.0
    mutual = mutual_info_score(None, None, contingency=contingency)
    if mutual == 0:
        return 0.0

    def entropy(counts) -> float:
        counts = counts[counts > 0].astype(np.float64)
        total = counts.sum()
        return float(-np.sum((counts / total) * (np.log(counts) - math.log(total))))

    normaliser = (entropy(contingency.sum(axis=1)) + entropy(contingency.sum(axis=0))) / 2
    return float(mutual / max(normaliser, np.finfo("float64").eps))


def contingency_table(predictions: Any, n_classes: int, n_clusters: int):
    """Return the (classes, clusters) contingency table of ``label`` against ``prediction``."""
    import numpy as np

    table = np.zeros((n_classes, n_clusters), dtype=np.int64)
    for label, cluster, count in pair_counts(predictions, LABEL, PREDICTION):
        table[label, cluster] = count
    return table
