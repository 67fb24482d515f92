"""``dmrun sweep``: run every combination of a grid as a normal run and rank the trials."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import EXPECT_HELP, RUNS_DIR_HELP, SET_HELP, _install_signal_handlers, _runs_dir, _state, app, handle_errors, output
from dmrun.errors import EXIT_GATE, EXIT_RUN_FAILED, EXIT_SIGINT, ConfigError

GRID_HELP = "Values to try for a key, such as model.n_clusters=2,3,4 or 'model.hidden_sizes=[64],[128,64]'; repeatable."


@app.command()
@handle_errors
def sweep(
    config: Path = typer.Argument(..., help="Experiment config (YAML); its sweep: block adds to --grid."),
    grid: Optional[list[str]] = typer.Option(None, "--grid", help=GRID_HELP),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Trials run at once, in separate processes sharing the CPU threads."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Metric that ranks the trials [default: the main metric]."),
    goal: Optional[str] = typer.Option(None, "--goal", help="max or min: whether a higher metric is better."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the trials and which are already done; run nothing."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress, only the summary."),
    as_json: bool = typer.Option(False, "--json", help="Print the sweep and its ranked trials as one JSON document."),
    expect: Optional[list[str]] = typer.Option(None, "--expect", help=EXPECT_HELP + " Checked on the best trial."),
) -> None:
    """Run a grid of configs; completed trials of an earlier sweep are reused, failed ones retried.

    Exit code 1 when a trial failed, 4 when an --expect check fails on the best trial.
    """
    from dmrun.expect import parse_expectation
    from dmrun.sweep import find_completed, plan_sweep

    _state["json"] = as_json
    from dmrun.distributed import reject_under_torchrun

    reject_under_torchrun("sweep")
    if goal is not None and goal not in ("max", "min"):
        raise ConfigError(f"invalid value for --goal: '{goal}'", hint="use max or min")
    expectations = [parse_expectation(text) for text in expect or []]
    plan = plan_sweep(config, grid or [], overrides or [], metric, goal)
    for expectation in expectations:
        expectation.check_name(plan.model_type)
    folder = _runs_dir(runs_dir)
    find_completed(plan, folder)
    if dry_run:
        _print_dry_run(plan, as_json)
        return

    sweep_dir = _run_trials(plan, folder, jobs, quiet or as_json)
    _finish(plan, sweep_dir, expectations, as_json)


def _run_trials(plan: Any, runs_dir: Path, jobs: int, quiet: bool) -> Any:
    """Create the sweep folder and run the trials not already completed, updating sweep.json after each."""
    from dmrun.sweep import SweepDir, TrialTask, settle_metric, threads_per_job

    sweep_dir = SweepDir.create(runs_dir, plan)
    _state["run_dir"] = str(sweep_dir.path)
    pending = [trial for trial in plan.trials if not trial.reused]
    if not quiet:
        reused = len(plan.trials) - len(pending)
        output.stderr.print(f"sweep {sweep_dir.path}: {len(plan.trials)} trials, {reused} already completed")
    jobs = min(jobs, len(pending)) or 1
    tasks = [
        TrialTask(
            config_path=str(plan.config_path),
            options=[*plan.base_options, *trial.options],
            runs_dir=str(runs_dir),
            index=trial.index,
            trial_hash=trial.trial_hash,
            params=trial.params,
            sweep_id=sweep_dir.path.name,
            threads=threads_per_job(jobs) if jobs > 1 else None,
            worker=jobs > 1,
        )
        for trial in pending
    ]

    def record(result: dict[str, Any]) -> None:
        trial = plan.trials[result["index"]]
        trial.run, trial.status, trial.metrics, trial.error = result["run"], result["status"], result["metrics"], result["error"]
        settle_metric(plan)
        sweep_dir.write()
        # A failed trial is reported even with --quiet, because --quiet hides progress, not errors.
        if not quiet or trial.status != "completed":
            from rich.markup import escape

            shown = ", ".join(f"{key}={value}" for key, value in trial.params.items())
            verdict = "completed" if trial.status == "completed" else f"[red]{trial.status}[/]: {escape(trial.error or '')}"
            output.stderr.print(f"trial {trial.index + 1}/{len(plan.trials)} ({shown}): {verdict}")

    from dmrun.runner import RunInterrupted

    _install_signal_handlers()
    try:
        if jobs == 1:
            _run_serial(tasks, plan, record, quiet)
        else:
            _run_parallel(tasks, plan, sweep_dir, record, jobs)
    except (KeyboardInterrupt, RunInterrupted) as err:
        for trial in plan.trials:
            if trial.status in ("pending", "running"):
                trial.status = "interrupted"
        sweep_dir.write()
        output.stderr.print(f"[yellow]interrupted[/]; sweep folder: {sweep_dir.path}")
        raise typer.Exit(err.exit_code if isinstance(err, RunInterrupted) else EXIT_SIGINT) from None
    return sweep_dir


def _run_serial(tasks: list[Any], plan: Any, record: Any, quiet: bool) -> None:
    from dmrun.sweep import run_trial

    for task in tasks:
        if not quiet:
            shown = ", ".join(f"{key}={value}" for key, value in task.params.items())
            output.stderr.print(f"[bold]trial {task.index + 1}/{len(plan.trials)}[/] ({shown})")
        reporter = output.ConsoleReporter(quiet=quiet)
        try:
            result = run_trial(task, reporter)
        finally:
            reporter.close()
        record(result)


def _run_parallel(tasks: list[Any], plan: Any, sweep_dir: Any, record: Any, jobs: int) -> None:
    """Run trials in ``jobs`` fresh processes; a spawned process starts without the parent's thread pools."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from dmrun.sweep import run_trial

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(run_trial, task) for task in tasks]
        for task in tasks:
            plan.trials[task.index].status = "running"
        sweep_dir.write()
        for future in as_completed(futures):
            record(future.result())
    except BaseException:
        # Stop the workers too; each marks its run folder interrupted on SIGTERM.
        # NOTE: _processes is private to concurrent.futures (Python 3.10 to 3.13 keep it).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _finish(plan: Any, sweep_dir: Any, expectations: list[Any], as_json: bool) -> None:
    """Print the ranked trials, check --expect on the best one and exit with the sweep's code."""
    from dmrun.sweep import ranked

    order = ranked(plan)
    best = order[0] if order and order[0].status == "completed" and plan.metric in (order[0].metrics or {}) else None
    failed = [trial for trial in plan.trials if trial.status != "completed"]
    checks = [expectation.check(best.metrics) for expectation in expectations] if best else []
    code = 0
    if failed:
        code = EXIT_RUN_FAILED
    elif any(not check["passed"] for check in checks) or (expectations and best is None):
        code = EXIT_GATE

    if as_json:
        document = {**sweep_dir.document(), "sweep_dir": str(sweep_dir.path), "exit_code": code}
        document["trials"] = [_trial_document(trial, order) for trial in plan.trials]
        document["best"] = _trial_document(best, order) if best else None
        if expectations:
            document["expectations"] = checks
        output.print_json(document)
    else:
        _print_ranking(plan, order)
        output.stdout.print(f"sweep folder: {sweep_dir.path}")
    for check in checks:
        verdict = "[green]passed[/]" if check["passed"] else "[red]failed[/]"
        output.stderr.print(f"expect {check['expect']} on the best trial: {verdict} ({check['metric']} = {output.format_value(check['value'])})")
    if failed:
        output.stderr.print(f"[red]{len(failed)} of {len(plan.trials)} trials did not complete[/]")
    if code:
        raise typer.Exit(code)


def _trial_document(trial: Any, order: list[Any]) -> dict[str, Any]:
    return {
        **trial.entry(),
        "rank": order.index(trial) + 1 if trial.status == "completed" else None,
        "reused": trial.reused,
        "trial_hash": trial.trial_hash,
        "error": trial.error,
    }


def _print_ranking(plan: Any, order: list[Any]) -> None:
    header = ["rank", *plan.keys, plan.metric, "status", "run"]
    rows = []
    for position, trial in enumerate(order, start=1):
        value = (trial.metrics or {}).get(plan.metric)
        status = trial.status + (" (reused)" if trial.reused else "")
        rank = str(position) if trial.status == "completed" else "-"
        rows.append([rank, *(_cell(trial.params[key]) for key in plan.keys), _cell(value), status, trial.run or ""])
    output.stdout.out(f"sweep {plan.name}: {len(plan.trials)} trials ranked by {plan.metric} ({plan.goal})", highlight=False)
    output.print_columns(header, rows)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return output.format_value(value)


def _print_dry_run(plan: Any, as_json: bool) -> None:
    if as_json:
        trials = [{**trial.entry(), "reused": trial.reused, "trial_hash": trial.trial_hash} for trial in plan.trials]
        output.print_json({"dry_run": True, "name": plan.name, "metric": plan.metric, "goal": plan.goal, "keys": plan.keys, "trials": trials})
        return
    header = ["trial", *plan.keys, "action"]
    rows = [
        [str(trial.index + 1), *(_cell(trial.params[key]) for key in plan.keys), f"reuse {trial.run}" if trial.reused else "run"]
        for trial in plan.trials
    ]
    output.print_columns(header, rows)
