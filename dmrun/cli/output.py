"""Console output: results to stdout, progress and errors to stderr.

This is the only module that prints for humans. Colour and progress bars appear only on a
terminal; ``NO_COLOR`` turns colour and other styles off.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

from dmrun.errors import EXIT_SIGPIPE, ConfigError, DmrunError
from dmrun.redact import redact_secrets

if TYPE_CHECKING:
    from rich.console import Console

    from dmrun.config.schema import ExperimentConfig


def _console(for_stderr: bool) -> Console:
    """Build a console; off a terminal, tables get 160 columns (or $COLUMNS) rather than 80.

    A non-empty ``NO_COLOR`` turns off every style (bold and dim too), not only colours.
    """
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            """Exit with 141, as a process killed by SIGPIPE would, when stdout's reader has gone."""
            self.quiet = True
            discard_stdout()
            raise SystemExit(EXIT_SIGPIPE)

    console_class = Console if for_stderr else StdoutConsole
    options: dict[str, Any] = {"stderr": True} if for_stderr else {}
    if os.environ.get("NO_COLOR"):
        options["color_system"] = None
    console = console_class(highlight=False, soft_wrap=True, **options)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = console_class(highlight=False, soft_wrap=True, width=160, **options)
    return console


class LazyConsole:
    """A rich console that is built on first use, so commands that print nothing never import rich."""

    def __init__(self, for_stderr: bool) -> None:
        self._for_stderr = for_stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = _console(self._for_stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


_printed = {"json": False}
stdout = LazyConsole(for_stderr=False)
stderr = LazyConsole(for_stderr=True)


def print_json(document: dict[str, Any]) -> None:
    """Write one JSON document to stdout, bypassing rich so nothing is wrapped or styled.

    Raises:
        DmrunError: when stdout cannot take the document (a full disk, for example). Stdout
            then points at the null device, so later output does not fail again.
    """
    from dmrun.rundir import dumps_json

    try:
        sys.stdout.write(dumps_json(document))
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise stdout_error(error, "the JSON document") from None
    _printed["json"] = True


def discard_stdout() -> None:
    """Point stdout at the null device, once its reader has gone or its device has failed.

    Once the reader has gone (`dmrun runs list | head`), the process exits with 141, as one
    killed by SIGPIPE would, instead of reporting a BrokenPipeError when Python flushes stdout.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def stdout_error(error: OSError, content: str) -> DmrunError:
    """Return the error for ``content`` that stdout could not take, after pointing stdout at the null device."""
    discard_stdout()
    return DmrunError(
        f"cannot write {content} to stdout: {error.strerror or error}",
        hint="free space where stdout goes, or send it to another file",
    )


def begin_invocation() -> None:
    """Forget the JSON document of an earlier invocation in this process (tests call the CLI in-process)."""
    _printed["json"] = False


def json_printed() -> bool:
    """Tell whether this process has written a JSON document to stdout."""
    return _printed["json"]


def run_document(record: dict[str, Any], path: Any, result: Any) -> dict[str, Any]:
    """Describe a finished run for ``--json``: where it is, how it ended and its metrics."""
    return {
        "run_dir": str(path),
        "id": record["id"],
        "name": record["name"],
        "status": record["status"],
        "exit_code": record["exit_code"],
        "duration_s": record["duration_s"],
        "metrics": result.metrics,
        "artifacts": result.artifacts,
    }


def error_document(error: BaseException, run_dir: str | None) -> dict[str, Any]:
    """Describe a failure for ``--json``; ``run_dir`` is null when no run folder was created."""
    details = getattr(error, "details", [])
    hint = getattr(error, "hint", None)
    return {
        "run_dir": run_dir,
        "status": "failed",
        "exit_code": getattr(error, "exit_code", 1),
        "error": {
            "type": type(error).__name__,
            "message": redact_secrets(getattr(error, "message", str(error))),
            "hint": None if hint is None else redact_secrets(hint),
            "details": [redact_secrets(detail) for detail in details],
        },
    }


def print_error(error: DmrunError) -> None:
    stderr.print(f"[bold red]error:[/] {escape_text(error.message)}")
    if isinstance(error, ConfigError):
        for detail in error.details:
            stderr.print(escape_text(detail))
    if error.hint:
        stderr.print(f"[yellow]hint:[/] {escape_text(error.hint)}")


def print_unexpected(error: BaseException, verbose: bool) -> None:
    """Report an error dmrun did not anticipate; the traceback only with --verbose.

    The traceback lists file, line and code of each frame, never local variables.
    """
    if verbose:
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        sys.stderr.write(redact_secrets("".join(lines)))
    stderr.print(f"[bold red]error:[/] unexpected {type(error).__name__}: {escape_text(str(error))}")
    if not verbose:
        stderr.print("[yellow]hint:[/] run again as `dmrun --verbose COMMAND ...` to see the traceback")


def escape_text(text: str) -> str:
    """Redact secret-looking values and escape rich markup in text shown on the console."""
    from rich.markup import escape

    return escape(redact_secrets(text))


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


SKIPPED_IN_SUMMARY = {"confusion_matrix", "feature_importances", "cluster_sizes", "warnings"}


def print_metrics(metrics: dict[str, Any], title: str, console: LazyConsole | None = None) -> None:
    """Print the scalar metrics as a two-column table on ``console`` (stdout by default)."""
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key in SKIPPED_IN_SUMMARY or isinstance(value, (list, dict)) or value is None:
            continue
        table.add_row(key, format_value(value))
    (console or stdout).print(table)


def print_table(header: list[str], rows: list[list[Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left")
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape_text(str(cell)) for cell in row))
    stdout.print(table)


def print_line(text: str) -> None:
    """Write one line to stdout as it is: no rich markup, so a path with brackets stays whole."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_columns(header: list[str], rows: list[list[Any]]) -> None:
    """Print rows as plain aligned columns, one line per row, so they stay greppable.

    Lines are written without rich, which took about 0.4 ms a line on a 1,000-run listing.
    They are written one at a time because under ``python -u`` a single large write to a pipe
    whose reader has gone can be cut short without an error, while the next write raises
    ``BrokenPipeError``.
    """
    cells = [header, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    for row in cells:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    sys.stdout.flush()


def print_csv(header: list[str], rows: list[list[Any]]) -> None:
    """Write rows as CSV on stdout; None becomes an empty cell."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    sys.stdout.flush()


def describe_config(config: ExperimentConfig) -> str:
    dataset = config.dataset.name or config.dataset.path
    kind = config.model.type
    if kind == "rules" and config.model.output == "itemsets":
        kind = "itemsets"
    return f"{kind} on {dataset}"


class ConsoleReporter:
    """Render trainer progress on stderr: a progress bar on a terminal, one plain line otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.interactive = stderr.is_terminal and not os.environ.get("CI")
        self._progress = None
        self._task = None

    def status(self, message: str) -> None:
        if not self.quiet:
            stderr.print(f"[dim]·[/] {escape_text(message)}")

    def epoch(self, epoch: int, epochs: int, values: dict[str, float]) -> None:
        if self.quiet:
            return
        shown = "  ".join(f"{key} {format_value(value)}" for key, value in values.items() if key not in ("epoch", "seconds"))
        if not self.interactive:
            stderr.print(f"epoch {epoch}/{epochs}  {shown}")
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=stderr.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=epochs)
        self._progress.update(self._task, completed=epoch, description=shown)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
