"""``dmrun gate``: rule grammar, verdicts, exit codes and the JUnit and Markdown reports."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from dmrun.errors import ConfigError
from dmrun.gate import parse_rule
from helpers import make_run, strict_json

RUN = "20260101-120000-net-aaaaaa"
BASE = "20260101-110000-net-bbbbbb"


@pytest.fixture
def runs(tmp_path):
    folder = tmp_path / "runs"
    make_run(folder, BASE, {"accuracy": 0.90, "loss": 0.30, "r2": -2.0})
    make_run(folder, RUN, {"accuracy": 0.895, "loss": 0.25, "r2": -2.01, "f1_macro": None})
    return folder


@pytest.mark.parametrize(
    ("text", "baseline", "threshold"),
    [
        ("accuracy >= 0.9", None, 0.9),
        ("accuracy>=baseline", 0.8, 0.8),
        ("accuracy >= baseline - 0.01", 0.8, 0.79),
        ("rmse <= baseline + 2", 10.0, 12.0),
        ("rmse <= baseline * 1.05", 10.0, 10.5),
        ("accuracy >= baseline - 10%", 0.8, 0.72),
        ("r2 >= baseline - 10%", -2.0, -2.2),
        ("mae < baseline + 1e-3", 1.0, 1.001),
    ],
)
def test_rule_thresholds(text, baseline, threshold):
    assert parse_rule(text).threshold(baseline) == pytest.approx(threshold)


@pytest.mark.parametrize(
    "text", ["accuracy", "accuracy => 0.9", "accuracy >= baseline ** 2", "accuracy >= __import__('os')", "x >= baseline * 5%"]
)
def test_rule_grammar_rejects(text):
    with pytest.raises(ConfigError) as caught:
        parse_rule(text)
    assert f"invalid --rule '{text}'" in caught.value.message


def test_gate_passes(cli, runs):
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", BASE, "--rule", "accuracy >= baseline - 0.01")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()
    assert header.split() == ["rule", "value", "baseline", "threshold", "result"]
    assert row.split()[-4:] == ["0.895", "0.9", "0.89", "pass"]
    assert "gate passed" in result.stderr


def test_gate_failure_exits_four(cli, runs):
    result = cli("gate", "latest", "--runs-dir", runs, "--baseline", BASE, "--rule", "accuracy >= baseline", "--rule", "loss <= 0.3")
    assert result.exit_code == 4
    lines = result.stdout.strip().splitlines()
    assert lines[1].endswith("FAIL")
    assert lines[2].endswith("pass")
    assert "1 of 2 rules did not hold" in result.stderr


def test_gate_json_document(cli, runs):
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", BASE, "--rule", "loss <= baseline * 0.9", "--json")
    document = strict_json(result.stdout)
    assert result.exit_code == 0
    assert document["passed"] is True
    assert document["exit_code"] == 0
    assert document["run"]["kind"] == "run"
    assert document["baseline"]["path"].endswith(BASE)
    verdict = document["rules"][0]
    assert verdict["rule"] == "loss <= baseline * 0.9"
    assert verdict["value"] == 0.25
    assert verdict["baseline"] == 0.30
    assert verdict["threshold"] == pytest.approx(0.27)


def test_gate_null_metric_fails(cli, runs):
    result = cli("gate", RUN, "--runs-dir", runs, "--rule", "f1_macro >= 0", "--json")
    assert result.exit_code == 4
    assert strict_json(result.stdout)["rules"][0]["value"] is None


def test_gate_unknown_metric_suggests(cli, runs):
    result = cli("gate", RUN, "--runs-dir", runs, "--rule", "acuracy >= 0.5")
    assert result.exit_code == 2
    assert f"run {RUN} has no metric 'acuracy'" in result.stderr
    assert "did you mean 'accuracy'? metrics: accuracy, loss, r2" in result.stderr


def test_gate_metric_missing_from_baseline(cli, runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"accuracy": 0.9}), encoding="utf-8")
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", baseline, "--rule", "loss <= 1")
    assert result.exit_code == 2
    assert f"baseline {baseline} has no metric 'loss'" in result.stderr
    assert "metrics: accuracy" in result.stderr


def test_gate_baseline_needs_option(cli, runs):
    result = cli("gate", RUN, "--runs-dir", runs, "--rule", "loss <= baseline")
    assert result.exit_code == 2
    assert "no --baseline was given" in result.stderr


def test_gate_baseline_file_forms(cli, runs, tmp_path):
    train_output = tmp_path / "train.json"
    train_output.write_text(json.dumps({"status": "completed", "metrics": {"accuracy": 0.99}}), encoding="utf-8")
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", train_output, "--rule", "accuracy >= baseline")
    assert result.exit_code == 4
    assert "0.99" in result.stdout


@pytest.mark.parametrize(
    ("content", "exit_code", "message"),
    [
        (None, 2, "--baseline file not found"),
        ("{broken", 3, "is not valid JSON"),
        ("[1, 2]", 3, "holds no metrics"),
    ],
)
def test_gate_bad_baseline_file(cli, runs, tmp_path, content, exit_code, message):
    baseline = tmp_path / "baseline.json"
    if content is not None:
        baseline.write_text(content, encoding="utf-8")
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", baseline, "--rule", "accuracy >= baseline")
    assert result.exit_code == exit_code
    assert message in result.stderr


def test_gate_rejects_run_without_metrics(cli, runs):
    make_run(runs, "20260101-130000-bad-cccccc", None, status="failed")
    result = cli("gate", "latest", "--runs-dir", runs, "--rule", "accuracy >= 0")
    assert result.exit_code == 2
    assert "has no metrics.json (status failed)" in result.stderr


def test_gate_junit_report(cli, runs, tmp_path):
    report = tmp_path / "gate.xml"
    result = cli(
        "gate", RUN, "--runs-dir", runs, "--baseline", BASE, "--junit", report,
        "--rule", "accuracy >= baseline", "--rule", "loss < baseline", "--rule", "r2 >= baseline - 1%",
    )
    assert result.exit_code == 4
    suite = ElementTree.parse(report).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    assert [case.get("name") for case in cases] == ["accuracy >= baseline", "loss < baseline", "r2 >= baseline - 1%"]
    assert [case.find("failure") is not None for case in cases] == [True, False, False]
    assert "accuracy = 0.895, expected >= 0.9" in cases[0].find("failure").get("message")


def test_gate_markdown_and_step_summary(cli, runs, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = tmp_path / "gate.md"
    result = cli("gate", RUN, "--runs-dir", runs, "--baseline", BASE, "--markdown", report, "--rule", "loss < baseline")
    assert result.exit_code == 0
    text = report.read_text(encoding="utf-8")
    assert text.startswith("### dmrun gate: passed")
    assert "| `loss < baseline` | 0.25 | 0.3 | 0.3 | pass |" in text
    appended = summary.read_text(encoding="utf-8")
    assert appended.startswith("earlier step\n### dmrun gate: passed")


def test_gate_report_folder_checked_first(cli, runs, tmp_path):
    result = cli("gate", RUN, "--runs-dir", runs, "--junit", tmp_path / "missing" / "gate.xml", "--rule", "loss < 1")
    assert result.exit_code == 2
    assert "--junit folder does not exist" in result.stderr


@pytest.mark.parametrize(
    ("run_data", "warned"),
    [
        ({"source": "iris", "fingerprint": "f" * 64, "rows": 150}, False),
        ({"source": "iris", "fingerprint": "0" * 64, "rows": 150}, True),
        ({"source": "wine", "rows": 178}, True),
    ],
)
def test_gate_warns_on_different_data(cli, runs, run_data, warned):
    (runs / BASE / "data.json").write_text(json.dumps({"source": "iris", "fingerprint": "f" * 64, "rows": 150}))
    (runs / RUN / "data.json").write_text(json.dumps(run_data))
    result = cli("gate", RUN, "--rule", "accuracy >= baseline - 0.01", "--baseline", BASE, "--runs-dir", runs, "--json")
    document = strict_json(result.stdout)
    assert result.exit_code == 0
    assert ("saw different data" in result.stderr) is warned
    assert bool(document["warnings"]) is warned
