"""``dmrun train --nproc N``: start N local ranks the way torchrun does, and wait for them.

The ranks are ``python -m dmrun train ...`` processes with the same options, started by
torch's elastic agent (the engine behind torchrun) on a free port of the loopback interface.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Optional

from dmrun.errors import EXIT_SIGINT, ConfigError


def launch_train(
    nproc: int,
    config: Optional[Path],
    overrides: Optional[list[str]],
    runs_dir: Optional[Path],
    quiet: bool,
    as_json: bool,
    expect: Optional[list[str]],
    run_name: Optional[str],
    overwrite: bool,
    resume: Optional[str],
    timeout_s: float,
    verbose: bool,
) -> int:
    """Check the options, run ``nproc`` ranks of ``dmrun train`` and return rank 0's exit code.

    Raises:
        ConfigError: for an algorithm other than mlp, cnn and rnn, a batch size that the ranks
            cannot share, or a run to resume that was trained on another number of processes.
    """
    resume_path = _check_launch(nproc, config, overrides, runs_dir, resume)
    arguments = ["-m", "dmrun", *(["--verbose"] if verbose else []), "train"]
    if config is not None:
        arguments.append(str(config))
    for option, values in (("--set", overrides), ("--expect", expect)):
        for value in values or []:
            arguments += [option, value]
    if runs_dir is not None:
        arguments += ["--runs-dir", str(runs_dir)]
    if run_name is not None:
        arguments += ["--run-name", run_name]
    if resume_path is not None:
        arguments += ["--resume", str(resume_path.resolve())]
    arguments += [flag for flag, given in (("--quiet", quiet), ("--json", as_json), ("--overwrite", overwrite)) if given]
    arguments += ["--dist-timeout", str(timeout_s)]
    code = _run_ranks(nproc, arguments, verbose)
    if as_json:
        from dmrun.cli import output

        output._printed["json"] = True  # noqa: SLF001 - rank 0 printed the document on this stdout
    return code


def _check_launch(
    nproc: int, config: Optional[Path], overrides: Optional[list[str]], runs_dir: Optional[Path], resume: Optional[str]
) -> Optional[Path]:
    """Reject what the ranks would reject, before any process starts; return the run to resume."""
    from dmrun.cli import _recorded_algorithm, _runs_dir
    from dmrun.config.loading import load_config
    from dmrun.distributed import check_distributable

    if config is not None:
        loaded = load_config(config, overrides or [])
        check_distributable(loaded.config.model.type, loaded.config.train.batch_size, nproc)
    if resume is None:
        return None
    from dmrun.resume import _check_world_size
    from dmrun.rundir import read_record, resolve_run

    path = resolve_run(resume, _runs_dir(runs_dir))
    check_distributable(_recorded_algorithm(path), None, nproc)
    record = read_record(path)
    if record is None:
        raise ConfigError(f"{path} has no readable run.json, so it cannot be resumed")
    _check_world_size(record, nproc)
    return path


def _run_ranks(nproc: int, arguments: list[str], verbose: bool) -> int:
    """Start ``nproc`` ranks of ``python ARGUMENTS`` under the elastic agent; return rank 0's exit code."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from dmrun.distributed import threads_per_rank

    # The ranks read this when their OpenMP runtime starts; each also sets its torch threads.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_rank(nproc)))
    if not verbose:
        # The agent logs each rank it stops; rank 0 has already reported the run's error.
        logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    settings = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.1,
    )
    try:
        elastic_launch(settings, sys.executable)(*arguments)
    except ChildFailedError as err:
        # Rank 0 exits with the code its run.json records; a rank 0 killed by torch's agent
        # leaves the code of the lowest rank that failed.
        codes = {rank: failure.exitcode for rank, failure in err.failures.items()}
        if codes.get(0, -1) >= 0:
            return codes.get(0, 0)
        exited = [code for _, code in sorted(codes.items()) if code >= 0]
        return exited[0] if exited else 128 - min(codes.values())
    except SignalException as err:
        return 128 + int(err.sigval)
    except KeyboardInterrupt:
        return EXIT_SIGINT
    return 0
