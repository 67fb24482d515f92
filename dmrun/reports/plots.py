"""The plots each algorithm leaves in ``artifacts/plots/`` after a successful run.

Plots read the run folder (history.csv, predictions.csv, rules.csv, ...). Where the folder alone
is not enough, they use the prepared data the trainer received (the rows k-means clustered, the
whole forecast series) or the fitted model it returned (the decision tree), so no plot depends
on the format of the saved model. A plot that cannot be made is logged as a warning and
skipped, so plotting never turns a completed run into a failed one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dmrun.reports import charts
from dmrun.reports.figures import plotting, png_bytes
from dmrun.rundir import write_atomic

logger = logging.getLogger(__name__)

PLOTS_FOLDER = "artifacts/plots"
TORCH = frozenset({"mlp", "cnn", "rnn"})
SUPERVISED = TORCH | {"tree"}


@dataclass
class PlotSource:
    """Inputs of a plot: the run folder, the run's metrics, the trainer's input data and fitted model."""

    run: Path
    algorithm: str
    metrics: dict[str, Any]
    data: Any = None
    model: Any = None
    _frames: dict[str, Any] = field(default_factory=dict)

    def table(self, relative: str, **options: Any):
        """Return a CSV file of the run folder as a DataFrame, or ``None`` when it does not exist."""
        import pandas as pd

        key = relative + repr(sorted(options.items()))
        if key not in self._frames:
            path = self.run / relative
            self._frames[key] = pd.read_csv(path, **options) if path.is_file() else None
        return self._frames[key]

    def config_value(self, section: str, key: str) -> Any:
        """Return one value of the run's resolved config.yaml, or ``None``."""
        import yaml

        path = self.run / "config.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        return ((config or {}).get(section) or {}).get(key)

    @cached_property
    def predictions(self):
        return self.table("artifacts/predictions.csv")

    @cached_property
    def class_names(self) -> list[str] | None:
        """Return the class names of a classification run, from the probability columns of predictions.csv."""
        frame = self.predictions
        if frame is None:
            return None
        names = [column.removeprefix("probability_") for column in frame.columns if column.startswith("probability_")]
        return names or None


# --- one function per plot; each returns a figure, or None when the plot does not apply ----------


def draw_learning_curves(source: PlotSource):
    history = source.table("history.csv")
    if history is None or history.empty:
        return None
    return charts.learning_curves({"this run": history}, source.metrics.get("best_epoch"), source.metrics.get("loss"))


def draw_confusion_matrix(source: PlotSource):
    if source.class_names is None:
        return None
    frame = source.predictions
    return charts.confusion_matrix(frame["target"].astype(str), frame["prediction"].astype(str), source.class_names)


def draw_roc_pr(source: PlotSource):
    if source.class_names is None:
        return None
    frame = source.predictions
    scores = frame[[f"probability_{name}" for name in source.class_names]].to_numpy(dtype=float)
    return charts.roc_pr_curves(frame["target"].astype(str).tolist(), scores, source.class_names)


def draw_predicted_vs_actual(source: PlotSource):
    forecast = source.table("artifacts/forecast.csv")
    if forecast is not None:
        horizon = charts.forecast_horizon(forecast)
        if horizon == 1:
            return charts.predicted_vs_actual(forecast["actual"], forecast["forecast"], "one-step forecast, test part")
        import pandas as pd

        steps = range(1, horizon + 1)
        actual = pd.concat([forecast[f"actual_step{step}"] for step in steps], ignore_index=True)
        predicted = pd.concat([forecast[f"forecast_step{step}"] for step in steps], ignore_index=True)
        return charts.predicted_vs_actual(actual, predicted, f"forecasts of steps 1 to {horizon}, test part")
    frame = source.predictions
    if frame is None or source.class_names is not None:
        return None
    return charts.predicted_vs_actual(frame["target"], frame["prediction"], "test split")


def draw_forecast(source: PlotSource):
    forecast = source.table("artifacts/forecast.csv")
    data = source.data
    if forecast is None or data is None or not hasattr(data, "train"):
        return None
    return charts.forecast_series(data, forecast)


def draw_clusters(source: PlotSource):
    clusters = source.table("artifacts/clusters.csv")
    centers = source.table("artifacts/centers.csv")
    if clusters is None or centers is None or source.data is None:
        return None
    return charts.cluster_projection(source.data.X, clusters["cluster"].to_numpy(), centers.iloc[:, 1:].to_numpy())


def draw_silhouette(source: PlotSource):
    clusters = source.table("artifacts/clusters.csv")
    if clusters is None or source.data is None:
        return None
    return charts.silhouette(source.data.X, clusters["cluster"].to_numpy())


def draw_tree(source: PlotSource):
    model = source.model
    if source.data is None or model is None:
        return None
    classes = source.data.classes
    class_names = [str(classes[int(code)]) for code in model.classes_] if hasattr(model, "classes_") else None
    return charts.decision_tree(model, list(source.data.feature_names), class_names)


def draw_feature_importances(source: PlotSource):
    importances = source.table("artifacts/feature_importances.csv")
    if importances is None or importances.empty:
        return None
    return charts.feature_importances(importances["feature"].astype(str), importances["importance"])


def draw_rules_scatter(source: PlotSource):
    rules = source.table("artifacts/rules.csv", usecols=["support", "confidence", "lift"])
    if rules is None or rules.empty:
        return None
    return charts.rules_scatter(rules)


def draw_rules_graph(source: PlotSource):
    rules = source.table("artifacts/rules.csv", nrows=charts.GRAPH_RULES)
    if rules is None or rules.empty:
        return None
    sort_by = source.config_value("model", "sort_by") or "lift"
    return charts.rules_graph(rules, sort_by)


def draw_item_frequencies(source: PlotSource):
    from collections import Counter

    transactions = getattr(source.data, "transactions", None)
    if transactions is None:
        return None
    # The reader's counts, where it kept them, spare a pass over every item of every basket.
    counts = getattr(source.data, "item_counts", None)
    if counts is None:
        counts = Counter(item for basket in transactions for item in set(basket))
    return charts.item_frequencies(counts, len(transactions))


@dataclass(frozen=True)
class PlotSpec:
    """One plot: its file name under artifacts/plots, the algorithms it is drawn for, its function and caption."""

    filename: str
    algorithms: frozenset[str]
    draw: Callable[[PlotSource], Any]
    caption: str = ""


PLOTS: list[PlotSpec] = [
    PlotSpec("learning_curves.png", TORCH, draw_learning_curves, "Learning curves: loss and validation metrics per epoch"),
    PlotSpec("confusion_matrix.png", SUPERVISED, draw_confusion_matrix, "Confusion matrix on the test split"),
    PlotSpec("roc_pr_curves.png", SUPERVISED, draw_roc_pr, "ROC and precision-recall curves on the test split"),
    PlotSpec("predicted_vs_actual.png", SUPERVISED, draw_predicted_vs_actual, "Predicted against actual values"),
    PlotSpec("forecast.png", frozenset({"rnn"}), draw_forecast, "Forecast over the actual series"),
    PlotSpec("clusters_pca.png", frozenset({"kmeans"}), draw_clusters, "Clusters in the plane of the first two principal components"),
    PlotSpec("silhouette.png", frozenset({"kmeans"}), draw_silhouette, "Silhouette coefficients per cluster"),
    PlotSpec("tree.png", frozenset({"tree"}), draw_tree, "The decision tree and its split rules"),
    PlotSpec("feature_importances.png", frozenset({"tree"}), draw_feature_importances, "Feature importances"),
    PlotSpec("rules_support_confidence.png", frozenset({"rules"}), draw_rules_scatter, "Rules: support against confidence, coloured by lift"),
    PlotSpec("rules_graph.png", frozenset({"rules"}), draw_rules_graph, "Top rules as a graph of items"),
    PlotSpec("item_frequencies.png", frozenset({"rules"}), draw_item_frequencies, "Most frequent items"),
]


def make_run_plots(run: Path, algorithm: str, metrics: dict[str, Any], data: Any = None, model: Any = None) -> list[str]:
    """Draw the plots of ``algorithm`` into ``run``/artifacts/plots and return their relative paths.

    Raises no ``Exception``: a plot that fails is logged as a warning and left out. Only an
    interrupt (``KeyboardInterrupt`` or the runner's SIGTERM exception) passes through.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        logger.warning("plots skipped because matplotlib cannot be imported: %s", err)
        return []
    folder = run / PLOTS_FOLDER
    source = PlotSource(run=run, algorithm=algorithm, metrics=metrics, data=data, model=model)
    written: list[str] = []
    for spec in PLOTS:
        if algorithm not in spec.algorithms:
            continue
        try:
            with plotting():
                figure = spec.draw(source)
                if figure is None:
                    continue
                image = png_bytes(figure)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / spec.filename, image)
            written.append(f"{PLOTS_FOLDER}/{spec.filename}")
        except Exception as err:  # noqa: BLE001 - a plot must never fail a finished run
            logger.warning("plot %s skipped: %s: %s", spec.filename, type(err).__name__, err)
            logger.debug("plot %s failed", spec.filename, exc_info=True)
    return written
