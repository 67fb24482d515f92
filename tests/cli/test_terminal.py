"""Colour and progress bars: only on a terminal, and no colour when NO_COLOR is set."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT

CONFIG = "name: tty\ndataset: {name: iris}\nmodel: {type: mlp, hidden_sizes: [4]}\ntrain: {epochs: 2}\n"
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
CURSOR = re.compile(r"\x1b\[\?25[lh]")  # hide or show the cursor, as a progress bar does


def run_on_terminal(tmp_path, *args: str, **env: str) -> str:
    """Run dmrun with stdout and stderr on a pseudo-terminal and return what it wrote."""
    leader, follower = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm-256color", "COLUMNS": "120", **env}
    environment.pop("CI", None)
    for name in [key for key, value in env.items() if value is None]:
        environment.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dmrun", *args], cwd=tmp_path, stdout=follower, stderr=follower, env=environment
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tty.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_terminal_gets_colour_and_bar(tmp_path, config):
    text = run_on_terminal(tmp_path, "train", str(config), "--runs-dir", "runs", NO_COLOR=None)
    assert COLOUR.search(text)
    assert CURSOR.search(text)


def test_no_color_on_terminal(tmp_path):
    (tmp_path / "bad.yaml").write_text("dataset: {name: iris}\nmodel: {type: kmeans, k: 2}\n", encoding="utf-8")
    coloured = run_on_terminal(tmp_path, "validate", "bad.yaml", NO_COLOR=None)
    plain = run_on_terminal(tmp_path, "validate", "bad.yaml", NO_COLOR="1")
    assert COLOUR.search(coloured)
    assert "error:" in plain
    assert not COLOUR.search(plain)


def test_pipe_gets_plain_lines(tmp_path, config):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("NO_COLOR", None)
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", "runs"],
        cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "\x1b[" not in completed.stdout + completed.stderr
    assert "epoch 2/2" in completed.stderr


def test_quiet_keeps_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("dataset: {name: iris}\nmodel: {type: kmeans, k: 2}\n", encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", "train", "bad.yaml", "--quiet"], cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=60
    )
    assert completed.returncode == 2
    assert "unknown key 'k'" in completed.stderr


def test_closed_pipe_exits_141(tmp_path):
    from helpers import make_run

    for index in range(1500):  # about 150 kB of listing, more than a pipe buffers
        make_run(tmp_path / "runs", f"20260101-10{index // 60:04d}-r{index}-{index:06x}", {"ari": 0.5})
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dmrun", "runs", "list", "--runs-dir", "runs"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )
    process.stdout.readline()
    process.stdout.close()  # the reader goes away, as `head -1` does
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr
