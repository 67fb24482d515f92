"""``dmrun report``: one self-contained HTML or Markdown file for a run, two runs, or a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from dmrun.cli import RUNS_DIR_HELP, _runs_dir, _state, app, handle_errors, output
from dmrun.errors import ConfigError

RUN_HELP = "Run folder path, a unique prefix of a run id, latest, or a sweep folder."


def resolve_target(reference: str, runs_dir: Path) -> tuple[str, Path]:
    """Return ("sweep", folder) for a sweep folder or a unique sweep id prefix, else ("run", folder).

    Raises:
        ConfigError: when nothing or more than one run matches ``reference``.
    """
    from dmrun.rundir import resolve_run

    candidate = Path(reference)
    if (candidate / "sweep.json").is_file():
        return "sweep", candidate
    if not (candidate / "run.json").is_file() and runs_dir.is_dir() and reference != "latest":
        sweeps = [child for child in runs_dir.iterdir() if child.name.startswith(reference) and (child / "sweep.json").is_file()]
        if len(sweeps) == 1:
            return "sweep", sweeps[0]
    return "run", resolve_run(reference, runs_dir)


def _check_output(path: Optional[Path], flag: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise ConfigError(f"{flag} folder does not exist: {path.parent}", hint="create it first")


@app.command()
@handle_errors
def report(
    run: str = typer.Argument(..., help=RUN_HELP),
    vs: Optional[str] = typer.Option(None, "--vs", help="A second run to compare with RUN side by side."),
    html_file: Optional[Path] = typer.Option(None, "--html", help="Write the HTML report here (default: report.html in the run folder)."),
    markdown_file: Optional[Path] = typer.Option(
        None, "--markdown", help="Write a Markdown report here, with its images in a <name>_images/ folder beside it."
    ),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document with the files written."),
) -> None:
    """Write a self-contained report of a run (plots embedded), of two runs with --vs, or of a sweep."""
    from dmrun.reports import content, render
    from dmrun.rundir import resolve_run, write_atomic

    _state["json"] = as_json
    _check_output(html_file, "--html")
    _check_output(markdown_file, "--markdown")
    folder_runs = _runs_dir(runs_dir)
    kind, path = resolve_target(run, folder_runs)
    if vs is not None:
        if kind == "sweep":
            raise ConfigError("--vs compares two runs, but RUN is a sweep folder", hint="give two run folders or ids")
        other = resolve_run(vs, folder_runs)
        kind, document = "comparison", content.comparison_document(path, other)
        default_name = f"report-vs-{other.name}.html"
    elif kind == "sweep":
        document, default_name = content.sweep_document(path), "report.html"
    else:
        document, default_name = content.run_document(path), "report.html"

    if html_file is None and markdown_file is None:
        html_file = path / default_name
    written: dict[str, Any] = {}
    if html_file is not None:
        write_atomic(html_file, render.to_html(document))
        written["html"] = str(html_file)
    if markdown_file is not None:
        files = render.write_markdown(document, markdown_file)
        written["markdown"] = str(markdown_file)
        written["markdown_images"] = [str(item) for item in files[1:]]
    if as_json:
        output.print_json({"kind": kind, "source": str(path), **written})
        return
    for key in ("html", "markdown"):
        if key in written:
            output.stdout.print(written[key], markup=False, highlight=False, soft_wrap=True)
