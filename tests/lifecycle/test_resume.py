"""dmrun train --resume: an interrupted torch run continues in its folder to the same metrics."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dmrun.config.loading import load_config
from dmrun.errors import RunInterrupted
from dmrun.rundir import RunDir
from dmrun.runner import CHECKPOINT_FILE, run_experiment
from dmrun.trainers.base import SilentReporter
from helpers import read_json, run_folders, subprocess_env

NETWORKS = {
    "mlp": ("iris", "model: {type: mlp, hidden_sizes: [16], dropout: 0.2}"),
    "cnn": ("digits", "model: {type: cnn, channels: [2], hidden_size: 8}"),
    "rnn": ("iris", "model: {type: rnn, cell: gru, hidden_size: 8, sequence_shape: [4, 1]}"),
}


def network_config(write_config, kind: str, epochs: int = 4, extra: str = "") -> Path:
    dataset, model = NETWORKS[kind]
    text = (
        f"name: resume-{kind}\nseed: 5\ndataset: {{name: {dataset}}}\npreprocess: [{{step: scale}}]\n"
        f"{model}\ntrain: {{epochs: {epochs}, batch_size: {128 if kind == 'cnn' else 32}{extra}}}\n"
    )
    return write_config(text, f"{kind}.yaml")


class InterruptAfter(SilentReporter):
    """Stop a run as a SIGTERM would, right after the given epoch is reported."""

    def __init__(self, epoch: int) -> None:
        self.stop_epoch = epoch

    def epoch(self, epoch: int, epochs: int, values: dict[str, float]) -> None:
        if epoch == self.stop_epoch:
            raise RunInterrupted(143)


def interrupted_run(config: Path, runs: Path, epoch: int) -> Path:
    with pytest.raises(RunInterrupted):
        run_experiment(load_config(config), runs, InterruptAfter(epoch))
    (folder,) = run_folders(runs)
    return folder


def history_without_times(folder: Path) -> list[dict[str, str]]:
    with open(folder / "history.csv", newline="", encoding="utf-8") as stream:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(stream)]


@pytest.mark.parametrize("kind", sorted(NETWORKS))
def test_resumed_metrics_byte_identical(cli, write_config, tmp_path, kind):
    extra = ", early_stopping: {patience: 10}" if kind == "mlp" else ""
    config = network_config(write_config, kind, extra=extra)
    full = run_experiment(load_config(config), tmp_path / "full").run.path
    folder = interrupted_run(config, tmp_path / "runs", epoch=2)
    assert read_json(folder / "run.json")["status"] == "interrupted"
    assert (folder / CHECKPOINT_FILE).is_file()

    result = cli("train", "--resume", folder, "-q")

    assert result.exit_code == 0, result.output
    assert (folder / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
    assert history_without_times(folder) == history_without_times(full)


def test_resume_recorded_in_run_json(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=3)
    assert cli("train", "--resume", folder.name, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0
    record = read_json(folder / "run.json")
    assert record["status"] == "completed"
    assert record["exit_code"] == 0
    assert [entry["from_epoch"] for entry in record["resumed"]] == [3]
    assert record["resumed"][0]["at"].endswith("Z")
    assert "last_completed_epoch" not in record
    assert record["error"] is None


def test_completed_run_drops_checkpoint(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    assert cli("train", "--resume", folder, "-q").exit_code == 0
    assert not (folder / "checkpoint").exists()
    assert (folder / "model" / "weights.pt").is_file()


def test_checkpoint_loads_without_pickle(write_config, tmp_path):
    import torch

    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=2)
    state = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    assert state["epoch"] == 2
    assert len(state["history"]) == 2
    assert {"python", "numpy", "torch", "batch_order"} <= set(state["random"])


def test_resume_twice_appends(cli, write_config, tmp_path):
    config = network_config(write_config, "mlp", epochs=5)
    full = run_experiment(load_config(config), tmp_path / "full").run.path
    folder = interrupted_run(config, tmp_path / "runs", epoch=1)
    from dmrun.resume import resume_experiment

    with pytest.raises(RunInterrupted):
        resume_experiment(folder, reporter=InterruptAfter(3))
    assert read_json(folder / "run.json")["last_completed_epoch"] == 3
    assert cli("train", "--resume", folder, "-q").exit_code == 0
    assert [entry["from_epoch"] for entry in read_json(folder / "run.json")["resumed"]] == [1, 3]
    assert (folder / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()


def test_crashed_run_resumes(cli, write_config, tmp_path):
    """A run killed without a chance to record its end (SIGKILL) is crashed and can be resumed."""
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=2)
    record = read_json(folder / "run.json")
    record.update(status="running", pid=_dead_pid(), ended=None)
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    listed = json.loads(cli("runs", "list", "--runs-dir", tmp_path / "runs", "--json").stdout)
    assert listed["runs"][0]["status"] == "crashed"
    assert cli("train", "--resume", folder, "-q").exit_code == 0
    assert read_json(folder / "run.json")["status"] == "completed"


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


# --- what cannot be resumed ----------------------------------------------------------------------


def test_completed_run_not_resumable(cli, write_config, tmp_path):
    config = network_config(write_config, "mlp", epochs=1)
    folder = run_experiment(load_config(config), tmp_path / "runs").run.path
    before = (folder / "run.json").read_bytes()
    result = cli("train", "--resume", folder)
    assert result.exit_code == 2
    assert "cannot be resumed: it has already completed" in result.stderr
    assert (folder / "run.json").read_bytes() == before


def test_kmeans_run_not_resumable(cli, write_config, tmp_path):
    config = write_config("dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3, n_init: 1}\n")
    folder = run_experiment(load_config(config), tmp_path / "runs").run.path
    result = cli("train", "--resume", folder)
    assert result.exit_code == 2
    assert "is a kmeans run; only mlp, cnn and rnn runs can be resumed" in result.stderr


def test_changed_config_rejected(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    changed = network_config(write_config, "mlp", epochs=7)
    result = cli("train", changed, "--resume", folder)
    assert result.exit_code == 2
    assert "does not match the config of run" in result.stderr
    assert "train.epochs" in result.stderr
    assert read_json(folder / "run.json")["status"] == "interrupted"


def test_same_config_accepted(cli, write_config, tmp_path):
    config = network_config(write_config, "mlp")
    folder = interrupted_run(config, tmp_path / "runs", epoch=1)
    assert cli("train", config, "--resume", folder, "-q").exit_code == 0


def test_edited_config_yaml_rejected(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    resolved = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    resolved["train"]["optimizer"]["lr"] = 0.5
    (folder / "config.yaml").write_text(yaml.safe_dump(resolved), encoding="utf-8")
    result = cli("train", "--resume", folder)
    assert result.exit_code == 2
    assert "changed after its checkpoint was saved" in result.stderr


def test_resume_rejects_set_option(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    result = cli("train", "--resume", folder, "--set", "train.epochs=9")
    assert result.exit_code == 2
    assert "--set cannot be used with it" in result.stderr


def test_running_run_not_resumable(cli, write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    holder = RunDir.reopen(folder)  # another process working in the folder holds its lock
    try:
        result = cli("train", "--resume", folder)
    finally:
        holder.unlock()
    assert result.exit_code == 2
    assert "in use by another dmrun process" in result.stderr


class RunsCode:
    """Unpickling this object would create ``marker``; a safe loader never does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_tampered_checkpoint_never_runs_code(cli, write_config, tmp_path):
    import torch

    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    marker = tmp_path / "code-ran"
    torch.save({"version": 1, "payload": RunsCode(marker)}, folder / CHECKPOINT_FILE)
    result = cli("train", "--resume", folder)
    assert result.exit_code == 1
    assert "cannot load checkpoint" in result.stderr
    assert not marker.exists()
    assert "Traceback" not in result.stderr


# --- real signals --------------------------------------------------------------------------------


def signal_after_checkpoint(config: Path, runs: Path, signum: int) -> subprocess.Popen:
    """Start training in a subprocess, send ``signum`` once its first checkpoint exists, and wait."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dmrun", "train", str(config), "--runs-dir", str(runs), "-q"],
        cwd=config.parent,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob(f"*/{CHECKPOINT_FILE}")):
            assert process.poll() is None, "training ended before the signal"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        process.send_signal(signum)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process


def test_sigterm_then_resume_matches(cli, write_config, tmp_path):
    """A real SIGTERM after a checkpoint, then --resume, ends with the metrics of an uninterrupted run."""
    config = network_config(write_config, "mlp", epochs=30)
    full = run_experiment(load_config(config), tmp_path / "full").run.path
    process = signal_after_checkpoint(config, tmp_path / "runs", signal.SIGTERM)
    (folder,) = run_folders(tmp_path / "runs")
    record = read_json(folder / "run.json")
    assert process.returncode == 143
    assert record["status"] == "interrupted"
    if record["last_completed_epoch"] == 30:
        pytest.skip("the run finished its epochs before the signal arrived")

    result = cli("train", "--resume", folder, "-q")

    assert result.exit_code == 0, result.output
    assert (folder / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
    assert not [path for path in folder.rglob("*.tmp")]


def test_sigkill_then_resume_completes(cli, write_config, tmp_path):
    """A run killed with SIGKILL records nothing; it is listed as crashed and can be resumed."""
    config = network_config(write_config, "mlp", epochs=30)
    runs = tmp_path / "runs"
    process = signal_after_checkpoint(config, runs, signal.SIGKILL)
    (folder,) = run_folders(runs)
    assert process.returncode == -signal.SIGKILL
    assert read_json(folder / "run.json")["status"] == "running"
    listed = json.loads(cli("runs", "list", "--runs-dir", runs, "--json").stdout)["runs"]
    assert listed[0]["status"] == "crashed"

    result = cli("train", "--resume", folder, "-q")

    record = read_json(folder / "run.json")
    assert result.exit_code == 0, result.output
    assert record["status"] == "completed"
    assert record["resumed"][0]["from_epoch"] >= 1
    assert len(history_without_times(folder)) == 30


def test_resume_removes_leftover_temp_files(write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    leftover = folder / "checkpoint" / ".last.pt.abc123.tmp"
    leftover.write_bytes(b"half a checkpoint")
    RunDir.reopen(folder).unlock()
    assert not leftover.exists()
    assert (folder / CHECKPOINT_FILE).is_file()


def test_lock_released_after_interrupt(write_config, tmp_path):
    folder = interrupted_run(network_config(write_config, "mlp"), tmp_path / "runs", epoch=1)
    RunDir.reopen(folder).unlock()


class InterruptBeforeTraining(SilentReporter):
    """Stop a run while it loads its data, before any epoch or checkpoint."""

    def status(self, message: str) -> None:
        if message.startswith("training"):
            raise RunInterrupted(130)


def test_resume_without_checkpoint_starts_over(cli, write_config, tmp_path):
    config = network_config(write_config, "mlp", epochs=2)
    full = run_experiment(load_config(config), tmp_path / "full").run.path
    with pytest.raises(RunInterrupted):
        run_experiment(load_config(config), tmp_path / "runs", InterruptBeforeTraining())
    (folder,) = run_folders(tmp_path / "runs")
    assert not (folder / CHECKPOINT_FILE).exists()

    assert cli("train", "--resume", folder, "-q").exit_code == 0

    assert read_json(folder / "run.json")["resumed"][0]["from_epoch"] == 0
    assert (folder / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
