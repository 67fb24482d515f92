"""Run folder files under faults: full disks, file-size limits, later runs and hostile names."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dmrun.names import MAX_NAME_LENGTH, name_problem, safe_name
from dmrun.rundir import RunDir
from helpers import read_json, run_folders, strict_json, subprocess_env

KMEANS = "name: km\nseed: 0\ndataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3, n_init: 1}\n"
FILE_SIZE_LIMIT = 16_384


def assert_folder_intact(folder: Path) -> None:
    """Every JSON file parses, and no temporary file is left."""
    for path in folder.rglob("*.json"):
        strict_json(path.read_text(encoding="utf-8"))
    assert not [path.name for path in folder.rglob("*.tmp")]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.rglob("*") if path.is_file()}


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_file_size_limit_fails_cleanly(write_config, tmp_path):
    config = write_config(
        "name: big\ndataset: {name: digits}\nmodel: {type: mlp, hidden_sizes: [64]}\ntrain: {epochs: 3}\n"
    )
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=_limit_file_size,
    )
    (folder,) = run_folders(tmp_path / "runs")
    record = read_json(folder / "run.json")
    assert completed.returncode == 1, completed.stderr
    assert "the file-size limit was hit" in completed.stderr
    assert "last.pt" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert record["status"] == "failed"
    assert "file-size limit" in record["error"]["message"]
    assert_folder_intact(folder)
    assert read_json(folder / "data.json")["rows"] == 1797


def test_disk_full_names_file(cli, write_config, tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        # The disk fills up while metrics.json is written; every earlier file fits.
        if ".metrics.json." in os.readlink(f"/proc/self/fd/{descriptor}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    result = cli("train", write_config(KMEANS), "--runs-dir", tmp_path / "runs", "-q")
    (folder,) = run_folders(tmp_path / "runs")
    assert result.exit_code == 1
    assert "the disk is full" in result.stderr
    assert "metrics.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_json(folder / "run.json")["status"] == "failed"
    assert not (folder / "metrics.json").exists()
    assert_folder_intact(folder)


def test_failed_write_keeps_old_content(tmp_path, monkeypatch):
    from dmrun.errors import RunDirError
    from dmrun.rundir import write_atomic

    target = tmp_path / "record.json"
    write_atomic(target, '{"old": true}\n')
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError(errno.EFBIG, "File too large")))
    with pytest.raises(RunDirError, match="file-size limit was hit"):
        write_atomic(target, '{"new": true}\n')
    assert target.read_text(encoding="utf-8") == '{"old": true}\n'
    assert [path.name for path in tmp_path.iterdir()] == ["record.json"]


def test_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    from dmrun.rundir import write_atomic

    monkeypatch.setattr(os, "fsync", lambda descriptor: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "history.csv", "epoch\n1\n")
    assert list(tmp_path.iterdir()) == []


# --- later runs never touch a finished one -----------------------------------------------------------


def test_finished_run_never_modified(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    config = write_config(KMEANS)
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    (first,) = run_folders(runs)
    before = snapshot(first)

    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    assert cli("train", config, "--runs-dir", runs, "-q", "--set", "model.n_clusters=500").exit_code == 3
    assert cli("runs", "list", "--runs-dir", runs).exit_code == 0
    assert cli("runs", "show", first.name, "--runs-dir", runs).exit_code == 0
    assert cli("train", "--resume", first, "--runs-dir", runs).exit_code == 2

    assert len(run_folders(runs)) == 3
    assert snapshot(first) == before


def test_fixed_name_refused_twice(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    config = write_config(KMEANS)
    assert cli("train", config, "--runs-dir", runs, "--run-name", "fixed", "-q").exit_code == 0
    before = snapshot(runs / "fixed")

    result = cli("train", config, "--runs-dir", runs, "--run-name", "fixed", "-q")

    assert result.exit_code == 2
    assert f"run folder {runs / 'fixed'} already exists" in result.stderr
    assert "use --overwrite" in result.stderr
    assert "--resume" in result.stderr
    assert snapshot(runs / "fixed") == before


def test_overwrite_leaves_no_stale_files(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    (tmp_path / "b.csv").write_text("a,b\na,c\nb,c\na,b,c\n", encoding="utf-8")
    rules = write_config("dataset: {path: b.csv}\nmodel: {type: rules, min_support: 0.5}\n", "rules.yaml")
    assert cli("train", rules, "--runs-dir", runs, "--run-name", "fixed", "-q").exit_code == 0
    assert (runs / "fixed" / "artifacts" / "rules.csv").is_file()

    result = cli("train", write_config(KMEANS), "--runs-dir", runs, "--run-name", "fixed", "--overwrite", "-q")

    assert result.exit_code == 0, result.output
    assert run_folders(runs) == [runs / "fixed"]
    assert not (runs / "fixed" / "artifacts" / "rules.csv").exists()
    assert read_json(runs / "fixed" / "run.json")["algorithm"] == "kmeans"
    assert not [path for path in runs.iterdir() if path.name.startswith(".")]


def test_overwrite_spares_running_run(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    config = write_config(KMEANS)
    assert cli("train", config, "--runs-dir", runs, "--run-name", "busy", "-q").exit_code == 0
    holder = RunDir.reopen(runs / "busy")
    try:
        result = cli("train", config, "--runs-dir", runs, "--run-name", "busy", "--overwrite", "-q")
    finally:
        holder.unlock()
    assert result.exit_code == 2
    assert "in use by another dmrun process" in result.stderr
    assert read_json(runs / "busy" / "run.json")["status"] == "completed"


def test_overwrite_spares_other_folders(cli, write_config, tmp_path):
    runs = tmp_path / "runs"
    (runs / "notes").mkdir(parents=True)
    (runs / "notes" / "todo.txt").write_text("keep me\n", encoding="utf-8")
    result = cli("train", write_config(KMEANS), "--runs-dir", runs, "--run-name", "notes", "--overwrite", "-q")
    assert result.exit_code == 2
    assert "is not a run folder" in result.stderr
    assert (runs / "notes" / "todo.txt").read_text(encoding="utf-8") == "keep me\n"


def test_overwrite_needs_run_name(cli, write_config, tmp_path):
    result = cli("train", write_config(KMEANS), "--runs-dir", tmp_path / "runs", "--overwrite")
    assert result.exit_code == 2
    assert "--overwrite applies only with --run-name" in result.stderr


# --- run names ---------------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "parent": ("../escape", "path separator"),
    "slash": ("a/b", "path separator"),
    "backslash": ("a\\b", "path separator"),
    "dots": ("..", "'..'"),
    "inner-dots": ("a..b", "'..'"),
    "hidden": (".hidden", "a run name uses"),
    "escape-code": ("red\x1b[31m", "control character"),
    "newline": ("a\nb", "control character"),
    "too-long": ("x" * (MAX_NAME_LENGTH + 1), "the limit is 64"),
    "empty": ("", "it is empty"),
    "space": ("my run", "a run name uses"),
    "absolute": ("/etc", "path separator"),
}


@pytest.mark.parametrize("name, reason", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_run_name_rejected(cli, write_config, tmp_path, name, reason):
    runs = tmp_path / "runs"
    result = cli("train", write_config(KMEANS), "--runs-dir", runs, "--run-name", name)
    assert result.exit_code == 2
    assert "invalid value for --run-name" in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr
    assert not runs.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["experiment.yaml"]


@pytest.mark.parametrize("name, reason", [("a..b", "'..'"), ("x" * 65, "at most 64"), ("../up", "letters, digits")])
def test_hostile_config_name_rejected(cli, write_config, tmp_path, name, reason):
    config = write_config(f"name: {name!r}\ndataset: {{name: iris}}\nmodel: {{type: kmeans}}\n".replace("'", '"'))
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "name" in result.stderr
    assert reason in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "text, expected",
    [("../../etc/passwd", "etc-passwd"), ("a\x00b", "a-b"), ("..", "experiment"), ("x" * 100, "x" * 64), ("rés umé", "r-s-um")],
)
def test_safe_name_cleans(text, expected):
    assert safe_name(text) == expected
    assert name_problem(safe_name(text)) is None


def test_run_dir_sanitises_name(tmp_path):
    run = RunDir.create(tmp_path / "runs", "../../outside", seed=0)
    run.unlock()
    assert run.path.parent == tmp_path / "runs"
    assert "-outside-" in run.path.name
