"""``dmrun reproduce``: re-run a run from its saved config and seed, optionally checking the metrics."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import RUNS_DIR_HELP, _install_signal_handlers, _runs_dir, _state, app, handle_errors, output
from dmrun.cli.compare import show_cell
from dmrun.errors import EXIT_GATE

logger = logging.getLogger(__name__)


@app.command()
@handle_errors
def reproduce(
    run: str = typer.Argument(..., help="Run folder path, a unique prefix of a run id, or latest."),
    verify: bool = typer.Option(False, "--verify", help="Compare the new metrics with the original's; exit code 4 when they differ."),
    tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, help="Largest absolute difference of a metric that still matches (0: exact)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress, only the results."),
    as_json: bool = typer.Option(False, "--json", help="Print the new run and the comparison as one JSON document."),
) -> None:
    """Re-run a run from its saved config.yaml and seed into a new run folder."""
    from dmrun.reproduce import compare_metrics, environment_differences, load_saved_config
    from dmrun.rundir import read_record, resolve_run
    from dmrun.runner import run_experiment

    _state["json"] = as_json
    folder = _runs_dir(runs_dir)
    original_path = resolve_run(run, folder)
    original = read_record(original_path) or {}
    loaded = load_saved_config(original_path)
    world_size = (original.get("distributed") or {}).get("world_size", 1)
    if world_size > 1:
        logger.warning(
            "run %s trained on %d processes and this reproduction trains in one, so its metrics may differ; "
            "to repeat the same steps, run `dmrun train %s --nproc %d`",
            original_path.name, world_size, original_path / "config.yaml", world_size,
        )

    reporter = output.ConsoleReporter(quiet=quiet or as_json)

    def on_created(new_run: Any) -> None:
        _state["run_dir"] = str(new_run.path)
        new_run.record["reproduces"] = original.get("id", original_path.name)
        new_run.write_record()

    _install_signal_handlers()
    try:
        outcome = run_experiment(loaded, folder, reporter, on_created=on_created)
    finally:
        reporter.close()

    document: dict[str, Any] = {
        "original": {"id": original.get("id"), "path": str(original_path), "status": original.get("status")},
        **output.run_document(outcome.run.record, outcome.run.path, outcome.result),
    }
    code = 0
    if verify:
        original_metrics = _read_metrics(original_path)
        comparison = compare_metrics(original_metrics, outcome.result.metrics, tolerance)
        matched = all(entry["matched"] for entry in comparison)
        code = 0 if matched else EXIT_GATE
        document["verify"] = {
            "matched": matched,
            "tolerance": tolerance,
            "metrics": comparison,
            "environment": environment_differences(original, outcome.run.record),
        }
        outcome.run.record.update(verify={"matched": matched, "tolerance": tolerance}, exit_code=code)
        outcome.run.write_record()
        document["exit_code"] = code
    if as_json:
        output.print_json(document)
    else:
        _print_result(document)
    if code:
        raise typer.Exit(code)


def _read_metrics(folder: Path) -> dict[str, Any]:
    from dmrun.errors import ConfigError

    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(
            f"run {folder.name} has no readable metrics.json to verify against",
            hint="verify a completed run, or reproduce without --verify",
        ) from None
    return metrics if isinstance(metrics, dict) else {}


def _print_result(document: dict[str, Any]) -> None:
    output.stdout.print(f"run folder: {document['run_dir']} (reproduces {document['original']['id']})")
    verify = document.get("verify")
    if verify is None:
        output.print_metrics(document["metrics"], title="metrics")
        return
    differing = [entry for entry in verify["metrics"] if not entry["matched"]]
    if not differing:
        output.stdout.print(f"verified: all {len(verify['metrics'])} metrics match (tolerance {verify['tolerance']:g})")
        return
    output.stdout.print(f"NOT verified: {len(differing)} of {len(verify['metrics'])} metrics differ (tolerance {verify['tolerance']:g})")
    output.print_columns(
        ["metric", "original", "reproduced"],
        [[entry["metric"], show_cell(entry["original"]), show_cell(entry["reproduced"])] for entry in differing],
    )
    if verify["environment"]:
        output.stdout.print("environment differences:")
        output.print_columns(
            ["key", "original", "reproduced"],
            [[entry["key"], show_cell(entry["original"]), show_cell(entry["reproduced"])] for entry in verify["environment"]],
        )
    else:
        output.stdout.print("environment: no differences in versions, git commit, host or process count")
