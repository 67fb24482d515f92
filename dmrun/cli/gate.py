"""``dmrun gate``: fail a CI job when a run's metrics break absolute or baseline-relative rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import RUNS_DIR_HELP, _runs_dir, _state, app, handle_errors, output
from dmrun.errors import EXIT_GATE, ConfigError

RULE_HELP = (
    "Rule METRIC OP THRESHOLD; THRESHOLD is a number, baseline, baseline +/- N, baseline +/- N% "
    "or baseline * N. Repeatable."
)


@app.command()
@handle_errors
def gate(
    run: str = typer.Argument(..., help="Run folder path, a unique prefix of a run id, or latest."),
    rules: list[str] = typer.Option(..., "--rule", help=RULE_HELP),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="Run to compare with (path, id prefix or latest), or a metrics JSON file."
    ),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here, one test case per rule."),
    markdown_file: Optional[Path] = typer.Option(None, "--markdown", help="Write the verdict as a Markdown table here."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the verdicts as one JSON document."),
) -> None:
    """Check a run's metrics against rules; exit code 4 when a rule does not hold.

    The Markdown summary is also appended to the file named by $GITHUB_STEP_SUMMARY when it is set.
    """
    from dmrun import gate as gating
    from dmrun.rundir import write_atomic

    _state["json"] = as_json
    parsed = [gating.parse_rule(text) for text in rules]
    for target, flag in ((junit, "--junit"), (markdown_file, "--markdown")):
        if target is not None and not target.parent.is_dir():
            raise ConfigError(f"{flag} folder does not exist: {target.parent}", hint="create it first")
    folder = _runs_dir(runs_dir)
    measured = _run_metrics(run, folder)
    reference = _baseline_metrics(baseline, folder) if baseline is not None else None
    verdicts = gating.evaluate(parsed, measured, reference)
    failed = [verdict for verdict in verdicts if not verdict["passed"]]
    warnings = _data_mismatch(measured, reference)
    for warning in warnings:
        output.stderr.print(f"[yellow]warning:[/] {output.escape_text(warning)}")

    if junit is not None:
        write_atomic(junit, gating.junit_xml(verdicts, measured, reference))
    summary = gating.markdown(verdicts, measured, reference)
    if markdown_file is not None:
        write_atomic(markdown_file, summary)
    _append_step_summary(summary)

    exit_code = EXIT_GATE if failed else 0
    if as_json:
        output.print_json(
            {
                "run": _describe(measured),
                "baseline": _describe(reference) if reference else None,
                "passed": not failed,
                "exit_code": exit_code,
                "warnings": warnings,
                "rules": verdicts,
            }
        )
    else:
        output.print_columns(gating.VERDICT_HEADER, gating.verdict_rows(verdicts))
    verdict = f"[red]failed[/]: {len(failed)} of {len(verdicts)} rules did not hold" if failed else "[green]passed[/]"
    output.stderr.print(f"gate {verdict}")
    if failed:
        raise typer.Exit(EXIT_GATE)


def _run_metrics(reference: str, runs_dir: Path):
    """Return the metrics of a completed run.

    Raises:
        ConfigError: when the run does not resolve or has no metrics.json (it did not complete).
    """
    from dmrun.gate import Metrics
    from dmrun.rundir import read_record, resolve_run

    path = resolve_run(reference, runs_dir)
    record = read_record(path) or {}
    metrics_file = path / "metrics.json"
    if not metrics_file.is_file():
        raise ConfigError(
            f"run {path.name} has no metrics.json (status {record.get('status')})",
            hint="gate a completed run; see `dmrun runs list --status completed`",
        )
    from dmrun.gate import load_metrics_file

    return Metrics(label=f"run {path.name}", values=load_metrics_file(metrics_file), kind="run", path=str(path))


def _baseline_metrics(reference: str, runs_dir: Path):
    """Read the baseline: a metrics JSON file when ``reference`` is a file, a run otherwise."""
    from dmrun.gate import Metrics, load_metrics_file

    candidate = Path(reference)
    if candidate.suffix.lower() == ".json" and not candidate.exists():
        raise ConfigError(f"--baseline file not found: {reference}", hint="give a metrics JSON file or a run")
    if candidate.is_file():
        return Metrics(label=f"baseline {candidate}", values=load_metrics_file(candidate), kind="file", path=str(candidate))
    run = _run_metrics(reference, runs_dir)
    return Metrics(label=f"baseline {run.label}", values=run.values, kind="run", path=run.path)


def _data_mismatch(run: Any, baseline: Any) -> list[str]:
    """List a warning when the run and a baseline run saw different data, so their metrics may not compare."""
    from dmrun.rundir import read_json_file

    if baseline is None or baseline.kind != "run":
        return []
    sides = [read_json_file(Path(side.path) / "data.json") for side in (run, baseline)]
    sides = [side if isinstance(side, dict) else {} for side in sides]
    warnings = []
    for key in ("fingerprint", "source", "rows", "transactions"):
        values = [side.get(key) for side in sides]
        if None not in values and values[0] != values[1]:
            labels = [str(value)[:16] if key == "fingerprint" else str(value) for value in values]
            warnings.append(
                f"the run and the baseline saw different data: {key} {labels[0]} against {labels[1]}; "
                "compare runs on the same data for a meaningful gate"
            )
            break
    return warnings


def _describe(metrics: Any) -> dict[str, Any]:
    return {"kind": metrics.kind, "path": metrics.path, "metrics": metrics.values}


def _append_step_summary(summary: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY, the file GitHub Actions shows on the job's summary page."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(summary + "\n")
    except OSError as err:
        output.stderr.print(f"[yellow]warning:[/] cannot append to $GITHUB_STEP_SUMMARY ({target}): {err.strerror or err}")
