"""``dmrun train --resume``: continue an interrupted or crashed torch run in its own folder.

The run continues from the checkpoint of its last completed epoch, with the model, optimizer,
random states, batch order and history it had then, so on the CPU its final metrics equal those
of a run that was never interrupted.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from dmrun.config.loading import LoadedConfig, load_config
from dmrun.errors import ConfigError
from dmrun.redact import redact_argv
from dmrun.rundir import RunDir, iso_now, read_record
from dmrun.runner import CHECKPOINT_FILE, RunOutcome, config_fingerprint, resolved_config, run_in
from dmrun.trainers import get_entry
from dmrun.trainers.base import Reporter

RESUMABLE_STATUSES = ("interrupted", "crashed")
RESUMABLE_ALGORITHMS = ("mlp", "cnn", "rnn")
# Keys of a run record that describe how the previous attempt ended.
ENDING_KEYS = ("last_completed_epoch", "partial_history", "expectations", "expectations_error")


def resume_experiment(
    run_path: Path, given: LoadedConfig | None = None, reporter: Reporter | None = None, on_created: Any = None
) -> RunOutcome:
    """Continue the run in ``run_path`` from its last checkpoint.

    ``given`` is the config the user named on the command line, if any; it must resolve to the
    run's own ``config.yaml``.

    Raises:
        ConfigError: for a run that is completed, failed, still running or not a torch run, a
            config that differs from the run's, or data that changed since the run started.
        RunDirError: for a damaged checkpoint.
    """
    record = read_record(run_path)
    if record is None:
        raise ConfigError(f"{run_path} has no readable run.json, so it cannot be resumed")
    _check_resumable(record)
    loaded = load_config(run_path / "config.yaml")
    resolved = resolved_config(loaded)
    if given is not None:
        _check_same_config(resolved_config(given), resolved, given.path, record["id"])

    state = None
    checkpoint = run_path / CHECKPOINT_FILE
    if checkpoint.is_file():
        from dmrun.trainers.checkpoint import load_checkpoint

        state = load_checkpoint(checkpoint)
        if state.get("config_sha256") != config_fingerprint(resolved):
            raise ConfigError(
                f"config.yaml of run {record['id']} changed after its checkpoint was saved",
                hint="restore the file, or start a new run with the changed config",
            )

    run = RunDir.reopen(run_path)
    try:
        _record_resume(run, state["epoch"] if state else 0)
    except BaseException:
        run.unlock()
        raise
    return run_in(run, loaded, get_entry(record["algorithm"]), reporter, on_created, resume_from=state, resuming=True)


def _check_resumable(record: dict[str, Any]) -> None:
    run_id, status, algorithm = record.get("id"), record.get("status"), record.get("algorithm")
    if algorithm not in RESUMABLE_ALGORITHMS:
        raise ConfigError(
            f"run {run_id} is a {algorithm} run; only mlp, cnn and rnn runs can be resumed",
            hint="start a new run instead",
        )
    if status in RESUMABLE_STATUSES:
        return
    reasons = {
        "completed": "it has already completed",
        "failed": "it failed, and resuming would repeat the failure",
        "running": f"it is still running (pid {record.get('pid')} on {record.get('host')})",
    }
    raise ConfigError(
        f"run {run_id} cannot be resumed: {reasons.get(status, f'its status is {status}')}",
        hint="only interrupted or crashed runs can be resumed; start a new run instead",
    )


def _check_same_config(given: dict[str, Any], saved: dict[str, Any], path: Path | None, run_id: str) -> None:
    differences = _differing_keys(given, saved)
    if differences:
        shown = ", ".join(differences[:5]) + (", ..." if len(differences) > 5 else "")
        raise ConfigError(
            f"{path} does not match the config of run {run_id}: {shown} differ",
            hint="resume without a config file, or start a new run with this config",
        )


def _differing_keys(given: Any, saved: Any, prefix: str = "") -> list[str]:
    """List the dotted keys whose values differ between two resolved configs."""
    if isinstance(given, dict) and isinstance(saved, dict):
        keys = list(dict.fromkeys([*given, *saved]))
        return [found for key in keys for found in _differing_keys(given.get(key), saved.get(key), f"{prefix}{key}.")]
    return [] if given == saved else [prefix.rstrip(".") or "config"]


def _record_resume(run: RunDir, epoch: int) -> None:
    """Mark the run running again and append this attempt to its ``resumed`` list."""
    record = run.record
    for key in ENDING_KEYS:
        record.pop(key, None)
    record.update(status="running", ended=None, exit_code=None, error=None, pid=os.getpid(), host=socket.gethostname())
    record.setdefault("resumed", []).append(
        {"at": iso_now(), "from_epoch": epoch, "argv": redact_argv(list(sys.argv)), "pid": os.getpid()}
    )
    run.write_record()
