"""Early stopping on every validation metric the schema accepts, through the real pipeline."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import torch
from sklearn.metrics import f1_score

from dmrun.config.schema import EarlyStoppingConfig
from dmrun.errors import ConfigError
from dmrun.trainers.torch_loop import EPOCH_METRICS, macro_f1
from helpers import read_json, train_config

DATASETS = {
    "classification": "dataset: {name: iris, split: {val_size: 0.2, stratify: true}}\npreprocess: [{step: scale}]\n",
    "regression": "dataset: {name: diabetes, split: {val_size: 0.2}}\npreprocess: [{step: scale}]\n",
}
MODEL = "model: {type: mlp, hidden_sizes: [8]}\n"
CASES = [(task, metric) for task in DATASETS for metric in EPOCH_METRICS[task]]


def write_config(folder: Path, task: str, metric: str, epochs: int = 40) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        f"name: stop-{metric}\nseed: 0\nreport: {{plots: false}}\n"
        + DATASETS[task]
        + MODEL
        + f"train: {{epochs: {epochs}, batch_size: 16, early_stopping: {{metric: {metric}, patience: 2}}}}\n",
        encoding="utf-8",
    )
    return path


def test_schema_metrics_all_computed():
    accepted = set(typing.get_args(EarlyStoppingConfig.model_fields["metric"].annotation))
    computed = {metric for metrics in EPOCH_METRICS.values() for metric in metrics}
    assert accepted == computed


@pytest.mark.parametrize(("task", "metric"), CASES)
def test_early_stopping_watches_metric(tmp_path, task, metric):
    outcome = train_config(write_config(tmp_path, task, metric), tmp_path / "runs")
    metrics = read_json(outcome.run.path / "metrics.json")
    history = outcome.result.history

    assert metrics["early_stopping_metric"] == metric
    assert all(metric in row for row in history)
    values = [row[metric] for row in history]
    higher_is_better = metric in ("val_accuracy", "val_f1_macro")
    best = max(values) if higher_is_better else min(values)
    assert values[metrics["best_epoch"] - 1] == best


def test_f1_stopping_stops_early(tmp_path):
    outcome = train_config(write_config(tmp_path, "classification", "val_f1_macro", epochs=300), tmp_path / "runs")
    assert len(outcome.result.history) < 300


@pytest.mark.parametrize(("task", "metric"), [("classification", "val_rmse"), ("regression", "val_f1_macro")])
def test_metric_of_other_task_rejected(tmp_path, task, metric):
    with pytest.raises(ConfigError, match=f"'{metric}' is not computed for a {task} task"):
        train_config(write_config(tmp_path, task, metric), tmp_path / "runs")


def test_macro_f1_matches_sklearn():
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 4, (200,), generator=generator)
    predicted = torch.randint(0, 4, (200,), generator=generator)
    predicted[predicted == 3] = 2  # class 3 is never predicted
    targets[targets == 1] = 0  # class 1 never occurs, and is predicted now and then

    expected = f1_score(targets.numpy(), predicted.numpy(), labels=list(range(5)), average="macro", zero_division=0)
    assert macro_f1(predicted, targets, 5) == pytest.approx(expected)
