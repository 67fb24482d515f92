"""The ``dmrun`` command line.

Commands import heavy libraries (torch, scikit-learn, pandas, mlxtend) only while they run, so
``dmrun --help``, ``validate`` and ``list`` start in a fraction of a second.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from dmrun import __version__
from dmrun.cli import output
from dmrun.gctools import freeze_startup_objects
from dmrun.errors import EXIT_GATE, EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGPIPE, EXIT_SIGTERM, ConfigError, DmrunError, RunInterrupted
from dmrun.redact import RedactingFilter

app = typer.Typer(
    name="dmrun",
    help="Run deep learning and data mining experiments from YAML configs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
mine_app = typer.Typer(
    help="Mine frequent itemsets and association rules from basket data.", no_args_is_help=True
)
app.add_typer(mine_app, name="mine")

_state = {"verbose": False}

RUNS_DIR_HELP = "Folder that receives the run folder. [env: DMRUN_RUNS_DIR]"
JSON_HELP = "Print one JSON document on stdout (run folder, status, metrics) instead of tables."
EXPECT_HELP = "Check a final metric, such as 'accuracy>=0.95'; exit code 4 when it fails. Repeatable."
RUN_NAME_HELP = "Name the run folder exactly this (letters, digits, '.', '_', '-'); an existing one is an error unless --overwrite."
RESUME_HELP = "Continue an interrupted or crashed mlp, cnn or rnn run (folder path, run id prefix or latest) in its own folder."
NPROC_HELP = "Train an mlp, cnn or rnn on this many local processes with DistributedDataParallel (started as torchrun does)."
DIST_TIMEOUT_DEFAULT = 600.0
DIST_TIMEOUT_HELP = "Under torchrun or --nproc: seconds a rank waits for the others before it fails."
SET_HELP = "Override a config value, such as train.epochs=5 or model.hidden_sizes=[64,32]; repeatable."


def _version(value: bool) -> None:
    if value:
        output.stdout.print(f"dmrun {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Run deep learning and data mining experiments from YAML configs."""
    _state.update(verbose=verbose, json=False, run_dir=None, worker=False)
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    """Send warnings (and with --verbose, debug logs) of dmrun's loggers to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.set_name("dmrun-console")
    handler.addFilter(lambda record: not record.name.startswith("dmrun.run"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("dmrun")
    logger.handlers = [item for item in logger.handlers if item.get_name() != "dmrun-console"]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Render ``DmrunError`` and unexpected errors once, and exit with their code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DmrunError as err:
            if _state.get("worker"):
                raise typer.Exit(err.exit_code) from None  # rank 0 reports the errors of a distributed run
            output.print_error(err)
            if _state.get("json"):
                output.print_json(output.error_document(err, _state.get("run_dir")))
            raise typer.Exit(err.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            output.discard_stdout()
            raise typer.Exit(EXIT_SIGPIPE) from None
        except Exception as err:  # noqa: BLE001 - the CLI boundary reports every failure once
            if isinstance(err, RunInterrupted):
                raise
            if _state.get("worker") and not _state["verbose"]:
                raise typer.Exit(EXIT_RUN_FAILED) from None
            output.print_unexpected(err, _state["verbose"])
            if _state.get("json"):
                output.print_json(output.error_document(err, _state.get("run_dir")))
            raise typer.Exit(EXIT_RUN_FAILED) from None

    return wrapper


def _runs_dir(value: Optional[Path]) -> Path:
    return value or Path(os.environ.get("DMRUN_RUNS_DIR", "runs"))


def _install_signal_handlers(distributed: bool = False) -> dict[int, Any]:
    """Make SIGINT and SIGTERM stop the run; return the handlers they replace.

    The first signal raises ``RunInterrupted``, so the run records itself as interrupted. It
    also restores the default action, so a second signal ends the process at once. Under
    torchrun, later signals are ignored instead: torchrun forwards the Ctrl-C that its workers
    already got, and kills workers that have not exited 30 seconds later. A signal that is
    already ignored stays ignored, because a shell starts a script's background jobs with
    SIGINT ignored so that a Ctrl-C meant for the script does not reach them.
    """
    after_first = signal.SIG_IGN if distributed else signal.SIG_DFL
    handled = [signum for signum in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(signum) is not signal.SIG_IGN]

    def stop(signum: int, frame: Any) -> None:
        for number in handled:
            signal.signal(number, after_first)
        raise RunInterrupted(EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM)

    return {signum: signal.signal(signum, stop) for signum in handled}


def execute(
    loaded: Any,
    runs_dir: Path,
    quiet: bool,
    as_json: bool = False,
    expectations: list[Any] | None = None,
    folder: str | None = None,
    overwrite: bool = False,
    resume: Path | None = None,
    session: Any = None,
) -> None:
    """Run a loaded config, print its summary and check ``--expect``; shared by ``train`` and ``mine``.

    ``folder`` names the run folder exactly (``--run-name``), and ``resume`` continues the run
    in that folder instead of starting one. Exits with code 4 when an expectation does not
    hold; the run itself stays ``completed``. ``session`` is rank 0's distributed session.
    """
    from dmrun.runner import run_experiment

    reporter = output.ConsoleReporter(quiet=quiet)
    created: list[Any] = []

    def on_created(run: Any) -> None:
        created.append(run)
        _state["run_dir"] = str(run.path)

    previous_handlers = _install_signal_handlers(distributed=session is not None)
    try:
        if resume is not None:
            from dmrun.resume import resume_experiment

            outcome = resume_experiment(resume, loaded, reporter, on_created=on_created, session=session)
        else:
            outcome = run_experiment(
                loaded, runs_dir, reporter, on_created=on_created, folder=folder, overwrite=overwrite, session=session
            )
    except (KeyboardInterrupt, RunInterrupted) as err:
        reporter.close()
        code = err.exit_code if isinstance(err, RunInterrupted) else 130
        output.stderr.print("[yellow]interrupted[/]" + (f"; run folder: {created[0].path}" if created else ""))
        _state["interrupt_reported"] = True
        if as_json:
            record = created[0].record if created else {}
            recorded = record.get("error") or {}
            signal_name = "SIGINT" if code == EXIT_SIGINT else "SIGTERM"
            error = {
                "type": "Interrupted",  # the same type as an interrupt before the run started
                "message": recorded.get("message") or f"interrupted by {signal_name}",
                "hint": recorded.get("hint"),
                "details": recorded.get("details", []),
            }
            output.print_json(
                {
                    "run_dir": _state.get("run_dir"),
                    "id": record.get("id"),
                    "name": record.get("name"),
                    "status": "interrupted",
                    "exit_code": code,
                    "duration_s": record.get("duration_s"),
                    "last_completed_epoch": record.get("last_completed_epoch"),
                    "error": error,
                }
            )
        raise typer.Exit(code) from None
    except Exception:
        reporter.close()
        if created:
            output.stderr.print(f"run folder (failed): {created[0].path}")
        raise
    finally:
        # A rank 0 that records another rank's failure keeps ignoring the SIGTERM torchrun sends.
        if session is None or not session.ignoring_signals:
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
    reporter.close()

    result = outcome.result
    try:
        checks = [expectation.check(result.metrics) for expectation in expectations or []]
    except DmrunError as err:
        outcome.run.record.update(exit_code=err.exit_code, expectations_error=err.message)
        outcome.run.write_record()
        raise
    failed = [check for check in checks if not check["passed"]]
    if checks:
        # The run itself completed, and its exit code records the gate's verdict, which is what the shell gets.
        outcome.run.record.update(expectations=checks, exit_code=EXIT_GATE if failed else 0)
        outcome.run.write_record()
    if as_json:
        document = output.run_document(outcome.run.record, outcome.run.path, result)
        if checks:
            document["expectations"] = checks
        output.print_json(document)
    else:
        config = outcome.config
        output.print_metrics(result.metrics, title=f"{outcome.run.record['name']}: {output.describe_config(config)}")
        if result.table is not None:
            header, rows = result.table
            output.print_table(header, rows, title=f"top {len(rows)}")
        output.stdout.print(f"run folder: {outcome.run.path}")
    for check in checks:
        verdict = "[green]passed[/]" if check["passed"] else "[red]failed[/]"
        output.stderr.print(f"expect {check['expect']}: {verdict} ({check['metric']} = {output.format_value(check['value'])})")
    if failed:
        raise typer.Exit(EXIT_GATE)


@app.command()
@handle_errors
def train(
    config: Optional[Path] = typer.Argument(None, metavar="CONFIG", help="Experiment config (YAML); optional with --resume."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress, only the results."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    expect: Optional[list[str]] = typer.Option(None, "--expect", help=EXPECT_HELP),
    run_name: Optional[str] = typer.Option(None, "--run-name", help=RUN_NAME_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --run-name, replace an earlier run of that name."),
    resume: Optional[str] = typer.Option(None, "--resume", help=RESUME_HELP),
    nproc: int = typer.Option(1, "--nproc", min=1, help=NPROC_HELP),
    dist_timeout: float = typer.Option(DIST_TIMEOUT_DEFAULT, "--dist-timeout", min=1, help=DIST_TIMEOUT_HELP),
) -> None:
    """Train and evaluate the model a config describes, into a new run folder."""
    from dmrun.config.loading import load_config
    from dmrun.distributed import check_distributable, rank_environment
    from dmrun.expect import parse_expectation

    _state["json"] = as_json
    check_train_options(config, overrides, run_name, overwrite, resume)
    environment = rank_environment()
    if nproc > 1:
        from dmrun.cli.launch import launch_train

        if environment is not None:
            raise ConfigError("--nproc cannot be used under torchrun, which already started the processes", hint="drop --nproc")
        raise typer.Exit(launch_train(nproc, config, overrides, runs_dir, quiet, as_json, expect, run_name, overwrite, resume, dist_timeout, _state["verbose"]))
    if environment is not None and environment.rank != 0:
        _become_worker()
    expectations = [parse_expectation(text) for text in expect or []]
    loaded = load_config(config, overrides or []) if config is not None else None
    resume_path = None
    if resume is not None and (environment is None or environment.rank == 0):
        from dmrun.rundir import resolve_run

        resume_path = resolve_run(resume, _runs_dir(runs_dir))
    if loaded is not None or resume_path is not None:
        algorithm = loaded.config.model.type if loaded else _recorded_algorithm(resume_path)
        for expectation in expectations:
            expectation.check_name(algorithm)
        if environment is not None:
            check_distributable(algorithm, loaded.config.train.batch_size if loaded else None, environment.world_size)
    if loaded is not None and loaded.config.sweep is not None and environment is None:
        output.stderr.print("[yellow]warning:[/] train ignores the sweep: block and trains the config as written; use dmrun sweep")
    if environment is None:
        execute(loaded, _runs_dir(runs_dir), quiet or as_json, as_json, expectations, run_name, overwrite, resume_path)
        return
    _train_distributed(environment, loaded, resume, resume_path, _runs_dir(runs_dir), dist_timeout, quiet, as_json, expectations, run_name, overwrite)


def _train_distributed(
    environment: Any,
    loaded: Any,
    resume: Optional[str],
    resume_path: Optional[Path],
    runs_dir: Path,
    timeout_s: float,
    quiet: bool,
    as_json: bool,
    expectations: list[Any],
    run_name: Optional[str],
    overwrite: bool,
) -> None:
    """Train as one rank of a torchrun job: rank 0 like a single process, the others silently."""
    from dmrun.distributed import Session

    session = Session.start(environment, _device_setting(loaded, resume, runs_dir), timeout_s)
    try:
        if session.is_main:
            execute(loaded, runs_dir, quiet or as_json, as_json, expectations, run_name, overwrite, resume_path, session=session)
            return
        previous_handlers = _install_signal_handlers(distributed=True)
        try:
            if resume is not None:
                from dmrun.resume import resume_on_worker

                resume_on_worker(session)
            else:
                from dmrun.runner import run_experiment

                run_experiment(loaded, runs_dir, session=session)
        except RunInterrupted as err:
            raise typer.Exit(err.exit_code) from None
        finally:
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
    finally:
        session.close()


def _become_worker() -> None:
    """Silence a rank other than 0: no stdout, no progress, and logs at error level only."""
    _state["worker"] = True
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if not _state["verbose"]:
        for handler in logging.getLogger("dmrun").handlers:
            if handler.get_name() == "dmrun-console":
                handler.setLevel(logging.ERROR)


def _device_setting(loaded: Any, resume: Optional[str], runs_dir: Path) -> str:
    """Return ``train.device`` of the config, or of the resumed run's config when this node has it."""
    if loaded is not None:
        return loaded.config.train.device
    from dmrun.config.loading import load_config
    from dmrun.rundir import resolve_run

    try:
        return load_config(resolve_run(str(resume), runs_dir) / "config.yaml").config.train.device
    except DmrunError:
        return "auto"  # NOTE: a node without the run folder guesses; pass CONFIG with --resume there


def check_train_options(
    config: Optional[Path], overrides: Optional[list[str]], run_name: Optional[str], overwrite: bool, resume: Optional[str]
) -> None:
    """Reject missing or conflicting ``train`` options before anything runs."""
    from dmrun.names import NAME_RULE, name_problem

    if config is None and resume is None:
        raise ConfigError("missing argument CONFIG", hint="give a config file, or --resume RUN to continue a run")
    if resume is not None:
        conflicting = [flag for flag, given in (("--set", overrides), ("--run-name", run_name), ("--overwrite", overwrite)) if given]
        if conflicting:
            raise ConfigError(
                f"--resume continues a run with its own config and folder, so {', '.join(conflicting)} cannot be used with it",
                hint="start a new run to change the config or the folder",
            )
    if overwrite and run_name is None:
        raise ConfigError("--overwrite applies only with --run-name", hint="other run folders get a unique name and never collide")
    if run_name is not None:
        problem = name_problem(run_name)
        if problem is not None:
            raise ConfigError(f"invalid value for --run-name: {run_name!r}: {problem}", hint=f"use {NAME_RULE}")


def _recorded_algorithm(run: Path) -> str:
    from dmrun.rundir import read_record

    return str((read_record(run) or {}).get("algorithm"))


@app.command()
@handle_errors
def validate(
    configs: list[Path] = typer.Argument(..., help="Config files to check."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document with the result of every config."),
    output_format: str = typer.Option("text", "--format", help="text, or json (the same as --json)."),
) -> None:
    """Check configs and their dataset references without running them."""
    from dmrun.cli.inspect import validate_configs

    if output_format not in ("text", "json"):
        raise ConfigError(f"invalid value for --format: '{output_format}'", hint="use text or json")
    as_json = as_json or output_format == "json"
    _state["json"] = as_json
    failures = validate_configs(configs, overrides or [], as_json)
    if failures:
        raise typer.Exit(2)


@app.command(name="list")
@handle_errors
def list_command() -> None:
    """List algorithms, built-in datasets and preprocessing steps."""
    from dmrun.cli.inspect import print_catalogue

    print_catalogue()


@app.command()
@handle_errors
def predict(
    run: str = typer.Argument(..., help="Run folder path, a unique prefix of a run id, or latest."),
    data: Path = typer.Argument(
        ..., help="Data with the columns the model was trained on: a table, or IDX or .npy images or features."
    ),
    labels: Optional[Path] = typer.Option(
        None, "--labels", help="IDX or .npy labels file for IDX or .npy DATA; the predictions are then scored."
    ),
    output_file: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the predictions as CSV here instead of stdout."),
    data_format: Optional[str] = typer.Option(
        None, "--format", help="Format of DATA when its name does not tell (csv, tsv, parquet, jsonl, arff, npy, npz, idx, xlsx)."
    ),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of DATA; default: the run's dataset.encoding."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Excel worksheet of DATA, by name or 0-based index; default: the run's dataset.sheet."),
    decimal: Optional[str] = typer.Option(None, "--decimal", help="Decimal separator of numbers in DATA, . or ,; default: the run's dataset.decimal."),
    delimiter: Optional[str] = typer.Option(
        None, "--delimiter", help="Field delimiter of a CSV or TSV DATA file (\\t or tab for a tab); default: the run's dataset.delimiter."
    ),
    skip_rows: int = typer.Option(
        0, "--skip-rows", help="Lines to skip at the start of a text DATA file, such as a title line (the run's own skip_rows is not reused)."
    ),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help="Folder that contains the runs. [env: DMRUN_RUNS_DIR]"),
    as_json: bool = typer.Option(
        False, "--json", help="Print metrics as one JSON document, with the predictions unless --output is given."
    ),
) -> None:
    """Predict with a finished run's preprocessing and model; scores the rows when they have the target."""
    from dmrun.predict import predict_run
    from dmrun.rundir import resolve_run, write_atomic

    _state["json"] = as_json
    if output_file is not None and not output_file.parent.is_dir():
        raise ConfigError(f"--output folder does not exist: {output_file.parent}", hint="create it first")
    if decimal not in (None, ".", ","):
        raise ConfigError(f"invalid value for --decimal: '{decimal}'", hint="use . or ,")
    reading = {
        "format": _data_format(data_format),
        "encoding": encoding,
        "sheet": _sheet(sheet),
        "decimal": decimal,
        "delimiter": _delimiter(delimiter),
        "skip_rows": _skip_rows(skip_rows),
    }
    result = predict_run(resolve_run(run, _runs_dir(runs_dir)), data, labels, reading)
    if output_file is not None:
        write_atomic(output_file, result.frame.to_csv(index=False))
        output.stderr.print(f"wrote {len(result.frame)} predictions to {output_file}")
    if as_json:
        document: dict[str, Any] = {"rows": len(result.frame), "metrics": result.metrics}
        if output_file is None:
            document["predictions"] = json.loads(result.frame.to_json(orient="records", force_ascii=False, date_format="iso"))
        else:
            document["output"] = str(output_file)
        output.print_json(document)
        return
    if output_file is None:
        sys.stdout.write(result.frame.to_csv(index=False))
    if result.metrics is not None:
        # With the rows on stdout, the table goes to stderr, so `> file.csv` keeps a clean CSV.
        console = output.stderr if output_file is None else output.stdout
        output.print_metrics(result.metrics, title="metrics on the given targets", console=console)


def _delimiter(value: str | None) -> str | None:
    """Check a ``--delimiter`` value as ``dataset.delimiter`` is checked; ``\\t`` and ``tab`` mean a tab."""
    if value is None:
        return None
    from dmrun.config.schema import checked_delimiter

    try:
        return checked_delimiter(value)
    except ValueError as err:
        raise ConfigError(f"invalid value for --delimiter: {err}") from None


def _skip_rows(value: int) -> int:
    """Check a ``--skip-rows`` value and return it."""
    if value < 0:
        raise ConfigError(f"invalid value for --skip-rows: {value}", hint="use 0 or a positive number of lines")
    return value


def _data_format(value: str | None) -> str | None:
    """Check ``predict --format`` against the formats the readers know."""
    if value is None:
        return None
    from typing import get_args

    from dmrun.config.schema import DatasetConfig
    from dmrun.suggest import closest_hint

    choices = [choice for choice in get_args(DatasetConfig.model_fields["format"].annotation) if choice not in ("auto", "basket")]
    if value.lower() not in choices:
        raise ConfigError(f"--format: unknown format {value!r}", hint=closest_hint(value, choices, "formats"))
    return value.lower()


def _sheet(value: str | None) -> int | str | None:
    """Read ``predict --sheet``: digits are a 0-based index, anything else a sheet name."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@app.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the config, for editor completion and checking."""
    from dmrun.config.schema import ExperimentConfig

    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ExperimentConfig.model_json_schema(),
        "title": "dmrun experiment config",
    }
    output.print_json(document)


from dmrun.cli import mine as _mine  # noqa: E402,F401  registers the mine commands
from dmrun.cli import runs as _runs  # noqa: E402,F401  registers the runs commands
from dmrun.cli import gate as _gate  # noqa: E402,F401  registers the gate command
from dmrun.cli import compare as _compare  # noqa: E402,F401  registers runs diff and runs compare
from dmrun.cli import sweep as _sweep  # noqa: E402,F401  registers the sweep command
from dmrun.cli import reproduce as _reproduce  # noqa: E402,F401  registers the reproduce command
from dmrun.cli import report as _report  # noqa: E402,F401  registers the report command


def run() -> None:
    """Run the ``dmrun`` script and ``python -m dmrun``: :func:`main` in a process of its own.

    Only such a process freezes its objects for the garbage collector and ends without
    Python's teardown, because it ends after one command; tests call :func:`main` many times
    in one process.
    """
    freeze_startup_objects()
    try:
        main()
    except SystemExit as exit_:
        end_process(exit_.code)
        raise


def end_process(code: object) -> None:
    """End the process with exit code ``code`` once its output and exit handlers are done.

    Python's own teardown frees every module and object one by one. After a tree run, with
    pandas, scikit-learn and SciPy imported, that took about 0.2 s, and every run file is
    closed by then. The ``atexit`` handlers (logging, temporary folders, worker pools) run and
    the output buffers are flushed first. The function returns, for the normal exit, when
    ``code`` is not an int or a non-daemon thread is still running, so that thread can finish.
    """
    import atexit
    import threading

    if code is None:
        code = 0
    if not isinstance(code, int):
        return
    current = threading.current_thread()
    if any(thread is not current and not thread.daemon and thread.is_alive() for thread in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # NOTE: CPython's own function, not public API, and the only way to run them now
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue  # Python sets a stream to None when its file descriptor was closed at start
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream drops what is left, as it does at a normal exit
    if os.name == "posix":
        import ctypes

        ctypes.CDLL(None).fflush(None)  # output that C extensions wrote through stdio
    os._exit(code)


def main() -> None:
    """Run one ``dmrun`` command line from ``sys.argv`` and exit with its code.

    Usage errors found by the option parser are printed as ``error:`` and ``hint:`` lines, like
    every other error, and exit with code 2. With ``--json`` on the command line, a failure that
    printed no JSON document yet prints one, so stdout always contains one.
    """
    usage_error: dict[str, str] = {}
    output.begin_invocation()
    try:
        try:
            try:
                result = app(standalone_mode=False)
            except SystemExit as exit_:
                wrapped = getattr(sys.stdout, "wrapped", None)
                if exit_.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper" and wrapped is not None:
                    # The option parser exits with 1 when the pipe closes while it prints help.
                    sys.stdout = wrapped
                    output.discard_stdout()
                    sys.exit(EXIT_SIGPIPE)
                raise
            except typer.TyperException as error:
                usage_error.update(_report_usage_error(error))
                sys.exit(error.exit_code)
            except typer.Abort:
                output.stderr.print("[yellow]aborted[/]")
                sys.exit(1)
            except OSError as error:  # an eager option, such as --version, printing into a full disk
                output.print_error(output.stdout_error(error, "the output"))
                sys.exit(EXIT_RUN_FAILED)
            if result == EXIT_SIGINT and not _state.get("interrupt_reported"):
                output.stderr.print("[yellow]interrupted[/]")  # typer turns a Ctrl-C before the run starts into exit 130
            sys.exit(result if isinstance(result, int) else 0)
        except (KeyboardInterrupt, RunInterrupted) as interrupt:
            output.stderr.print("[yellow]interrupted[/]")
            sys.exit(interrupt.exit_code if isinstance(interrupt, RunInterrupted) else EXIT_SIGINT)
    except SystemExit as exit_:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            output.discard_stdout()
            sys.exit(EXIT_SIGPIPE)
        except OSError as error:
            output.print_error(output.stdout_error(error, "the output"))
            sys.exit(EXIT_RUN_FAILED)
        code = exit_.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            code = 1
        if code != 0 and "--json" in sys.argv[1:] and not output.json_printed():
            error = {
                "type": "UsageError",
                "message": usage_error.get("message", "invalid command line; the error is on stderr"),
                "hint": usage_error.get("hint", "run the command with --help"),
                "details": [],
            }
            status = "failed"
            if code in (EXIT_SIGINT, EXIT_SIGTERM):
                status, signal_name = "interrupted", "SIGINT" if code == EXIT_SIGINT else "SIGTERM"
                error = {"type": "Interrupted", "message": f"interrupted by {signal_name}", "hint": None, "details": []}
            output.print_json({"run_dir": None, "status": status, "exit_code": code, "error": error})
        raise


def _report_usage_error(error: Exception) -> dict[str, str]:
    """Print a usage error from the option parser as ``error:`` and ``hint:`` lines."""
    context = getattr(error, "ctx", None)
    command = context.command_path if context is not None else "dmrun"
    if type(error).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(error.format_message().rstrip() + "\n")
        return {"message": f"'{command}' needs a command or an argument", "hint": f"run '{command} --help'"}
    message = error.format_message().strip()
    message = message[:1].lower() + message[1:]
    typed = _option_text(getattr(error, "param", None))
    if typed is not None and repr(typed) not in message and f"'{typed}'" not in message:
        message += f" (got {typed!r})"  # the parser's message names the value only for some errors
    hint = f"run '{command} --help' to see the commands and options"
    output.stderr.print(f"[bold red]error:[/] {output.escape_text(message)}")
    output.stderr.print(f"[yellow]hint:[/] {output.escape_text(hint)}")
    return {"message": message, "hint": hint}


def _option_text(param: Any) -> str | None:
    """Find the text typed on the command line for an option that failed to parse."""
    names = getattr(param, "opts", None) or []
    if getattr(param, "param_type_name", None) != "option":
        return None
    arguments = sys.argv[1:]
    for index, token in enumerate(arguments):
        for name in names:
            if token == name and index + 1 < len(arguments):
                return arguments[index + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token[len(name) + 1 :]
    return None
