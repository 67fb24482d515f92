"""``dmrun runs list`` sorting and CSV, ``runs diff`` and ``runs compare`` on hand-made run folders."""

from __future__ import annotations

import csv
import io
import time

import pytest

from helpers import make_run, strict_json

CONFIG_A = "name: km\nseed: 0\ndataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\npreprocess:\n- {step: scale, method: standard}\n"
CONFIG_B = CONFIG_A.replace("n_clusters: 3", "n_clusters: 4").replace("standard", "minmax")
CONFIG_C = CONFIG_A.replace("seed: 0", "seed: 7")
RULES_HEADER = "antecedents,consequents,support,confidence\n"


@pytest.fixture
def runs(tmp_path):
    folder = tmp_path / "runs"
    make_run(folder, "20260101-100000-km-aaaaaa", {"ari": 0.5, "silhouette": 0.4, "sizes": [1, 2]}, config=CONFIG_A)
    make_run(folder, "20260101-110000-km-bbbbbb", {"ari": 0.7, "silhouette": 0.3, "sizes": [2, 1]}, config=CONFIG_B)
    make_run(folder, "20260101-120000-km-cccccc", {"ari": 0.6, "silhouette": 0.3}, config=CONFIG_C)
    make_run(folder, "20260101-130000-broken-dddddd", None, status="failed")
    return folder


def ids(result) -> list[str]:
    return [line.split()[0] for line in result.stdout.strip().splitlines()[1:]]


def test_list_columns(cli, runs):
    result = cli("runs", "list", "--runs-dir", runs)
    header, first, *_ = result.stdout.splitlines()
    assert header.split() == ["id", "name", "algorithm", "status", "main", "metric", "duration", "started"]
    assert first.split() == ["20260101-100000-km-aaaaaa", "km", "kmeans", "completed", "ari=0.5000", "1.5s", "2026-01-01T10:00:00.000Z"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--sort", "ari"], ["aaaaaa", "cccccc", "bbbbbb", "dddddd"]),
        (["--sort", "-ari"], ["bbbbbb", "cccccc", "aaaaaa", "dddddd"]),
        (["--sort", "ari", "--desc"], ["bbbbbb", "cccccc", "aaaaaa", "dddddd"]),
        (["--sort", "silhouette", "--asc"], ["bbbbbb", "cccccc", "aaaaaa", "dddddd"]),
    ],
)
def test_list_sort_by_metric(cli, runs, options, expected):
    result = cli("runs", "list", "--runs-dir", runs, *options)
    assert result.exit_code == 0, result.output
    assert [run_id[-6:] for run_id in ids(result)] == expected


def test_list_sort_unknown_metric(cli, runs):
    result = cli("runs", "list", "--runs-dir", runs, "--sort", "silhouete")
    assert result.exit_code == 2
    assert "no listed run has the metric 'silhouete'" in result.stderr
    assert "did you mean 'silhouette'?" in result.stderr


def test_list_csv(cli, runs):
    result = cli("runs", "list", "--runs-dir", runs, "--csv", "--status", "completed", "--sort", "-ari")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0
    assert list(rows[0]) == ["id", "name", "algorithm", "status", "main_metric", "main_value", "duration_s", "started", "path"]
    assert [row["main_value"] for row in rows] == ["0.7", "0.6", "0.5"]


def test_list_json_and_csv_exclusive(cli, runs):
    result = cli("runs", "list", "--runs-dir", runs, "--csv", "--json")
    assert result.exit_code == 2


def test_list_three_thousand_runs_fast(cli, tmp_path):
    folder = tmp_path / "many"
    for index in range(3000):
        stamp = f"20260101-{index // 3600:02d}{index // 60 % 60:02d}{index % 60:02d}"
        make_run(folder, f"{stamp}-r{index}-{index:06x}", {"accuracy": index / 3000})
    started = time.perf_counter()
    result = cli("runs", "list", "--runs-dir", folder, "--json", "--sort", "-accuracy")
    elapsed = time.perf_counter() - started
    listed = strict_json(result.stdout)["runs"]
    assert len(listed) == 3000
    assert listed[0]["main_value"] == pytest.approx(2999 / 3000)
    assert elapsed < 2.0, f"listing 3000 runs took {elapsed:.2f} s"


# --- diff -------------------------------------------------------------------------------------


def test_diff_shows_only_changes(cli, runs):
    result = cli("runs", "diff", "20260101-10", "20260101-110000", "--runs-dir", runs, "--json")
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.output
    assert document["config"] == [
        {"key": "model.n_clusters", "a": 3, "b": 4},
        {"key": "preprocess[0].method", "a": "standard", "b": "minmax"},
    ]
    metrics = {entry["key"]: entry for entry in document["metrics"]}
    assert metrics["ari"]["delta"] == pytest.approx(0.2)
    assert metrics["sizes"]["delta"] is None
    assert document["environment"] == []
    assert document["rules"] is None


def test_diff_environment_and_data(cli, tmp_path):
    folder = tmp_path / "runs"
    a = make_run(folder, "20260101-100000-x-aaaaaa", {"rules": 1}, versions={"torch": "2.1"}, git={"commit": "abc", "dirty": False})
    b = make_run(folder, "20260101-110000-x-bbbbbb", {"rules": 1}, versions={"torch": "2.2"}, git={"commit": "abd", "dirty": False})
    (a / "data.json").write_text('{"source": "x.csv", "fingerprint": "sha256:1", "columns": []}', encoding="utf-8")
    (b / "data.json").write_text('{"source": "x.csv", "fingerprint": "sha256:2", "columns": [1]}', encoding="utf-8")
    document = strict_json(cli("runs", "diff", a, b, "--json").stdout)
    assert document["data"] == [{"key": "fingerprint", "a": "sha256:1", "b": "sha256:2"}]
    assert document["environment"] == [
        {"key": "versions.torch", "a": "2.1", "b": "2.2"},
        {"key": "git.commit", "a": "abc", "b": "abd"},
    ]
    assert document["metrics"] == []


def test_diff_rules_added_removed(cli, tmp_path):
    folder = tmp_path / "runs"
    a = make_run(folder, "20260101-100000-r-aaaaaa", {"rules": 3})
    b = make_run(folder, "20260101-110000-r-bbbbbb", {"rules": 4})
    for run, rules in ((a, ["x|y,z", "x,y", "q,r"]), (b, ["y|x,z", "x,y", "n1,m", "n2,m", "n3,m"])):
        (run / "artifacts").mkdir()
        (run / "artifacts" / "rules.csv").write_text(RULES_HEADER + "".join(f"{rule},0.1,0.9\n" for rule in rules), encoding="utf-8")
    document = strict_json(cli("runs", "diff", a, b, "--json", "--limit", "2").stdout)["rules"]
    assert (document["common"], document["added_count"], document["removed_count"]) == (2, 3, 1)
    assert document["added"] == [{"antecedents": ["n1"], "consequents": ["m"]}, {"antecedents": ["n2"], "consequents": ["m"]}]
    assert document["removed"] == [{"antecedents": ["q"], "consequents": ["r"]}]
    text = cli("runs", "diff", a, b, "--limit", "2").stdout
    assert "rules: 3 in a, 5 in b, 2 in both, 3 added, 1 removed" in text
    assert "  + n1 -> m" in text
    assert "... 1 more added" in text


def test_diff_identical_runs(cli, runs):
    result = cli("runs", "diff", "20260101-10", "20260101-10", "--runs-dir", runs)
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines()[-1] == "no differences"


# --- compare ----------------------------------------------------------------------------------


def test_compare_json(cli, runs):
    result = cli("runs", "compare", "20260101-10", "20260101-11", "20260101-12", "--runs-dir", runs, "--json")
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.output
    assert document["metrics"] == ["ari", "silhouette"]
    assert document["config_keys"] == ["seed", "model.n_clusters", "preprocess[0].method"]
    assert [run["config"]["seed"] for run in document["runs"]] == [0, 0, 7]
    assert [run["metrics"]["ari"] for run in document["runs"]] == [0.5, 0.7, 0.6]


def test_compare_csv_and_table(cli, runs):
    rows = list(csv.reader(io.StringIO(cli("runs", "compare", "20260101-10", "20260101-11", "--runs-dir", runs, "--csv").stdout)))
    assert rows[0] == ["id", "ari", "silhouette", "model.n_clusters", "preprocess[0].method"]
    assert rows[1] == ["20260101-100000-km-aaaaaa", "0.5", "0.4", "3", "standard"]
    table = cli("runs", "compare", "20260101-10", "20260101-11", "--runs-dir", runs).stdout.splitlines()
    assert table[0].split() == ["key", "20260101-100000-km-aaaaaa", "20260101-110000-km-bbbbbb"]
    assert table[1].split() == ["ari", "0.5000", "0.7000"]


def test_compare_needs_two_runs(cli, runs):
    result = cli("runs", "compare", "20260101-10", "--runs-dir", runs)
    assert result.exit_code == 2
    assert "at least two runs" in result.stderr


def test_diff_cuts_long_values(cli, tmp_path):
    folder = tmp_path / "runs"
    a = make_run(folder, "20260101-100000-x-aaaaaa", {"importances": {f"feature_{i}": i for i in range(20)}})
    b = make_run(folder, "20260101-110000-x-bbbbbb", {"importances": {f"feature_{i}": -i for i in range(20)}})
    line = next(line for line in cli("runs", "diff", a, b).stdout.splitlines() if line.startswith("importances"))
    assert line.count("...") == 2
    assert len(line) < 120
