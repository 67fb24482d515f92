"""Features for scripts and CI: --set, --json, --expect, schema, runs list and show."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from helpers import only_run_folder, read_json, strict_json

KMEANS = """
name: km
dataset: {name: iris}
model: {type: kmeans, n_clusters: 3}
"""

MLP = """
name: net
dataset: {name: iris}
preprocess: [{step: scale}]
model: {type: mlp, hidden_sizes: [8]}
train: {epochs: 1, batch_size: 32}
"""


# --- --set overrides ---------------------------------------------------------------------------


def test_set_overrides_values(cli, write_config, tmp_path):
    path = write_config(MLP)
    runs = tmp_path / "runs"
    result = cli(
        "train", path, "--runs-dir", runs, "-q",
        "--set", "train.epochs=2", "--set", "model.hidden_sizes=[4,3]", "--set", "train.optimizer.lr=1e-2",
    )
    assert result.exit_code == 0, result.output
    folder = only_run_folder(runs)
    record = read_json(folder / "run.json")
    assert record["overrides"] == ["train.epochs=2", "model.hidden_sizes=[4,3]", "train.optimizer.lr=1e-2"]
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    assert config["train"]["epochs"] == 2
    assert config["train"]["optimizer"]["lr"] == 0.01
    assert config["model"]["hidden_sizes"] == [4, 3]


def test_set_adds_missing_section(cli, write_config):
    path = write_config("dataset: {name: iris}\nmodel: {type: mlp}\n")
    result = cli("validate", path, "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output


def test_set_typo_names_option(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "train.epoch=2")
    assert result.exit_code == 2
    assert "--set train.epoch=2: train.epoch: unknown key 'epoch'" in result.stderr
    assert "did you mean 'epochs'?" in result.stderr


def test_set_invalid_value_rejected(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "train.optimizer.lr=abc")
    assert result.exit_code == 2
    assert "--set train.optimizer.lr=abc" in result.stderr
    assert "should be a valid number" in result.stderr


def test_set_list_index(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "preprocess[0].method=minmx")
    assert result.exit_code == 2
    assert "did you mean 'minmax'?" in result.stderr
    out_of_range = cli("validate", path, "--set", "preprocess[3].method=minmax")
    assert out_of_range.exit_code == 2
    assert "index 3 is out of range" in out_of_range.stderr


def test_set_without_equals_rejected(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "train.epochs")
    assert result.exit_code == 2
    assert "expected key=value" in result.stderr


# --- --json ---------------------------------------------------------------------------------


def test_train_json_document(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert document["status"] == "completed"
    assert document["exit_code"] == 0
    assert document["run_dir"] == str(only_run_folder(tmp_path / "runs"))
    assert document["metrics"]["n_clusters"] == 3
    assert "artifacts/clusters.csv" in document["artifacts"]


def test_failed_run_json_document(cli, write_config, tmp_path):
    (tmp_path / "points.csv").write_text("x,y\n0,0\n1,1\n", encoding="utf-8")
    path = write_config("dataset: {path: points.csv}\nmodel: {type: kmeans, n_clusters: 5}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 3
    document = strict_json(result.stdout)
    assert document["status"] == "failed"
    assert document["exit_code"] == 3
    assert document["error"]["type"] == "DataError"
    assert "n_clusters=5" in document["error"]["message"]
    assert document["run_dir"] == str(only_run_folder(tmp_path / "runs"))


def test_config_error_json_document(cli, write_config, tmp_path):
    path = write_config("dataset: {name: iris}\nmodel: {type: kmeans, k: 3}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 2
    document = strict_json(result.stdout)
    assert document["run_dir"] is None
    assert document["error"]["type"] == "ConfigError"
    assert any("unknown key 'k'" in detail for detail in document["error"]["details"])


def test_mine_json_document(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\na,b,c\na\nb,c\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.5", "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert document["metrics"]["transactions"] == 4
    assert document["metrics"]["itemsets"] == 5  # a, b, c, {a, b}, {b, c}


# --- --expect -----------------------------------------------------------------------------------


def test_expect_passing_exits_zero(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "-q", "--expect", "ari>=0.5")
    assert result.exit_code == 0, result.output
    assert "expect ari>=0.5: passed" in result.stderr


def test_expect_failing_exits_four(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "-q", "--expect", "silhouette>0.99")
    assert result.exit_code == 4
    assert "expect silhouette>0.99: failed" in result.stderr
    record = read_json(only_run_folder(tmp_path / "runs") / "run.json")
    assert record["status"] == "completed"
    assert record["expectations"][0]["passed"] is False


def test_expect_malformed_rejected_before_run(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--expect", "ari=>0.5")
    assert result.exit_code == 2
    assert "invalid --expect 'ari=>0.5'" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_expect_unknown_metric_rejected(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "-q", "--expect", "aris>0.5")
    assert result.exit_code == 2
    assert "no metric 'aris'" in result.stderr
    assert "did you mean 'ari'?" in result.stderr


# --- schema -------------------------------------------------------------------------------------


def test_schema_describes_every_field(cli):
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"dataset", "model"}
    for definition in schema["$defs"].values():
        for name, field in definition.get("properties", {}).items():
            assert field.get("description"), f"{definition['title']}.{name} has no description"


# --- runs list and show ---------------------------------------------------------------------------


@pytest.fixture
def two_runs(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    assert cli("train", write_config(KMEANS, "km.yaml"), "--runs-dir", runs, "-q").exit_code == 0
    (tmp_path / "points.csv").write_text("x,y\n0,0\n1,1\n", encoding="utf-8")
    bad = write_config("name: bad\ndataset: {path: points.csv}\nmodel: {type: kmeans, n_clusters: 5}\n", "bad.yaml")
    assert cli("train", bad, "--runs-dir", runs, "-q").exit_code == 3
    return runs


def test_runs_list_shows_runs(cli, two_runs):
    result = cli("runs", "list", "--runs-dir", two_runs)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert "completed" in lines[1]
    assert "ari=" in lines[1]
    assert "failed" in lines[2]


def test_runs_list_filters_json(cli, two_runs):
    result = cli("runs", "list", "--runs-dir", two_runs, "--status", "failed", "--json")
    runs = strict_json(result.stdout)["runs"]
    assert [run["name"] for run in runs] == ["bad"]
    assert runs[0]["algorithm"] == "kmeans"


def test_runs_show_latest(cli, two_runs):
    result = cli("runs", "show", "latest", "--runs-dir", two_runs, "--json")
    document = strict_json(result.stdout)
    assert document["record"]["status"] == "failed"
    assert document["record"]["error"]["type"] == "DataError"


def test_runs_show_unknown_prefix(cli, two_runs):
    result = cli("runs", "show", "nope", "--runs-dir", two_runs)
    assert result.exit_code == 2
    assert "no run matches 'nope'" in result.stderr


def test_killed_run_listed_as_crashed(cli, two_runs):
    folder = next(path for path in two_runs.iterdir() if "-km-" in path.name)
    record = read_json(folder / "run.json")
    record["status"] = "running"
    record["pid"] = _dead_pid()
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    runs = strict_json(cli("runs", "list", "--runs-dir", two_runs, "--json").stdout)["runs"]
    statuses = {run["name"]: run["status"] for run in runs}
    assert statuses == {"km": "crashed", "bad": "failed"}


def _dead_pid() -> int:
    """Return the pid of a child process that has already exited."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_expect_failure_recorded_in_run(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--json", "--expect", "silhouette>0.99")
    document = strict_json(result.stdout)
    record = read_json(only_run_folder(tmp_path / "runs") / "run.json")
    assert result.exit_code == 4
    assert document["exit_code"] == 4
    assert record["exit_code"] == 4
    assert record["status"] == "completed"


def test_expect_metric_checked_before_training(cli, write_config, tmp_path):
    path = write_config(KMEANS)
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--expect", "accuracy>0.5")
    assert result.exit_code == 2
    assert "a kmeans run has no metric 'accuracy'" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_usage_error_prints_json(tmp_path):
    from helpers import run_dmrun

    result = run_dmrun("mine", "rules", "--support", "abc", "--json", cwd=tmp_path)
    document = strict_json(result.stdout)
    assert result.exit_code == 2
    assert document["exit_code"] == 2
    assert document["error"]["type"] == "UsageError"


def test_set_new_section_names_option(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "newsection.x=1")
    assert result.exit_code == 2
    assert "--set newsection.x=1: newsection: unknown key 'newsection'" in result.stderr


def test_set_list_item_keys(cli, write_config):
    path = write_config(MLP)
    result = cli("validate", path, "--set", "preprocess[0].methd=minmax")
    assert result.exit_code == 2
    assert "did you mean 'method'?" in result.stderr


def test_runs_list_rejects_bad_filters(cli, two_runs):
    status = cli("runs", "list", "--runs-dir", two_runs, "--status", "bogus")
    assert status.exit_code == 2
    assert "statuses: running, completed, failed, interrupted, crashed" in status.stderr
    missing = cli("runs", "list", "--runs-dir", two_runs / "nope")
    assert missing.exit_code == 2


def test_support_and_min_count_exclusive(cli, tmp_path):
    baskets = tmp_path / "b.csv"
    baskets.write_text("a,b\na\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.3", "--min-count", "2")
    assert result.exit_code == 2
    assert "give one of them" in result.stderr


def test_validate_json_document(cli, write_config):
    good = write_config(KMEANS, "good.yaml")
    bad = write_config("dataset: {name: iris}\nmodel: {type: kmeans, k: 3}\n", "bad.yaml")
    for flag in (["--json"], ["--format", "json"]):
        result = cli("validate", good, bad, *flag)
        document = strict_json(result.stdout)
        assert result.exit_code == 2
        assert document["valid"] is False
        assert [entry["valid"] for entry in document["configs"]] == [True, False]
        assert document["configs"][0]["model"] == "kmeans"
        assert any("unknown key 'k'" in detail for detail in document["configs"][1]["error"]["details"])
