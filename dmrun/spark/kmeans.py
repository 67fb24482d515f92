"""k-means with MLlib, with the metrics of the scikit-learn trainer.

``k-means++`` becomes MLlib's k-means|| initialisation and ``random`` stays random. MLlib runs one
initialisation per fit, so ``n_init`` fits are made with seeds ``seed``, ``seed + 1``, ... and the
one with the lowest inertia is kept. Davies-Bouldin and Calinski-Harabasz are computed exactly
in Spark. The silhouette needs all pairwise distances, so scikit-learn computes it on at most
``SILHOUETTE_ROWS`` rows drawn with the seed (all rows when there are fewer).
"""

from __future__ import annotations

import logging
from typing import Any

from dmrun.config.schema import ExperimentConfig, KMeansConfig
from dmrun.errors import DataError
from dmrun.rundir import write_csv
from dmrun.spark.features import FEATURES, LABEL
from dmrun.spark.metrics import PREDICTION, adjusted_rand, contingency_table, normalized_mutual_info
from dmrun.spark.persist import save_pipeline
from dmrun.spark.prepare import SparkPrepared
from dmrun.trainers.base import TrainContext, TrainResult

logger = logging.getLogger(__name__)

SILHOUETTE_ROWS = 10_000


def _check_clusters(data: SparkPrepared, n_clusters: int) -> int:
    """Raise the scikit-learn trainer's errors for more clusters than rows or distinct points."""
    from pyspark.ml.functions import vector_to_array

    n_rows = data.summary["rows"]
    if n_clusters > n_rows:
        raise DataError(
            f"model.n_clusters={n_clusters} but the dataset has {n_rows} rows",
            hint=f"set model.n_clusters to at most {n_rows}",
        )
    distinct = data.rows.select(vector_to_array(FEATURES).alias("point")).distinct().count()
    if distinct < n_clusters:
        from dmrun.trainers.kmeans import too_few_points

        raise too_few_points(n_clusters, distinct, n_rows)
    return distinct


def _fit_best(data: SparkPrepared, settings: KMeansConfig, seed: int) -> Any:
    from pyspark.ml.clustering import KMeans

    best = None
    for run in range(settings.n_init):
        estimator = KMeans(
            featuresCol=FEATURES,
            predictionCol=PREDICTION,
            k=settings.n_clusters,
            initMode="k-means||" if settings.init == "k-means++" else "random",
            maxIter=settings.max_iter,
            tol=settings.tol,
            seed=seed + run,
        )
        model = estimator.fit(data.rows)
        if best is None or model.summary.trainingCost < best.summary.trainingCost:
            best = model
    return best


def _dispersion_scores(predictions: Any, n_clusters: int, n_rows: int) -> dict[str, Any]:
    """Davies-Bouldin and Calinski-Harabasz from per-cluster means and distances, as scikit-learn defines them."""
    import numpy as np
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as F

    grouped = predictions.groupBy(F.col(PREDICTION).alias("c")).agg(
        F.count(F.lit(1)).alias("n"), Summarizer.mean(F.col(FEATURES)).alias("mean")
    ).collect()
    used = sorted(row["c"] for row in grouped)
    if len(used) < 2 or len(used) >= n_rows:
        return {"davies_bouldin": None, "calinski_harabasz": None}
    sizes = {row["c"]: row["n"] for row in grouped}
    means = {row["c"]: row["mean"].toArray() for row in grouped}

    # Each row's squared distance to its cluster's mean, with the means as one literal array.
    slot = {c: position + 1 for position, c in enumerate(used)}
    slot_of = F.create_map(*[item for c, position in slot.items() for item in (F.lit(c), F.lit(position))])
    table = F.array(*[F.array(*[F.lit(float(value)) for value in means[c]]) for c in used])
    centre = F.element_at(table, slot_of[F.col(PREDICTION)])
    point = vector_to_array(FEATURES)
    squared = F.aggregate(F.zip_with(point, centre, lambda a, b: (a - b) * (a - b)), F.lit(0.0), lambda total, v: total + v)
    distances = (
        predictions.select(F.col(PREDICTION).alias("c"), squared.alias("squared"))
        .groupBy("c")
        .agg(F.sum("squared").alias("squared"), F.sum(F.sqrt("squared")).alias("distance"))
        .collect()
    )
    within = {row["c"]: row["squared"] for row in distances}
    spread = {row["c"]: row["distance"] / sizes[row["c"]] for row in distances}

    overall = sum(means[c] * sizes[c] for c in used) / n_rows
    between = sum(sizes[c] * float(((means[c] - overall) ** 2).sum()) for c in used)
    within_total = sum(within.values())
    k = len(used)
    calinski = 1.0 if within_total == 0 else between * (n_rows - k) / (within_total * (k - 1))

    centres = np.stack([means[c] for c in used])
    gaps = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    intra = np.asarray([spread[c] for c in used])
    if np.allclose(intra, 0) or np.allclose(gaps, 0):
        davies = 0.0
    else:
        gaps[gaps == 0] = np.inf
        davies = float(np.mean(np.max((intra[:, None] + intra[None, :]) / gaps, axis=1)))
    return {"davies_bouldin": davies, "calinski_harabasz": float(calinski)}


def _silhouette(predictions: Any, n_rows: int, seed: int) -> tuple[float | None, int]:
    """Return the silhouette of at most ``SILHOUETTE_ROWS`` rows and the number of rows it used."""
    import numpy as np
    from sklearn.metrics import silhouette_score

    chosen = predictions
    if n_rows > SILHOUETTE_ROWS:
        chosen = predictions.sample(fraction=min(1.0, 1.2 * SILHOUETTE_ROWS / n_rows), seed=seed).limit(SILHOUETTE_ROWS)
    rows = chosen.select(FEATURES, PREDICTION).collect()
    points = np.asarray([row[FEATURES].toArray() for row in rows])
    labels = np.asarray([row[PREDICTION] for row in rows])
    used = len(np.unique(labels))
    if used < 2 or used >= len(points):
        return None, len(points)
    return float(silhouette_score(points, labels)), len(points)


def fit(config: ExperimentConfig, data: SparkPrepared, context: TrainContext) -> TrainResult:
    settings: KMeansConfig = config.model
    n_rows = data.summary["rows"]
    distinct = _check_clusters(data, settings.n_clusters)
    context.reporter.status(f"fitting MLlib k-means ({settings.n_init} initialisation(s))")
    model = _fit_best(data, settings, config.seed)
    predictions = model.transform(data.rows).cache()

    summary = model.summary
    sizes = [int(size) for size in summary.clusterSizes]
    sizes += [0] * (settings.n_clusters - len(sizes))
    notes = []
    if summary.numIter >= settings.max_iter:
        notes.append(f"k-means did not converge within max_iter={settings.max_iter} iterations")
    for note in notes:
        logger.warning("%s", note)
    silhouette, silhouette_rows = _silhouette(predictions, n_rows, config.seed)
    metrics: dict[str, Any] = {
        "inertia": float(summary.trainingCost),
        "silhouette": silhouette,
        **_dispersion_scores(predictions, settings.n_clusters, n_rows),
        "n_iter": int(summary.numIter),
        "n_clusters": settings.n_clusters,
        "cluster_sizes": sizes,
        "empty_clusters": sum(size == 0 for size in sizes),
        "distinct_points": int(distinct),
    }
    if silhouette_rows < n_rows:
        metrics["silhouette_rows"] = silhouette_rows
    if data.classes is not None:
        contingency = contingency_table(predictions, len(data.classes), settings.n_clusters)
        metrics["ari"] = adjusted_rand(contingency)
        metrics["nmi"] = normalized_mutual_info(contingency)
    metrics["warnings"] = notes

    artifacts = _write_clusters(predictions, data, model, context)
    predictions.unpersist()
    description = {"algorithm": "kmeans", "features": data.feature_names, "target": data.target}
    artifacts += save_pipeline([*data.plan.model.stages, model], description, context)
    return TrainResult(metrics=metrics, artifacts=artifacts)


def _write_clusters(predictions: Any, data: SparkPrepared, model: Any, context: TrainContext) -> list[str]:
    """Write clusters.csv (one row per input row, in input order) and centers.csv."""
    labelled = data.classes is not None
    columns = [PREDICTION] + ([LABEL] if labelled else [])
    header = ["row", "cluster"] + (["label"] if labelled else [])
    stream = predictions.select(*columns).toLocalIterator()
    rows = (
        [index, int(row[PREDICTION])] + ([data.classes[int(row[LABEL])]] if labelled else [])
        for index, row in enumerate(stream)
    )
    write_csv(context.artifacts / "clusters.csv", header, rows)
    write_csv(
        context.artifacts / "centers.csv",
        ["cluster", *data.feature_names],
        ([index, *map(float, centre)] for index, centre in enumerate(model.clusterCenters())),
    )
    return ["artifacts/clusters.csv", "artifacts/centers.csv"]
