"""Every example config validates and, trained at its full settings, reaches its documented score."""

from __future__ import annotations

import pytest

from dmrun.config.loading import load_config
from dmrun.runner import run_experiment
from helpers import EXAMPLE_CONFIGS, itemsets_from_run, mlxtend_itemsets, read_json


def check_cnn(loaded, run, metrics):
    assert metrics["accuracy"] >= 0.97


def check_mlp(loaded, run, metrics):
    assert metrics["accuracy"] >= 0.95


def check_tree(loaded, run, metrics):
    assert metrics["accuracy"] >= 0.9


def check_kmeans(loaded, run, metrics):
    assert metrics["ari"] >= 0.6


def check_rnn(loaded, run, metrics):
    assert metrics["rmse"] < metrics["naive_rmse"] * 0.8


def check_rules(loaded, run, metrics):
    from dmrun.data.builtin import BUILTIN_DATASETS

    transactions = BUILTIN_DATASETS[loaded.config.dataset.name].loader().transactions
    rules = read_json(run / "artifacts" / "rules.json")
    assert rules
    assert metrics["rules"] == len(rules)
    assert itemsets_from_run(run) == mlxtend_itemsets(transactions, loaded.config.model.min_support)


# The check of each example config, by file stem; the scores are below the README's results.
FLOORS = {
    "cnn": check_cnn,
    "mlp": check_mlp,
    "tree": check_tree,
    "kmeans": check_kmeans,
    "rnn": check_rnn,
    "rules": check_rules,
}


def test_every_example_has_a_floor():
    assert {path.stem for path in EXAMPLE_CONFIGS} == set(FLOORS)


@pytest.mark.parametrize("config", EXAMPLE_CONFIGS, ids=lambda path: path.stem)
def test_example_config_validates(cli, config):
    result = cli("validate", config)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: {config}")


@pytest.mark.parametrize("config", EXAMPLE_CONFIGS, ids=lambda path: path.stem)
def test_example_reaches_its_floor(config, tmp_path):
    loaded = load_config(config)
    outcome = run_experiment(loaded, tmp_path / "runs")
    metrics = read_json(outcome.run.path / "metrics.json")
    assert read_json(outcome.run.path / "run.json")["status"] == "completed"
    FLOORS[config.stem](loaded, outcome.run.path, metrics)
