"""Secret-looking values never reach run.json, log.txt or error output; tracebacks show no locals."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from dmrun.redact import redact_argv, redact_secrets
from dmrun.rundir import RunDir
from dmrun.runner import RunLogHandler
from helpers import read_json, run_folders

SECRET = "hunter2-DUMMY"
KMEANS = "name: km\ndataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3, n_init: 1}\n"


@pytest.mark.parametrize(
    "text",
    [
        f"api_token={SECRET}",
        f"password: {SECRET}",
        f'"apiKey": "{SECRET}"',
        f"dataset.api-key={SECRET}",
        f"{{db_password: {SECRET}, rows: 3}}",
        f"client_secret='{SECRET}'",
        f"aws_credentials={SECRET}",
        f"api key: {SECRET}",
        f'{{"token":"{SECRET}"}}',
    ],
)
def test_secret_values_redacted(text):
    redacted = redact_secrets(text)
    assert SECRET not in redacted
    assert "***" in redacted


def test_plain_values_kept():
    assert redact_secrets("train.epochs=5 model.n_clusters: 3") == "train.epochs=5 model.n_clusters: 3"


def test_config_paths_in_messages_kept():
    message = "c.yaml:5:3: model.password: unknown key 'password'"
    assert redact_secrets(message) == message


def test_argv_redacted():
    argv = ["dmrun", "train", "c.yaml", "--set", f"dataset.api_token={SECRET}", "--api-key", SECRET, f"--password={SECRET}"]
    redacted = redact_argv(argv)
    assert SECRET not in " ".join(redacted)
    assert redacted[:4] == argv[:4]
    assert redacted[5] == "--api-key"


def test_run_record_argv_redacted(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["dmrun", "train", "c.yaml", "--set", f"dataset.api_token={SECRET}"])
    run = RunDir.create(tmp_path, "secretive", 0)
    run.unlock()
    text = (run.path / "run.json").read_text(encoding="utf-8")
    assert SECRET not in text
    assert "dataset.api_token=***" in text


def test_run_log_redacted(tmp_path):
    handler = RunLogHandler(tmp_path / "log.txt")
    logger = logging.getLogger("dmrun.test-secrets")
    logger.addHandler(handler)
    try:
        logger.warning("connecting with password=%s", SECRET)
    finally:
        logger.removeHandler(handler)
        handler.close()
    log = (tmp_path / "log.txt").read_text(encoding="utf-8")
    assert SECRET not in log
    assert "password=***" in log


def test_set_secret_not_echoed(cli, write_config, tmp_path):
    config = write_config(KMEANS)
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--set", f"dataset.api_token={SECRET}", "--json")
    assert result.exit_code == 2
    assert SECRET not in result.stdout + result.stderr
    assert "api_token" in result.stderr
    assert json.loads(result.stdout)["status"] == "failed"


def test_failed_run_error_redacted(cli, write_config, tmp_path, monkeypatch):
    """An error message that quotes a secret is redacted on stderr, in --json, run.json and log.txt."""
    import dmrun.trainers.kmeans as kmeans
    from dmrun.errors import TrainerError

    def fail(config, data, context):
        raise TrainerError(f"upstream refused token={SECRET}")

    monkeypatch.setattr(kmeans, "fit", fail)
    result = cli("train", write_config(KMEANS), "--runs-dir", tmp_path / "runs", "--json")
    (folder,) = run_folders(tmp_path / "runs")
    assert result.exit_code == 1
    assert SECRET not in result.stdout + result.stderr
    assert SECRET not in (folder / "run.json").read_text(encoding="utf-8")
    assert SECRET not in (folder / "log.txt").read_text(encoding="utf-8")
    assert read_json(folder / "run.json")["error"]["message"] == "upstream refused token=***"


def test_verbose_traceback_has_no_locals(cli, write_config, tmp_path, monkeypatch):
    import dmrun.trainers.kmeans as kmeans

    def crash(config, data, context):
        local_password = SECRET  # noqa: F841 - a local variable a traceback with locals would show
        raise RuntimeError("boom")

    monkeypatch.setattr(kmeans, "fit", crash)
    result = cli("--verbose", "train", write_config(KMEANS), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    assert SECRET not in result.stderr


def test_typer_pretty_tracebacks_off():
    from dmrun.cli import app

    assert app.pretty_exceptions_enable is False
    assert app.pretty_exceptions_show_locals is False
