"""``dmrun runs list`` and ``dmrun runs show``: read run folders, never modify them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import JSON_HELP, RUNS_DIR_HELP, _runs_dir, app, handle_errors, output
from dmrun.expect import main_metric
from dmrun.rundir import read_json_file

runs_app = typer.Typer(help="List and inspect run folders.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

STATUSES = ("running", "completed", "failed", "interrupted", "crashed")


def _summary(record: dict[str, Any], metrics: Any) -> dict[str, Any]:
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


LIST_COLUMNS = ["id", "name", "algorithm", "status", "main_metric", "main_value", "duration_s", "started", "path"]


@runs_app.command(name="list")
@handle_errors
def list_runs_command(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    name: Optional[str] = typer.Option(None, "--name", help="Show only runs whose name contains this text."),
    algorithm: Optional[str] = typer.Option(None, "--algorithm", help="Show only runs of this algorithm."),
    status: Optional[str] = typer.Option(None, "--status", help="Show only runs with this status."),
    sort: Optional[str] = typer.Option(
        None, "--sort", help="Order by this metric, ascending (a leading '-' or --desc: descending); runs without it last."
    ),
    descending: bool = typer.Option(False, "--desc/--asc", help="Direction of --sort."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    as_csv: bool = typer.Option(False, "--csv", help="Print the runs as CSV with a header line."),
) -> None:
    """List runs, oldest first: id, name, algorithm, status, main metric, duration, start time."""
    from dmrun.cli import _state
    from dmrun.errors import ConfigError

    _state["json"] = as_json
    from dmrun.suggest import closest_hint
    from dmrun.trainers import TRAINERS

    if status is not None and status not in STATUSES:
        raise ConfigError(f"invalid value for --status: '{status}'", hint=closest_hint(status, STATUSES, "statuses"))
    if algorithm is not None and algorithm not in TRAINERS:
        raise ConfigError(
            f"invalid value for --algorithm: '{algorithm}'", hint=closest_hint(algorithm, list(TRAINERS), "algorithms")
        )
    if as_json and as_csv:
        raise ConfigError("give --json or --csv, not both")
    if runs_dir is not None and not runs_dir.is_dir():
        raise ConfigError(f"--runs-dir folder not found: {runs_dir}")
    from dmrun.rundir import list_runs

    records = [
        record
        for record in list_runs(_runs_dir(runs_dir))
        if (name is None or name in str(record.get("name")))
        and (algorithm is None or record.get("algorithm") == algorithm)
        and (status is None or record.get("status") == status)
    ]
    metrics = [read_json_file(os.path.join(record["path"], "metrics.json")) for record in records]
    rows = [_summary(record, values) for record, values in zip(records, metrics)]
    if sort is not None:
        rows = _sorted_by_metric(rows, metrics, sort.removeprefix("-"), descending or sort.startswith("-"))
    if as_json:
        output.print_json({"runs": rows})
    elif as_csv:
        output.print_csv(LIST_COLUMNS, [[row[column] for column in LIST_COLUMNS] for row in rows])
    else:
        output.print_columns(["id", "name", "algorithm", "status", "main metric", "duration", "started"], _table(rows))


def _sorted_by_metric(rows: list[dict[str, Any]], metrics: list[Any], metric: str, descending: bool) -> list[dict[str, Any]]:
    """Order rows by a metric; rows without a numeric value of it keep their order at the end.

    Raises:
        ConfigError: when runs exist but none has the metric; the hint lists the metrics they have.
    """
    from dmrun.errors import ConfigError
    from dmrun.expect import is_number
    from dmrun.suggest import closest_hint

    values = [item.get(metric) if isinstance(item, dict) else None for item in metrics]
    keyed = [(value, row) for value, row in zip(values, rows) if is_number(value) and value == value]
    if rows and not keyed:
        known = sorted({key for item in metrics if isinstance(item, dict) for key, value in item.items() if is_number(value)})
        raise ConfigError(f"invalid value for --sort: no listed run has the metric '{metric}'", hint=closest_hint(metric, known, "metrics"))
    keyed.sort(key=lambda pair: pair[0], reverse=descending)
    ranked = {id(row) for _, row in keyed}
    return [row for _, row in keyed] + [row for row in rows if id(row) not in ranked]


def _table(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            row["id"],
            row["name"] or "",
            row["algorithm"] or "",
            row["status"],
            f"{row['main_metric']}={output.format_value(row['main_value'])}" if row["main_metric"] else "",
            "" if row["duration_s"] is None else f"{row['duration_s']:.1f}s",
            row["started"] or "",
        ]
        for row in rows
    ]


@runs_app.command(name="show")
@handle_errors
def show_run(
    run: str = typer.Argument(..., help="Run folder path, a unique prefix of a run id, or latest."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a run's record, metrics and artifacts."""
    from dmrun.cli import _state

    _state["json"] = as_json
    from dmrun.rundir import read_record, resolve_run

    path = resolve_run(run, _runs_dir(runs_dir))
    record = read_record(path) or {}
    metrics = read_json_file(path / "metrics.json")
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
