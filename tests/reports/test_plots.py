"""Plots drawn after a run: which files each algorithm leaves, that they are real PNGs, and the guards."""

from __future__ import annotations

import csv
import logging
import subprocess
import sys
import textwrap

import pytest

from report_checks import QUICK, png_size
from helpers import EXAMPLE_CONFIGS, REPO_ROOT, only_run_folder, read_json, train_config

EXPECTED_PLOTS = {
    "mlp": {"learning_curves.png", "confusion_matrix.png", "roc_pr_curves.png"},
    "cnn": {"learning_curves.png", "confusion_matrix.png", "roc_pr_curves.png"},
    "rnn": {"learning_curves.png", "forecast.png", "predicted_vs_actual.png"},
    "kmeans": {"clusters_pca.png", "silhouette.png"},
    "tree": {"confusion_matrix.png", "roc_pr_curves.png", "tree.png", "feature_importances.png"},
    "rules": {"rules_support_confidence.png", "rules_graph.png", "item_frequencies.png"},
}
STEMS = [config.stem for config in EXAMPLE_CONFIGS]


def test_every_example_has_expected_plots():
    assert set(STEMS) == set(EXPECTED_PLOTS) == set(QUICK)


@pytest.mark.parametrize("stem", STEMS)
def test_example_leaves_its_plots(example_runs, stem):
    run = example_runs[stem]
    found = {path.name for path in (run / "artifacts" / "plots").glob("*.png")}
    assert found == EXPECTED_PLOTS[stem]


@pytest.mark.parametrize("stem", STEMS)
def test_plots_are_valid_pngs(example_runs, stem):
    for path in (example_runs[stem] / "artifacts" / "plots").glob("*.png"):
        width, height = png_size(path)
        assert 400 <= width <= 6000, f"{path.name} is {width} px wide"
        assert 250 <= height <= 6000, f"{path.name} is {height} px high"
        assert path.stat().st_size > 10_000, f"{path.name} is only {path.stat().st_size} bytes"


@pytest.mark.parametrize("stem", STEMS)
def test_plots_are_listed_as_artifacts(example_runs, stem):
    run = example_runs[stem]
    listed = {entry for entry in read_json(run / "run.json")["artifacts"] if entry.startswith("artifacts/plots/")}
    assert listed == {f"artifacts/plots/{name}" for name in EXPECTED_PLOTS[stem]}


@pytest.mark.parametrize("stem", ["mlp", "cnn", "tree"])
def test_predictions_have_class_probabilities(example_runs, stem):
    run = example_runs[stem]
    with open(run / "artifacts" / "predictions.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    classes = [str(label) for label in read_json(run / "data.json")["label_mapping"].values()]
    assert list(rows[0]) == ["target", "prediction", *(f"probability_{name}" for name in classes)]
    assert len(rows) == sum(map(sum, read_json(run / "metrics.json")["confusion_matrix"]))
    for row in rows:
        probabilities = [float(row[f"probability_{name}"]) for name in classes]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert row["prediction"] == classes[probabilities.index(max(probabilities))]


def test_regression_predictions_and_plot(write_config, tmp_path):
    config = write_config("""
        name: diabetes-tree
        dataset: {name: diabetes}
        model: {type: tree, max_depth: 3}
    """)
    run = train_config(config, tmp_path / "runs").run.path
    with open(run / "artifacts" / "predictions.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["target", "prediction"]
    plots = {path.name for path in (run / "artifacts" / "plots").glob("*.png")}
    assert plots == {"predicted_vs_actual.png", "tree.png", "feature_importances.png"}


def test_binary_classification_plots(write_config, tmp_path):
    config = write_config("""
        name: cancer-tree
        dataset: {name: breast_cancer}
        model: {type: tree, max_depth: 6}
    """)
    run = train_config(config, tmp_path / "runs").run.path
    plots = {path.name for path in (run / "artifacts" / "plots").glob("*.png")}
    assert {"confusion_matrix.png", "roc_pr_curves.png", "tree.png"} <= plots
    assert png_size(run / "artifacts" / "plots" / "tree.png")[0] > 1000


def test_plots_false_leaves_none(write_config, tmp_path):
    config = write_config("""
        name: no-plots
        dataset: {name: iris}
        model: {type: tree}
        report: {plots: false}
    """)
    run = train_config(config, tmp_path / "runs").run.path
    assert not (run / "artifacts" / "plots").exists()
    assert not [entry for entry in read_json(run / "run.json")["artifacts"] if entry.endswith(".png")]


def test_failing_plot_is_logged_and_run_completes(write_config, tmp_path, monkeypatch, caplog):
    from dmrun.reports import plots

    def broken(source):
        raise RuntimeError("drawing failed on purpose")

    monkeypatch.setattr(plots, "PLOTS", [plots.PlotSpec("broken.png", frozenset({"kmeans"}), broken), *plots.PLOTS])
    config = write_config("""
        name: broken-plot
        dataset: {name: iris}
        model: {type: kmeans, n_clusters: 3, n_init: 1}
    """)
    with caplog.at_level(logging.WARNING, logger="dmrun"):
        run = train_config(config, tmp_path / "runs").run.path
    assert read_json(run / "run.json")["status"] == "completed"
    assert "plot broken.png skipped: RuntimeError: drawing failed on purpose" in caplog.text
    assert "plot broken.png skipped" in (run / "log.txt").read_text(encoding="utf-8")
    found = {path.name for path in (run / "artifacts" / "plots").glob("*.png")}
    assert found == EXPECTED_PLOTS["kmeans"]


def test_mine_rules_draws_plots(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("milk,bread\nmilk,bread,eggs\nbread,eggs\nmilk,bread,butter\nmilk,eggs\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.4", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    found = {path.name for path in (only_run_folder(tmp_path / "runs") / "artifacts" / "plots").glob("*.png")}
    assert found == EXPECTED_PLOTS["rules"]


def test_mine_no_plots_flag(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("milk,bread\nmilk,bread,eggs\nbread,eggs\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.4", "--no-plots", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert not (only_run_folder(tmp_path / "runs") / "artifacts" / "plots").exists()


def test_chinese_items_are_plotted(cli, tmp_path):
    baskets = tmp_path / "购物篮.csv"
    baskets.write_text("牛奶,面包\n牛奶,面包,鸡蛋\n面包,鸡蛋\n牛奶,面包,黄油\n牛奶,鸡蛋\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.4", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = only_run_folder(tmp_path / "runs")
    assert {path.name for path in (run / "artifacts" / "plots").glob("*.png")} == EXPECTED_PLOTS["rules"]
    assert "skipped" not in result.stderr


def test_headless_plotting_without_display(tmp_path):
    """Plots are drawn with no DISPLAY and the default backend unset, as on a server."""
    (tmp_path / "baskets.csv").write_text("milk,bread\nmilk,bread,eggs\nbread,eggs\nmilk,eggs\n", encoding="utf-8")
    config = tmp_path / "rules.yaml"
    config.write_text("dataset: {path: baskets.csv}\nmodel: {type: rules, min_support: 0.5}\n", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ.pop("DISPLAY", None)
        os.environ.pop("MPLBACKEND", None)
        from pathlib import Path
        from dmrun.config.loading import load_config
        from dmrun.runner import run_experiment
        run = run_experiment(load_config(Path({str(config)!r})), Path({str(tmp_path / "runs")!r})).run.path
        print(sorted(path.name for path in (run / "artifacts" / "plots").iterdir()))
        print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr
    plots = sorted(EXPECTED_PLOTS["rules"])
    assert completed.stdout.splitlines() == [str(plots), "no pyplot"]
