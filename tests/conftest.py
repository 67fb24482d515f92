"""Fixtures: config files in tmp_path, in-process CLI calls, isolation of process state."""

from __future__ import annotations

import logging
import signal
import sys
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
    """Run the ``dmrun`` entry point in-process, as the script does, with stdout and stderr kept apart."""
    from typer.testing import CliRunner

    from dmrun.cli import main

    def invoke(*args: str | Path) -> CliResult:
        saved_argv = sys.argv
        sys.argv = ["dmrun", *(str(arg) for arg in args)]
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code
                if code is None:
                    code = 0
                elif not isinstance(code, int):
                    code = 1
            finally:
                sys.argv = saved_argv
            return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    return invoke
