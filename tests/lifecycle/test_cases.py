"""Reported failure cases from tools like dmrun, replayed with their inputs rebuilt here."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dmrun.config.loading import load_config
from dmrun.rundir import RunDir
from dmrun.runner import run_experiment
from helpers import read_json, run_folders, subprocess_env

LAUNCHER = Path(__file__).with_name("forked_launch.py")


# --- itemset explosion with a tiny support --------------------------------------------------------


def test_one_long_basket_refused_before_mining(cli, tmp_path):
    baskets = tmp_path / "one_long_basket.csv"
    lines = [",".join(f"sku{index:02d}" for index in range(30)), "milk,bread", "milk"]
    baskets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.monotonic()
    result = cli("mine", "rules", baskets, "--support", "0.0001", "--min-threshold", "0", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "1.07e+09" in result.stderr
    assert "--max-len" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    (folder,) = run_folders(tmp_path / "runs")
    assert read_json(folder / "run.json")["status"] == "failed"


# --- k-means with more clusters than (distinct) points ----------------------------------------------


def test_kmeans_more_clusters_than_rows(cli, write_config, tmp_path):
    (tmp_path / "points_tiny.csv").write_text("x,y\n0,0\n1,1\n2,2\n3,3\n", encoding="utf-8")
    config = write_config("dataset: {path: points_tiny.csv}\nmodel: {type: kmeans, n_clusters: 8}\nseed: 0\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "model.n_clusters=8 but the dataset has 4 rows" in result.stderr
    assert "Traceback" not in result.stderr


def test_kmeans_more_clusters_than_distinct(cli, write_config, tmp_path):
    rows = ["1,1", "1,1", "1,1", "5,5", "5,5", "5,5", "9,1", "9,1", "9,1", "9,1", "1,1", "5,5"]
    (tmp_path / "points_dupes.csv").write_text("x,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = write_config("dataset: {path: points_dupes.csv}\nmodel: {type: kmeans, n_clusters: 5}\nseed: 0\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    (folder,) = run_folders(tmp_path / "runs")
    assert result.exit_code == 3
    assert "3 distinct points (12 rows)" in result.stderr
    assert "at least 2 clusters would be empty" in result.stderr
    assert read_json(folder / "run.json")["status"] == "failed"


def test_kmeans_single_cluster_metrics_null(cli, write_config, tmp_path):
    config = write_config("dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 1, n_init: 1}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--json")
    metrics = json.loads(result.stdout)["metrics"]
    assert result.exit_code == 0
    assert metrics["silhouette"] is None
    assert metrics["davies_bouldin"] is None


# --- seeds set, results still differ ---------------------------------------------------------------

DETERMINISM = """
name: determinism
seed: 0
dataset: {name: digits, split: {test_size: 0.25}}
model: {type: mlp, hidden_sizes: [32]}
train: {epochs: 3, batch_size: 64}
"""


def test_same_seed_identical_across_processes(write_config, tmp_path):
    import torch

    config = write_config(DETERMINISM)
    in_process = run_experiment(load_config(config), tmp_path / "runs").run.path
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", str(tmp_path / "runs"), "--json"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    in_subprocess = Path(json.loads(completed.stdout)["run_dir"])
    assert (in_process / "metrics.json").read_bytes() == (in_subprocess / "metrics.json").read_bytes()
    weights = [torch.load(run / "model" / "weights.pt", weights_only=True) for run in (in_process, in_subprocess)]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert read_json(in_process / "run.json")["seed"] == 0


# --- run folders that collide or get reused ---------------------------------------------------------

COLLISION = "name: collision\nseed: 0\ndataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n"


def test_parallel_launches_get_own_folders(write_config, tmp_path):
    config = write_config(COLLISION)
    (tmp_path / "logs").mkdir()
    modules = "dmrun.runner,dmrun.trainers.kmeans,dmrun.data.builtin,sklearn.cluster"
    arguments = ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"]
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER), "3", str(tmp_path / "logs"), modules, *arguments],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(completed.stdout) == [0, 0, 0], completed.stderr
    folders = run_folders(tmp_path / "runs")
    assert len(folders) == 3
    for folder in folders:
        record = read_json(folder / "run.json")
        assert record["status"] == "completed"
        assert record["id"] == folder.name
        assert read_json(folder / "metrics.json")["n_clusters"] == 3


def test_fixed_run_name_refused_then_overwritten(cli, write_config, tmp_path):
    config = write_config(COLLISION)
    runs = tmp_path / "runs"
    assert cli("train", config, "--run-name", "fixed", "--runs-dir", runs, "-q").exit_code == 0
    first_start = read_json(runs / "fixed" / "run.json")["started"]

    refused = cli("train", config, "--run-name", "fixed", "--runs-dir", runs, "-q")
    replaced = cli("train", config, "--run-name", "fixed", "--overwrite", "--runs-dir", runs, "-q")

    assert refused.exit_code == 2
    assert "fixed already exists" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert "--resume" in refused.stderr
    assert replaced.exit_code == 0
    assert read_json(runs / "fixed" / "run.json")["started"] != first_start
    assert run_folders(runs) == [runs / "fixed"]


# --- Ctrl-C / SIGTERM leaves a run in a misleading state --------------------------------------------

LONG_TRAINING = "name: interrupt\nseed: 0\ndataset: {name: digits}\nmodel: {type: mlp, hidden_sizes: [64]}\ntrain: {epochs: 500, batch_size: 32}\n"


def start_training(config: Path, runs: Path) -> subprocess.Popen:
    """Start a long training run and return once its first epoch is in the log."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", str(runs)],
        cwd=config.parent,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any("epoch 1/" in path.read_text(encoding="utf-8") for path in runs.glob("*/log.txt")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no epoch logged: {process.communicate()[1]}")
        time.sleep(0.1)
    return process


def test_sigint_marks_interrupted_and_unlocks(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    process = start_training(write_config(LONG_TRAINING), runs)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    (folder,) = run_folders(runs)
    record = read_json(folder / "run.json")

    assert process.returncode == 130
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert record["status"] == "interrupted"
    assert record["last_completed_epoch"] >= 1
    assert record["ended"] is not None
    assert not (folder / "metrics.json").exists()
    listed = json.loads(cli("runs", "list", "--runs-dir", runs, "--json").stdout)["runs"]
    assert listed[0]["status"] == "interrupted"
    RunDir.reopen(folder).unlock()  # nothing stays locked for the next run


def test_second_sigint_exits_at_once(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    process = start_training(write_config(LONG_TRAINING), runs)
    process.send_signal(signal.SIGINT)
    time.sleep(0.01)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    started = time.monotonic()
    process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode in (130, -signal.SIGINT)
    (folder,) = run_folders(runs)
    listed = json.loads(cli("runs", "list", "--runs-dir", runs, "--json").stdout)["runs"]
    assert listed[0]["status"] in ("interrupted", "crashed")
    RunDir.reopen(folder).unlock()
