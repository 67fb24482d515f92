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
    run_path: Path,
    given: LoadedConfig | None = None,
    reporter: Reporter | None = None,
    on_created: Any = None,
    session: Any = None,
) -> RunOutcome:
    """Continue the run in ``run_path`` from its last checkpoint.

    ``given`` is the config the user named on the command line, if any; it must resolve to the
    run's own ``config.yaml``. With a distributed ``session`` (rank 0), the run must have been
    trained on as many processes, and the other ranks receive the config and the checkpoint
    from this one (see ``resume_on_worker``).

    Raises:
        ConfigError: for a run that is completed, failed, still running or not a torch run, a
            config that differs from the run's, data that changed since the run started, or
            another number of processes than the run was trained on.
        RunDirError: for a damaged checkpoint.
    """
    try:
        run, loaded, record, state = _reopen_for_resume(run_path, given, session.world_size if session else 1)
    except BaseException as err:
        if session is not None:
            session.share_outcome(err)
        raise
    if session is not None:
        shared = {"config": (run_path / "config.yaml").read_text(encoding="utf-8"), "algorithm": record["algorithm"], "state": state}
        session.share_outcome(None, shared)
    entry = get_entry(record["algorithm"])
    return run_in(run, loaded, entry, reporter, on_created, resume_from=state, resuming=True, session=session)


def resume_on_worker(session: Any) -> RunOutcome:
    """Continue a distributed run on a rank other than 0, with the config and checkpoint rank 0 sends.

    Raises:
        PeerFailed: when rank 0 could not resume the run.
    """
    from dmrun.config.loading import validate_data
    from dmrun.config.yaml_source import parse_yaml
    from dmrun.runner import run_on_worker

    shared = session.share_outcome(None)
    document = parse_yaml(shared["config"], "config.yaml")
    loaded = LoadedConfig(config=validate_data(document.data, document), path=None, base_dir=Path.cwd())
    return run_on_worker(loaded, get_entry(shared["algorithm"]), session, resume_from=shared["state"])


def _reopen_for_resume(
    run_path: Path, given: LoadedConfig | None, world_size: int
) -> tuple[RunDir, LoadedConfig, dict[str, Any], dict[str, Any] | None]:
    """Check that the run can be resumed, lock its folder and record the new attempt."""
    record = read_record(run_path)
    if record is None:
        raise ConfigError(f"{run_path} has no readable run.json, so it cannot be resumed")
    _check_resumable(record)
    _check_world_size(record, world_size)
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
    return run, loaded, record, state


def _check_world_size(record: dict[str, Any], world_size: int) -> None:
    """Reject a resume on another number of processes than the run was trained on.

    The global batch order and each rank's random state are in the checkpoint for that number
    of processes only.
    """
    trained = int((record.get("distributed") or {}).get("world_size", 1))
    if trained == world_size:
        return
    raise ConfigError(
        f"run {record.get('id')} was trained on {trained} process(es), so it cannot be resumed on {world_size}",
        hint=f"resume it on {trained}: dmrun train --resume {record.get('id')}"
        + (f" --nproc {trained}, or torchrun with {trained} processes in all" if trained > 1 else " without torchrun or --nproc"),
    )


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
