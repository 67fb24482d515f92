"""``dmrun sweep``: grid parsing, trial runs, reuse of completed trials, sweep.json and exit codes."""

from __future__ import annotations

import pytest
import yaml

from dmrun.errors import ConfigError
from dmrun.sweep import parse_grid_option, split_values
from helpers import read_json, strict_json

KMEANS = """
name: km
dataset: {name: iris}
model: {type: kmeans, n_clusters: 3, n_init: 1}
"""


def sweep_folder(runs):
    folders = sorted(path for path in runs.iterdir() if "-sweep-" in path.name)
    return folders[-1]


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ("0.1,0.01", ["0.1", "0.01"]),
        ("[64],[128, 64]", ["[64]", "[128, 64]"]),
        ("{a: 1, b: 2},'x,y'", ["{a: 1, b: 2}", "'x,y'"]),
    ],
)
def test_split_values(raw, values):
    assert split_values(raw) == values


def test_grid_values_typed():
    key, values = parse_grid_option("train.optimizer.lr=1e-3,0.1")
    assert key == "train.optimizer.lr"
    assert values == ["1e-3", "0.1"]


@pytest.mark.parametrize(("option", "message"), [("model.n_clusters", "expected key=value1,value2"), ("model.n_clusters=2,,3", "empty value")])
def test_grid_option_rejected(option, message):
    with pytest.raises(ConfigError) as caught:
        parse_grid_option(option)
    assert message in caught.value.message


def test_sweep_runs_and_ranks(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    path = write_config(KMEANS)
    result = cli("sweep", path, "--grid", "model.n_clusters=2,3", "--runs-dir", runs, "--json", "--metric", "silhouette")
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.output
    assert [trial["params"] for trial in document["trials"]] == [{"model.n_clusters": 2}, {"model.n_clusters": 3}]
    assert document["best"]["params"] == {"model.n_clusters": 2}  # two clusters separate iris best by silhouette
    assert [trial["rank"] for trial in document["trials"]] == [1, 2]

    stored = read_json(sweep_folder(runs) / "sweep.json")
    assert set(stored) == {"format_version", "kind", "name", "config", "metric", "goal", "keys", "trials"}
    assert (stored["format_version"], stored["kind"], stored["name"]) == (1, "sweep", "km")
    assert (stored["metric"], stored["goal"], stored["keys"]) == ("silhouette", "max", ["model.n_clusters"])
    assert stored["config"] == str(path.resolve())
    for trial in stored["trials"]:
        assert set(trial) == {"params", "run", "status", "metrics"}
        assert trial["status"] == "completed"
        record = read_json(runs / trial["run"] / "run.json")
        assert record["overrides"] == [f"model.n_clusters={trial['params']['model.n_clusters']}"]
        assert record["sweep"]["params"] == trial["params"]
        config = yaml.safe_load((runs / trial["run"] / "config.yaml").read_text(encoding="utf-8"))
        assert config["model"]["n_clusters"] == trial["params"]["model.n_clusters"]
        assert "sweep" not in config


def test_sweep_rerun_reuses_completed(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    path = write_config(KMEANS)
    first = strict_json(cli("sweep", path, "--grid", "model.n_clusters=2", "--runs-dir", runs, "--json").stdout)
    second = cli("sweep", path, "--grid", "model.n_clusters=2,3", "--runs-dir", runs, "--json")
    document = strict_json(second.stdout)
    assert second.exit_code == 0, second.output
    assert [trial["reused"] for trial in document["trials"]] == [True, False]
    assert document["trials"][0]["run"] == first["trials"][0]["run"]
    trial_runs = [path for path in runs.iterdir() if "-sweep-" not in path.name]
    assert len(trial_runs) == 2


def test_sweep_retries_failed_and_exits_one(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    path = write_config(KMEANS)
    result = cli("sweep", path, "--grid", "model.n_clusters=3,500", "--runs-dir", runs, "-q")
    assert result.exit_code == 1
    assert "trial 2/2 (model.n_clusters=500): failed" in result.stderr
    assert "1 of 2 trials did not complete" in result.stderr
    statuses = [trial["status"] for trial in read_json(sweep_folder(runs) / "sweep.json")["trials"]]
    assert statuses == ["completed", "failed"]

    dry = strict_json(cli("sweep", path, "--grid", "model.n_clusters=3,500", "--runs-dir", runs, "--dry-run", "--json").stdout)
    assert [trial["reused"] for trial in dry["trials"]] == [True, False]


def test_sweep_dry_run_writes_nothing(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    path = write_config(KMEANS)
    result = cli("sweep", path, "--grid", "model.n_clusters=2,3", "--grid", "model.init=random,k-means++", "--runs-dir", runs, "--dry-run")
    lines = result.stdout.strip().splitlines()
    assert result.exit_code == 0
    assert lines[0].split() == ["trial", "model.n_clusters", "model.init", "action"]
    assert len(lines) == 5
    assert not runs.exists()


def test_sweep_unknown_key_suggests(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("sweep", path, "--grid", "model.n_clustrs=2,3", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "--grid model.n_clustrs=2: model.n_clustrs: unknown key 'n_clustrs'" in result.stderr
    assert "did you mean 'n_clusters'?" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_sweep_invalid_value_rejected_first(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("sweep", path, "--grid", "model.n_clusters=3,0", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "--grid model.n_clusters=0: model.n_clusters: invalid value 0" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_sweep_block_in_config(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    path = write_config(KMEANS + "sweep: {grid: {model.n_clusters: [2, 4]}, metric: inertia}\n")
    result = cli("sweep", path, "--runs-dir", runs, "--json", "--expect", "inertia<1")
    document = strict_json(result.stdout)
    assert result.exit_code == 4
    assert document["exit_code"] == 4
    assert (document["metric"], document["goal"]) == ("inertia", "min")
    assert document["best"]["params"] == {"model.n_clusters": 4}
    assert document["expectations"][0]["passed"] is False


def test_train_ignores_sweep_block(cli, write_config, tmp_path):
    path = write_config(KMEANS + "sweep: {grid: {model.n_clusters: [2, 4]}}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0
    assert "train ignores the sweep: block" in result.stderr
    assert strict_json(result.stdout)["metrics"]["n_clusters"] == 3


def test_sweep_parallel_jobs(tmp_path):
    from helpers import run_dmrun

    (tmp_path / "km.yaml").write_text(KMEANS, encoding="utf-8")
    result = run_dmrun("sweep", "km.yaml", "--grid", "model.n_clusters=2,3", "--jobs", "2", "--json", "--runs-dir", "runs", cwd=tmp_path, timeout=300)
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert [trial["status"] for trial in document["trials"]] == ["completed", "completed"]
    assert all((tmp_path / "runs" / trial["run"] / "metrics.json").is_file() for trial in document["trials"])


def test_validate_checks_sweep_block(cli, write_config):
    good = write_config(KMEANS + "sweep: {grid: {model.n_clusters: [2, 4]}}\n", "good.yaml")
    bad = write_config(KMEANS + "sweep: {grid: {model.n_clustrs: [2, 4]}}\n", "bad.yaml")
    assert cli("validate", good).exit_code == 0
    result = cli("validate", bad)
    assert result.exit_code == 2
    assert "sweep.grid model.n_clustrs=2: model.n_clustrs: unknown key 'n_clustrs'" in result.stderr
