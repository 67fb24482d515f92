"""``dmrun runs diff`` and ``dmrun runs compare``: what differs between runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import JSON_HELP, RUNS_DIR_HELP, _runs_dir, _state, handle_errors, output
from dmrun.cli.runs import runs_app

RUN_HELP = "Run folder path, a unique prefix of a run id, or latest."


@runs_app.command(name="diff")
@handle_errors
def diff_command(
    a: str = typer.Argument(..., help=RUN_HELP),
    b: str = typer.Argument(..., help=RUN_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    limit: int = typer.Option(20, "--limit", min=0, help="Rules listed as added and as removed, at most."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show only what differs between two runs: config, data, versions, git commit, metrics, rules."""
    from dmrun.rundiff import diff_runs
    from dmrun.rundir import resolve_run

    _state["json"] = as_json
    folder = _runs_dir(runs_dir)
    document = diff_runs(resolve_run(a, folder), resolve_run(b, folder), limit)
    if as_json:
        output.print_json(document)
        return
    output.stdout.out(f"a: {document['a']['id']} ({document['a']['status']})", highlight=False)
    output.stdout.out(f"b: {document['b']['id']} ({document['b']['status']})", highlight=False)
    sections = [("config", "config"), ("data", "data"), ("environment", "environment")]
    for key, title in sections:
        _print_changes(title, document[key])
    _print_metrics(document["metrics"])
    if document["rules"] is not None:
        _print_rules(document["rules"])
    if not any(document[key] for key in ("config", "data", "environment", "metrics")) and not _rules_differ(document["rules"]):
        output.stdout.out("no differences", highlight=False)


SHOWN_CHARACTERS = 40


def show_cell(value: Any) -> str:
    """Format a cell; lists and tables are cut to 40 characters so the columns stay readable."""
    if value is None:
        return "-"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."
    return output.format_value(value)


def _print_changes(title: str, changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    output.stdout.out(f"\n{title}:", highlight=False)
    output.print_columns(["key", "a", "b"], [[entry["key"], show_cell(entry["a"]), show_cell(entry["b"])] for entry in changes])


def _print_metrics(changes: list[dict[str, Any]]) -> None:
    if not changes:
        return
    output.stdout.out("\nmetrics:", highlight=False)
    rows = [
        [entry["key"], show_cell(entry["a"]), show_cell(entry["b"]), "" if entry["delta"] is None else f"{entry['delta']:+.6g}"]
        for entry in changes
    ]
    output.print_columns(["metric", "a", "b", "delta"], rows)


def _rules_differ(rules: dict[str, Any] | None) -> bool:
    return bool(rules and (rules["added_count"] or rules["removed_count"]))


def _print_rules(rules: dict[str, Any]) -> None:
    if not _rules_differ(rules):
        return
    output.stdout.out(
        f"\nrules: {rules['a_count']} in a, {rules['b_count']} in b, {rules['common']} in both, "
        f"{rules['added_count']} added, {rules['removed_count']} removed",
        highlight=False,
    )
    for sign, key in (("+", "added"), ("-", "removed")):
        for rule in rules[key]:
            output.stdout.out(f"  {sign} {', '.join(rule['antecedents'])} -> {', '.join(rule['consequents'])}", highlight=False)
        hidden = rules[f"{key}_count"] - len(rules[key])
        if hidden > 0:
            output.stdout.out(f"  ... {hidden} more {key} (raise --limit to list them)", highlight=False)


@runs_app.command(name="compare")
@handle_errors
def compare_command(
    runs: list[str] = typer.Argument(..., help="Two or more runs: " + RUN_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    as_csv: bool = typer.Option(False, "--csv", help="Print one CSV row per run: id, metrics, differing config keys."),
) -> None:
    """Show the metrics of several runs side by side, with the config keys that differ among them."""
    from dmrun.errors import ConfigError
    from dmrun.rundiff import compare_runs
    from dmrun.rundir import resolve_run

    _state["json"] = as_json
    if as_json and as_csv:
        raise ConfigError("give --json or --csv, not both")
    if len(runs) < 2:
        raise ConfigError("runs compare needs at least two runs", hint="for one run use `dmrun runs show`")
    folder = _runs_dir(runs_dir)
    document = compare_runs([resolve_run(reference, folder) for reference in runs])
    if as_json:
        output.print_json(document)
        return
    if as_csv:
        header = ["id", *document["metrics"], *document["config_keys"]]
        rows = [[run["id"], *run["metrics"].values(), *(_csv_cell(value) for value in run["config"].values())] for run in document["runs"]]
        output.print_csv(header, rows)
        return
    # One column per run, one row per metric and per differing config key, so many metrics still fit.
    header = ["key", *(run["id"] for run in document["runs"])]
    rows = [[name, *(show_cell(run["metrics"][name]) for run in document["runs"])] for name in document["metrics"]]
    rows += [[key, *(show_cell(run["config"][key]) for run in document["runs"])] for key in document["config_keys"]]
    output.print_columns(header, rows)


def _csv_cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
