"""The command line, in-process with CliRunner and as a real ``python -m dmrun`` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import dmrun
from dmrun.data.builtin import BUILTIN_DATASETS
from dmrun.preprocess import STEPS
from dmrun.trainers import TRAINERS
from helpers import EXAMPLE_CONFIGS, CliResult, read_json, run_dmrun, run_folder_from_stdout, run_folders

SMALL_CONFIG = """
name: cli-small
dataset: {name: iris}
model: {type: mlp, hidden_sizes: [8]}
train: {epochs: 2}
"""
BROKEN_CONFIG = "name: broken\ndataset: {name: iris}\nmodel: {type: mlp, hidden_sise: [8]}\n"


@pytest.fixture(params=["in-process", "subprocess"])
def dmrun_cli(request, cli, tmp_path):
    """Call dmrun either through CliRunner or as ``python -m dmrun`` in tmp_path."""
    if request.param == "in-process":
        return cli
    return lambda *args: run_dmrun(*args, cwd=tmp_path)


def listed_commands(help_text: str) -> list[str]:
    """Return the command names of the ``Commands:`` section of a help text."""
    section = help_text.split("Commands:", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def test_help_lists_commands(dmrun_cli):
    result = dmrun_cli("--help")
    assert result.exit_code == 0
    assert listed_commands(result.stdout) == [
        "train", "validate", "list", "predict", "schema", "gate", "sweep", "reproduce", "report", "mine", "runs",
    ]


def test_runs_help_lists_subcommands(cli):
    result = cli("runs", "--help")
    assert result.exit_code == 0
    assert listed_commands(result.stdout) == ["list", "show", "diff", "compare"]


def test_mine_help_lists_subcommands(cli):
    result = cli("mine", "--help")
    assert result.exit_code == 0
    assert listed_commands(result.stdout) == ["rules", "itemsets"]


def test_version_prints_version(dmrun_cli):
    result = dmrun_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"dmrun {dmrun.__version__}"


def test_list_names_every_entry(dmrun_cli):
    result = dmrun_cli("list")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    for name in [*TRAINERS, *BUILTIN_DATASETS, *STEPS]:
        matching = [line for line in lines if line.split()[:1] == [name]]
        assert len(matching) == 1, f"{name}: {matching}"


def test_list_has_one_line_each(dmrun_cli):
    result = dmrun_cli("list")
    entries = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(entries) == len(TRAINERS) + len(BUILTIN_DATASETS) + len(STEPS)


def test_validate_accepts_examples(dmrun_cli):
    result = dmrun_cli("validate", *EXAMPLE_CONFIGS)
    assert result.exit_code == 0, result.output
    assert [line.startswith("ok: ") for line in result.stdout.splitlines()] == [True] * len(EXAMPLE_CONFIGS)


def test_validate_rejects_broken(dmrun_cli, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_CONFIG, encoding="utf-8")
    result = dmrun_cli("validate", EXAMPLE_CONFIGS[0], broken)
    assert result.exit_code == 2
    assert "hidden_sise" in result.stderr
    assert f"ok: {EXAMPLE_CONFIGS[0]}" in result.stdout
    assert "Traceback" not in result.output


@pytest.fixture(scope="module", params=["in-process", "subprocess"])
def small_training(request, tmp_path_factory):
    """Train SMALL_CONFIG once per way of calling dmrun and return the result and the runs folder."""
    folder = tmp_path_factory.mktemp(f"train-{request.param}")
    config = folder / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    args = ["train", str(config), "--runs-dir", str(folder / "runs")]
    if request.param == "subprocess":
        return run_dmrun(*args, cwd=folder), folder / "runs"
    from typer.testing import CliRunner

    from dmrun.cli import app

    outcome = CliRunner().invoke(app, args)
    return CliResult(outcome.exit_code, outcome.stdout, outcome.stderr), folder / "runs"


def test_train_prints_run_folder(small_training):
    result, runs_dir = small_training
    assert result.exit_code == 0, result.output
    folder = run_folder_from_stdout(result.stdout)
    assert run_folders(runs_dir) == [folder]
    assert read_json(folder / "run.json")["status"] == "completed"


def test_progress_goes_to_stderr(small_training):
    result, _ = small_training
    assert "epoch 1/2" in result.stderr
    assert "epoch 1/2" not in result.stdout
    assert "loading data" in result.stderr
    assert "loading data" not in result.stdout
    assert "accuracy" in result.stdout


def test_quiet_hides_progress(cli, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0
    assert "epoch" not in result.stderr


def test_runs_dir_from_environment(cli, tmp_path, monkeypatch):
    config = tmp_path / "tree.yaml"
    config.write_text("name: env-runs\ndataset: {name: iris}\nmodel: {type: tree}\n", encoding="utf-8")
    monkeypatch.setenv("DMRUN_RUNS_DIR", str(tmp_path / "from-env"))
    result = cli("train", config, "--quiet")
    assert result.exit_code == 0, result.output
    assert len(run_folders(tmp_path / "from-env")) == 1


def test_mine_rules_on_builtin(dmrun_cli, tmp_path):
    result = dmrun_cli("mine", "rules", "--support", "0.1", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "antecedents" in result.stdout
    assert "consequents" in result.stdout
    assert "top 10" in result.stdout
    folder = run_folder_from_stdout(result.stdout)
    assert read_json(folder / "metrics.json")["rules"] > 0


def test_config_error_has_no_traceback(dmrun_cli, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_CONFIG, encoding="utf-8")
    result = dmrun_cli("train", broken, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_unknown_command_is_usage_error(cli):
    result = cli("fit", "x.yaml")
    assert result.exit_code == 2


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "sigint"])
def test_signal_marks_run_interrupted(tmp_path, signum, code):
    config = tmp_path / "long.yaml"
    config.write_text(
        "name: long\ndataset: {name: digits}\nmodel: {type: mlp, hidden_sizes: [32]}\ntrain: {epochs: 1000}\n",
        encoding="utf-8",
    )
    runs_dir = tmp_path / "runs"

    # Start a long training run and signal it once an epoch is in its log.
    process = subprocess.Popen(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", str(runs_dir)],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not any("epoch" in path.read_text(encoding="utf-8") for path in runs_dir.glob("*/log.txt")):
            assert process.poll() is None, "training ended before the signal"
            assert time.monotonic() < deadline, "no epoch was logged within 90 s"
            time.sleep(0.2)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    (folder,) = run_folders(runs_dir)
    record = read_json(folder / "run.json")
    assert process.returncode == code
    assert "interrupted" in stderr
    assert record["status"] == "interrupted"
    assert record["exit_code"] == code
    assert record["last_completed_epoch"] >= 1
    history = (folder / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(history) == record["last_completed_epoch"] + 1
    assert not (folder / "metrics.json").exists()
