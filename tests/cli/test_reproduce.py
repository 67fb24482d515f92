"""``dmrun reproduce``: a new run from the saved config, and --verify against the original."""

from __future__ import annotations

import json

from helpers import read_json, strict_json

MLP = """
name: net
seed: 3
dataset: {name: iris}
preprocess: [{step: scale}]
model: {type: mlp, hidden_sizes: [8]}
train: {epochs: 2, batch_size: 32}
"""


def test_reproduce_verifies_mlp(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    original = strict_json(cli("train", write_config(MLP), "--runs-dir", runs, "--json", "--set", "train.epochs=1").stdout)
    result = cli("reproduce", original["id"], "--runs-dir", runs, "--verify", "--json")
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.output
    assert document["original"]["id"] == original["id"]
    assert document["run_dir"] != original["run_dir"]
    assert document["verify"]["matched"] is True
    assert document["metrics"] == original["metrics"]
    record = read_json(runs / document["id"] / "run.json")
    assert record["reproduces"] == original["id"]
    assert record["seed"] == 3
    assert read_json(runs / document["id"] / "metrics.json")["epochs_run"] == 1


def test_reproduce_reports_differences(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    original = strict_json(cli("train", write_config("dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n"), "--runs-dir", runs, "--json").stdout)
    folder = runs / original["id"]
    metrics = read_json(folder / "metrics.json")
    metrics["ari"] += 0.001
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    record = read_json(folder / "run.json")
    record["versions"]["sklearn"] = "0.0.1"
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")

    result = cli("reproduce", folder, "--runs-dir", runs, "--verify", "-q")
    assert result.exit_code == 4
    assert "NOT verified: 1 of" in result.stdout
    assert "versions.sklearn  0.0.1" in result.stdout
    loose = cli("reproduce", folder, "--runs-dir", runs, "--verify", "--tolerance", "0.01", "--json")
    assert loose.exit_code == 0
    assert strict_json(loose.stdout)["verify"]["environment"][0]["key"] == "versions.sklearn"


def test_reproduce_names_a_distributed_original(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    original = strict_json(cli("train", write_config(MLP), "--runs-dir", runs, "--json").stdout)
    folder = runs / original["id"]
    record = read_json(folder / "run.json")
    record["distributed"] = {"world_size": 2, "backend": "gloo", "nnodes": 1, "local_world_size": 2}
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    result = cli("reproduce", folder, "--runs-dir", runs, "--verify", "--json")
    assert "trained on 2 processes and this reproduction trains in one" in result.stderr
    assert "--nproc 2" in result.stderr
    environment = strict_json(result.stdout)["verify"]["environment"]
    assert {"key": "distributed.world_size", "original": 2, "reproduced": 1} in environment


def test_reproduce_min_count_rules(cli, tmp_path):
    baskets = tmp_path / "b.csv"
    baskets.write_text("a,b\na,b,c\na\nb,c\n", encoding="utf-8")
    runs = tmp_path / "runs"
    assert cli("mine", "rules", baskets, "--min-count", "2", "--runs-dir", runs, "-q").exit_code == 0
    result = cli("reproduce", "latest", "--runs-dir", runs, "--verify", "--json")
    assert result.exit_code == 0, result.output
    assert strict_json(result.stdout)["metrics"]["min_count"] == 2


def test_reproduce_needs_saved_config(cli, tmp_path):
    from helpers import make_run

    make_run(tmp_path / "runs", "20260101-100000-x-aaaaaa", {"ari": 1.0})
    result = cli("reproduce", "latest", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "has no config.yaml" in result.stderr
