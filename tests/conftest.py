"""Shared helpers: config files in tmp_path, in-process and subprocess CLI calls, run folders."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS_DIR = REPO_ROOT / "configs"
EXAMPLE_CONFIGS = sorted(CONFIGS_DIR.glob("*.yaml"))
RUN_FOLDER_NAME = r"\d{8}-\d{6}-{name}-[0-9a-f]{6}"


@dataclass
class CliResult:
    """What one dmrun invocation returned; ``output`` is stdout and stderr together."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def strict_json(text: str):
    """Parse strict JSON: the NaN, Infinity and -Infinity tokens Python accepts are errors."""

    def reject(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def read_json(path: Path):
    return strict_json(path.read_text(encoding="utf-8"))


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders under ``runs_dir``, oldest name first."""
    if not runs_dir.exists():
        return []
    return sorted(path for path in runs_dir.iterdir() if path.is_dir())


def only_run_folder(runs_dir: Path) -> Path:
    folders = run_folders(runs_dir)
    assert len(folders) == 1, f"expected one run folder in {runs_dir}, found {folders}"
    return folders[0]


def run_folder_from_stdout(stdout: str) -> Path:
    """The folder named on the ``run folder: PATH`` line that train and mine print last."""
    match = re.search(r"^run folder: (.+)$", stdout, flags=re.MULTILINE)
    assert match, f"no 'run folder:' line in stdout:\n{stdout}"
    return Path(match.group(1).strip())


@pytest.fixture(autouse=True)
def _isolated_process_state(monkeypatch, tmp_path):
    """Keep runs out of the repository and undo the global state a CLI call leaves behind.

    The CLI installs a SIGTERM handler and a console log handler bound to the stream of the
    call; both would otherwise outlive the test.
    """
    monkeypatch.setenv("DMRUN_RUNS_DIR", str(tmp_path / "default-runs"))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables are not cut to 80 columns
    monkeypatch.delenv("CI", raising=False)
    sigterm = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, sigterm)
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


def run_dmrun(*args: str | Path, cwd: Path, timeout: float = 120) -> CliResult:
    """Run ``python -m dmrun`` as a separate process."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def train_config(config_path: Path, runs_dir: Path):
    """Load a config and run it in-process; return the ``RunOutcome``."""
    from dmrun.config.loading import load_config
    from dmrun.runner import run_experiment

    return run_experiment(load_config(config_path), runs_dir)
