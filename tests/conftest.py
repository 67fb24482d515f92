"""Fixtures: config files in tmp_path, in-process CLI calls, isolation of process state."""

from __future__ import annotations

import logging
import signal
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from helpers import CliResult


@pytest.fixture(autouse=True)
def _isolated_process_state(monkeypatch, tmp_path):
    """Keep runs out of the repository and undo the global state a CLI call leaves behind.

    The CLI installs SIGINT and SIGTERM handlers and a console log handler bound to the stream
    of the call. They would otherwise outlive the test.
    """
    monkeypatch.setenv("DMRUN_RUNS_DIR", str(tmp_path / "default-runs"))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables are not cut to 80 columns
    monkeypatch.delenv("CI", raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    logger = logging.getLogger("dmrun")
    for handler in list(logger.handlers):
        if handler.get_name() == "dmrun-console" or isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)
    logger.propagate = True


@pytest.fixture
def write_config(tmp_path) -> Callable[..., Path]:
    """Write a dedented YAML config into tmp_path and return its path."""

    def write(text: str, name: str = "experiment.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Invoke the dmrun app in-process with typer's CliRunner (stdout and stderr kept apart)."""
    from typer.testing import CliRunner

    from dmrun.cli import app

    def invoke(*args: str | Path) -> CliResult:
        result = CliRunner().invoke(app, [str(arg) for arg in args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke
