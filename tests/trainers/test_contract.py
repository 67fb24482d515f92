"""The contract every registered trainer keeps, checked through the real pipeline.

Each trainer runs twice with the same seed on tiny data: load_config on a YAML file, then
run_experiment into a fresh runs folder. The runs are shared by the tests of this module.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest

from dmrun.trainers import TRAINERS
from helpers import read_json, strict_json, train_config

BASKETS = "milk,bread\nmilk,bread,eggs\nbread,eggs\nmilk,bread,butter\nbeer,chips\nmilk,eggs\nbeer,chips,bread\n"

CONFIGS = {
    "mlp": """
        name: contract-mlp
        dataset: {name: iris}
        preprocess: [{step: scale}]
        model: {type: mlp, hidden_sizes: [16], dropout: 0.1}
        train: {epochs: 3, batch_size: 16}
    """,
    "cnn": """
        name: contract-cnn
        dataset: {name: digits}
        preprocess: [{step: scale, method: minmax}]
        model: {type: cnn, channels: [4], hidden_size: 16}
        train: {epochs: 1, batch_size: 64}
    """,
    "rnn": """
        name: contract-rnn
        dataset: {name: sunspots, task: forecasting}
        model: {type: rnn, cell: gru, window: 6, hidden_size: 8}
        train: {epochs: 3, batch_size: 32}
    """,
    "kmeans": """
        name: contract-kmeans
        dataset: {name: iris}
        model: {type: kmeans, n_clusters: 3, n_init: 2}
    """,
    "tree": """
        name: contract-tree
        dataset: {name: iris}
        model: {type: tree, max_depth: 3}
    """,
    "rules": """
        name: contract-rules
        dataset: {path: baskets.csv, format: basket}
        model: {type: rules, min_support: 0.2, min_threshold: 0.5}
    """,
}

CLASSIFICATION = {"accuracy", "f1_macro", "precision_macro", "recall_macro", "confusion_matrix"}
TORCH_LOOP = {"epochs_run", "best_epoch", "loss", "device", "final_train_loss"}
EXPECTED_METRICS = {
    "mlp": CLASSIFICATION | TORCH_LOOP | {"final_val_loss"},
    "cnn": CLASSIFICATION | TORCH_LOOP | {"final_val_loss"},
    "rnn": {"mse", "rmse", "mae", "r2", "naive_mse", "naive_rmse", "naive_mae", "rmse_skill_vs_naive"} | TORCH_LOOP,
    "kmeans": {
        "inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "n_iter", "n_clusters",
        "cluster_sizes", "empty_clusters", "distinct_points", "ari", "nmi", "warnings",
    },
    "tree": CLASSIFICATION | {"depth", "leaves", "feature_importances"},
    "rules": {"transactions", "distinct_items", "min_count", "itemsets", "max_itemset_length", "rules"},
}
TORCH_FILES = ["model/weights.pt", "model/model.json", "history.csv"]
EXPECTED_FILES = {
    "mlp": TORCH_FILES + ["model/preprocessing.json", "model/pipeline.json", "model/pipeline.npz", "artifacts/confusion_matrix.csv", "artifacts/predictions.csv"],
    "cnn": TORCH_FILES + ["model/preprocessing.json", "model/pipeline.json", "model/pipeline.npz", "artifacts/confusion_matrix.csv", "artifacts/predictions.csv"],
    "rnn": TORCH_FILES + ["artifacts/forecast.csv"],
    "kmeans": ["artifacts/clusters.csv", "artifacts/centers.csv", "model/estimator.json", "model/estimator.npz", "model/preprocessing.json"],
    "tree": [
        "artifacts/tree.txt", "artifacts/feature_importances.csv", "artifacts/confusion_matrix.csv", "artifacts/predictions.csv",
        "model/estimator.json", "model/estimator.npz", "model/preprocessing.json",
    ],
    "rules": ["artifacts/itemsets.csv", "artifacts/itemsets.json", "artifacts/rules.csv", "artifacts/rules.json"],
}
COMMON_FILES = ["run.json", "config.yaml", "data.json", "metrics.json", "log.txt"]


def test_every_trainer_has_a_case():
    assert set(CONFIGS) == set(TRAINERS)


@pytest.fixture(scope="module", params=sorted(TRAINERS))
def twin_runs(request, tmp_path_factory) -> tuple[str, Path, Path]:
    """Run one trainer twice with the same seed and return its name and both run folders."""
    name = request.param
    folder = tmp_path_factory.mktemp(f"contract-{name}")
    (folder / "baskets.csv").write_text(BASKETS, encoding="utf-8")
    config = folder / f"{name}.yaml"
    config.write_text(textwrap.dedent(CONFIGS[name]), encoding="utf-8")
    first = train_config(config, folder / "runs-a").run.path
    second = train_config(config, folder / "runs-b").run.path
    return name, first, second


def test_run_status_is_completed(twin_runs):
    _, run, _ = twin_runs
    record = read_json(run / "run.json")
    assert record["status"] == "completed"
    assert record["exit_code"] == 0
    assert record["error"] is None


def test_metrics_are_strict_json(twin_runs):
    _, run, _ = twin_runs
    metrics = strict_json((run / "metrics.json").read_text(encoding="utf-8"))
    assert isinstance(metrics, dict)


def test_metrics_have_expected_keys(twin_runs):
    name, run, _ = twin_runs
    metrics = read_json(run / "metrics.json")
    missing = EXPECTED_METRICS[name] - set(metrics)
    assert not missing, f"{name} metrics lack {sorted(missing)}"


def test_expected_artifacts_exist(twin_runs):
    name, run, _ = twin_runs
    absent = [relative for relative in COMMON_FILES + EXPECTED_FILES[name] if not (run / relative).is_file()]
    assert not absent, f"{name} run lacks {absent}"


def test_listed_artifacts_exist(twin_runs):
    name, run, _ = twin_runs
    listed = read_json(run / "run.json")["artifacts"]
    expected = [relative for relative in EXPECTED_FILES[name] if relative != "history.csv"]
    assert set(expected) <= set(listed)
    assert all((run / relative).is_file() for relative in listed)


def test_same_seed_same_metrics(twin_runs):
    _, first, second = twin_runs
    assert read_json(first / "metrics.json") == read_json(second / "metrics.json")


def test_metrics_hold_no_durations(twin_runs):
    _, run, _ = twin_runs
    metrics = read_json(run / "metrics.json")
    timing = [key for key in metrics if any(word in key for word in ("second", "time", "duration", "elapsed"))]
    assert timing == []


def test_same_seed_same_history(twin_runs):
    name, first, second = twin_runs
    if name not in ("mlp", "cnn", "rnn"):
        assert not (first / "history.csv").exists()
        return

    def rows(run: Path) -> list[dict[str, str]]:
        with open(run / "history.csv", newline="", encoding="utf-8") as stream:
            return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(stream)]

    assert rows(first) == rows(second)


def test_macro_scores_skip_absent_classes():
    """A class with no row and no prediction does not count as a score of 0 in the macro averages."""
    from dmrun.trainers.metrics import classification_metrics

    metrics = classification_metrics([0, 0, 1, 1], [0, 0, 1, 1], n_classes=3)
    assert metrics["f1_macro"] == 1.0
    assert metrics["recall_macro"] == 1.0
    assert metrics["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 0]]
    missed = classification_metrics([0, 0, 1, 1], [0, 0, 1, 2], n_classes=3)
    assert missed["precision_macro"] == pytest.approx(2 / 3)
