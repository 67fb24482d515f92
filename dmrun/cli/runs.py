"""``dmrun runs list`` and ``dmrun runs show``: read run folders, never modify them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import JSON_HELP, RUNS_DIR_HELP, _runs_dir, app, handle_errors, output

runs_app = typer.Typer(help="List and inspect run folders.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

STATUSES = ("running", "completed", "failed", "interrupted", "crashed")
# The first of these a run's metrics.json has is shown as its main metric.
MAIN_METRICS = ("accuracy", "rmse", "ari", "silhouette", "rules", "itemsets")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main_metric(metrics: Any) -> tuple[str, Any] | None:
    if not isinstance(metrics, dict):
        return None
    for name in MAIN_METRICS:
        if metrics.get(name) is not None:
            return name, metrics[name]
    return None


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    metrics = _read_json(Path(record["path"]) / "metrics.json")
    main = main_metric(metrics)
    return {
        "id": record.get("id"),
        "name": record.get("name"),
        "algorithm": record.get("algorithm"),
        "status": record.get("status"),
        "main_metric": main[0] if main else None,
        "main_value": main[1] if main else None,
        "duration_s": record.get("duration_s"),
        "started": record.get("started"),
        "path": record["path"],
    }


@runs_app.command(name="list")
@handle_errors
def list_runs_command(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    name: Optional[str] = typer.Option(None, "--name", help="Show only runs whose name contains this text."),
    algorithm: Optional[str] = typer.Option(None, "--algorithm", help="Show only runs of this algorithm."),
    status: Optional[str] = typer.Option(None, "--status", help="Show only runs with this status."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List runs, oldest first: id, name, algorithm, status, main metric, duration, start time."""
    from dmrun.errors import ConfigError
    from dmrun.suggest import closest_hint
    from dmrun.trainers import TRAINERS

    if status is not None and status not in STATUSES:
        raise ConfigError(f"invalid value for --status: '{status}'", hint=closest_hint(status, STATUSES, "statuses"))
    if algorithm is not None and algorithm not in TRAINERS:
        raise ConfigError(
            f"invalid value for --algorithm: '{algorithm}'", hint=closest_hint(algorithm, list(TRAINERS), "algorithms")
        )
    if runs_dir is not None and not runs_dir.is_dir():
        raise ConfigError(f"--runs-dir folder not found: {runs_dir}")
    from dmrun.rundir import list_runs

    rows = [_summary(record) for record in list_runs(_runs_dir(runs_dir))]
    rows = [
        row
        for row in rows
        if (name is None or name in str(row["name"]))
        and (algorithm is None or row["algorithm"] == algorithm)
        and (status is None or row["status"] == status)
    ]
    if as_json:
        output.print_json({"runs": rows})
        return
    table = [
        [
            row["id"],
            row["algorithm"] or "",
            row["status"],
            f"{row['main_metric']}={output.format_value(row['main_value'])}" if row["main_metric"] else "",
            "" if row["duration_s"] is None else f"{row['duration_s']:.1f}s",
            row["started"] or "",
        ]
        for row in rows
    ]
    output.print_columns(["id", "algorithm", "status", "main metric", "duration", "started"], table)


@runs_app.command(name="show")
@handle_errors
def show_run(
    run: str = typer.Argument(..., help="Run folder path, a unique prefix of a run id, or latest."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a run's record, metrics and artifacts."""
    from dmrun.rundir import read_record, resolve_run

    path = resolve_run(run, _runs_dir(runs_dir))
    record = read_record(path) or {}
    metrics = _read_json(path / "metrics.json")
    document = {"record": record, "metrics": metrics, "config": (path / "config.yaml").read_text(encoding="utf-8") if (path / "config.yaml").is_file() else None}
    if as_json:
        output.print_json(document)
        return
    output.stdout.print(f"run {record.get('id')}: {record.get('status')} ({record.get('algorithm')}), {path}")
    if record.get("error"):
        output.stdout.print(f"error: {record['error'].get('type')}: {record['error'].get('message')}")
    if isinstance(metrics, dict):
        output.print_metrics(metrics, title="metrics")
    for artifact in record.get("artifacts") or []:
        output.stdout.print(f"  {artifact}")
