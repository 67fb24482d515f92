"""k-means clustering with internal and, when labels exist, external quality measures."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from dmrun.config.schema import ExperimentConfig, KMeansConfig
from dmrun.data.prepare import ClusteringData
from dmrun.errors import DataError, TrainerError
from dmrun.rundir import write_csv
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.persist import save_preprocessing, save_sklearn

logger = logging.getLogger(__name__)


# Hash function for a row's bytes. It is a module attribute so that tests can force collisions.
row_hash = hash


def count_distinct_rows(X: np.ndarray) -> int:
    """Count the distinct rows of ``X`` exactly, by hashing each row's bytes.

    Rows with equal hashes are compared byte for byte, so a hash collision does not merge two
    points. Sorting every row (``np.unique(X, axis=0)``) took 0.6 s on the 10,000 MNIST test
    images, and hashing takes about 0.04 s.
    """
    buckets: dict[int, list[int]] = {}  # hash -> the first row of each distinct point with that hash
    distinct = 0
    for start in range(0, len(X), 1024):
        block = np.ascontiguousarray(X[start : start + 1024]) + 0.0  # adding 0.0 turns -0.0 into 0.0
        for offset, row in enumerate(block):
            key = row.tobytes()
            bucket = buckets.setdefault(row_hash(key), [])
            if not any((X[index] + 0.0).tobytes() == key for index in bucket):
                bucket.append(start + offset)
                distinct += 1
    return distinct


def too_few_points(n_clusters: int, distinct: int, n_rows: int) -> DataError:
    """Return the error for more clusters than distinct points."""
    empty = n_clusters - distinct
    return DataError(
        f"model.n_clusters={n_clusters} but the data has only {distinct} distinct points ({n_rows} rows), "
        f"so at least {empty} {'cluster' if empty == 1 else 'clusters'} would be empty",
        hint=f"set model.n_clusters to at most {distinct}, or remove duplicate rows",
    )


def _internal_scores(X: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Silhouette, Davies-Bouldin and Calinski-Harabasz; ``None`` where a score is undefined."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    used = len(np.unique(labels))
    if used < 2 or used >= len(X):
        return {"silhouette": None, "davies_bouldin": None, "calinski_harabasz": None}
    return {
        "silhouette": float(silhouette_score(X, labels)),
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(X, labels)),
    }


def fit(config: ExperimentConfig, data: ClusteringData, context: TrainContext) -> TrainResult:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    settings: KMeansConfig = config.model
    if settings.engine == "spark":
        from dmrun.spark.session import spark_errors
        from dmrun.spark.kmeans import fit as fit_on_spark

        with spark_errors(TrainerError, "clustering"):
            return fit_on_spark(config, data, context)
    n_rows = len(data.X)
    if settings.n_clusters > n_rows:
        raise DataError(
            f"model.n_clusters={settings.n_clusters} but the dataset has {n_rows} rows",
            hint=f"set model.n_clusters to at most {n_rows}",
        )
    distinct = count_distinct_rows(data.X)
    if distinct < settings.n_clusters:
        raise too_few_points(settings.n_clusters, distinct, n_rows)
    notes: list[str] = []

    model = KMeans(
        n_clusters=settings.n_clusters,
        init=settings.init,
        n_init=settings.n_init,
        max_iter=settings.max_iter,
        tol=settings.tol,
        random_state=config.seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        labels = model.fit_predict(data.X)
    notes += [str(item.message) for item in caught if issubclass(item.category, ConvergenceWarning)]
    for note in notes:
        logger.warning("%s", note)

    sizes = np.bincount(labels, minlength=settings.n_clusters)
    metrics: dict[str, Any] = {
        "inertia": float(model.inertia_),
        **_internal_scores(data.X, labels),
        "n_iter": int(model.n_iter_),
        "n_clusters": settings.n_clusters,
        "cluster_sizes": sizes.tolist(),
        "empty_clusters": int((sizes == 0).sum()),
        "distinct_points": int(distinct),
    }
    if data.labels is not None:
        metrics["ari"] = float(adjusted_rand_score(data.labels, labels))
        metrics["nmi"] = float(normalized_mutual_info_score(data.labels, labels))
    metrics["warnings"] = notes

    header = ["row", "cluster"] + (["label"] if data.labels is not None else [])
    rows = (
        [index, int(cluster)] + ([data.classes[data.labels[index]]] if data.labels is not None else [])
        for index, cluster in enumerate(labels)
    )
    write_csv(context.artifacts / "clusters.csv", header, rows)
    write_csv(
        context.artifacts / "centers.csv",
        ["cluster", *data.feature_names],
        ([index, *map(float, center)] for index, center in enumerate(model.cluster_centers_)),
    )
    artifacts = ["artifacts/clusters.csv", "artifacts/centers.csv"]
    artifacts += save_sklearn(model, context, "estimator")
    artifacts += save_preprocessing(data.preprocessing, context)
    return TrainResult(metrics=metrics, artifacts=artifacts)
