"""Run one validated config end to end: run folder, data, preprocessing, trainer, results."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dmrun.config.loading import LoadedConfig
from dmrun.config.schema import TORCH_MODELS, ExperimentConfig
from dmrun.data import check_reference
from dmrun.errors import (
    EXIT_RUN_FAILED,
    EXIT_SIGINT,
    ConfigError,
    DistributedError,
    DmrunError,
    RunDirError,
    RunInterrupted,
    TrainerError,
)
from dmrun.redact import RedactingFilter, redact_argv
from dmrun.rundir import RunDir, write_csv
from dmrun.trainers import TrainerEntry, get_entry, load_trainer
from dmrun.trainers.base import Checkpointing, Reporter, SilentReporter, TrainContext, TrainResult

logger = logging.getLogger("dmrun")
# Lifecycle messages go to the run's log file; the CLI renders the same errors itself.
lifecycle = logging.getLogger("dmrun.run")


# The checkpoint file of a torch run: its state after the last completed epoch, for `train --resume`.
CHECKPOINT_FILE = "checkpoint/last.pt"


class LoggingReporter:
    """Forward progress to another reporter, log it, and keep history.csv current.

    history.csv is rewritten (atomically) after every epoch, so a run killed without warning
    still leaves the epochs it completed.
    """

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.history_path: Path | None = None
        self.rows: list[dict[str, Any]] = []

    def epoch(self, epoch: int, epochs: int, values: dict[str, float]) -> None:
        # history.csv is written before the epoch is logged, so a reader that sees the log line
        # also finds the row.
        self.rows.append(dict(values))
        if self.history_path is not None:
            write_history(self.history_path, self.rows)
        shown = " ".join(f"{key}={value:.6g}" for key, value in values.items() if key != "epoch")
        lifecycle.info("epoch %d/%d %s", epoch, epochs, shown)
        self.inner.epoch(epoch, epochs, values)

    def status(self, message: str) -> None:
        lifecycle.info("%s", message)
        self.inner.status(message)


@dataclass
class RunOutcome:
    """A finished run; ``run`` is None on the ranks of a distributed run other than 0."""

    run: RunDir | None
    result: TrainResult
    config: ExperimentConfig


def resolved_config(loaded: LoadedConfig) -> dict[str, Any]:
    """Return the config with defaults filled and the dataset path made absolute."""
    config = loaded.config
    # The sweep block describes other runs, not this one, so a trial's config is the same with or without it.
    exclude = {"sweep"} if config.model.type in TORCH_MODELS else {"train", "sweep"}
    if config.spark is None:
        exclude.add("spark")
    data = config.model_dump(mode="json", exclude=exclude)
    if data["model"].get("min_count") is not None:
        del data["model"]["min_support"]  # replaced by min_count; a config may not give both
    if config.dataset.path is not None:
        data["dataset"]["path"] = str(loaded.resolve_path(config.dataset.path).resolve())
    if config.dataset.labels is not None:
        data["dataset"]["labels"] = str(loaded.resolve_path(config.dataset.labels).resolve())
    return data


def config_fingerprint(resolved: dict[str, Any]) -> str:
    """Return the SHA-256 of a resolved config; a checkpoint is resumed only under the same one."""
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode("utf-8")).hexdigest()


def prepare_data(config: ExperimentConfig, base_dir: Path, kind: str):
    """Load the dataset and shape it for a trainer that consumes ``kind`` data."""
    from dmrun.data import load_dataset, mining_dataset_config
    from dmrun.data import prepare as preparing
    from dmrun.data.baskets import table_baskets
    from dmrun.data.types import Baskets, Table
    from dmrun.errors import ConfigError

    if config.engine == "spark":
        from dmrun.spark.prepare import prepare

        return prepare(config, base_dir, kind)
    dataset_config = config.dataset
    if kind == "baskets":
        dataset_config = mining_dataset_config(dataset_config)
    dataset = load_dataset(dataset_config, base_dir, config.seed)
    model_type = config.model.type
    if kind == "baskets":
        if isinstance(dataset, Table):
            # A table is mined row by row, each cell becoming a column=value item.
            dataset = table_baskets(dataset, config.preprocess)
        return dataset, {"source": dataset.source, **dataset.summary}
    if isinstance(dataset, Baskets):
        raise ConfigError(
            f"model type '{model_type}' needs a table, but {dataset.source} contains baskets",
            hint="use model type rules for basket data, or set dataset.format to csv or tsv",
        )
    assert isinstance(dataset, Table)
    task = config.dataset.task if config.dataset.task != "auto" else dataset.task
    if task == "forecasting":
        if model_type != "rnn":
            raise ConfigError(
                f"forecasting needs model type 'rnn', got '{model_type}'",
                hint="use `model: {type: rnn}` or set dataset.task to classification or regression",
            )
        prepared = preparing.prepare_series(dataset, config)
    elif kind == "clustering":
        prepared = preparing.prepare_clustering(dataset, config)
    else:
        prepared = preparing.prepare_supervised(dataset, config, sparse=get_entry(model_type).sparse_input)
    return prepared, prepared.summary


def run_experiment(
    loaded: LoadedConfig,
    runs_dir: Path,
    reporter: Reporter | None = None,
    on_created: Any = None,
    folder: str | None = None,
    overwrite: bool = False,
    session: Any = None,
) -> RunOutcome:
    """Run ``loaded`` into a new folder under ``runs_dir`` (named ``folder`` when given).

    The run record ends as ``completed``, ``failed`` or ``interrupted`` for any error the
    process survives (a SIGKILL leaves ``running``, which ``runs list`` shows as crashed). The
    error, if any, is re-raised for the CLI to render. With a distributed ``session``, rank 0
    creates the folder and the other ranks train without one.
    """
    config = loaded.config
    entry = get_entry(config.model.type)
    if session is not None and not session.is_main:
        session.share_outcome(None)  # raises rank 0's error when it could not create the folder
        return run_on_worker(loaded, entry, session)
    check_reference(config.dataset, loaded.base_dir)
    if config.engine == "spark":
        check_spark(config, loaded.base_dir)
    try:
        run = RunDir.create(runs_dir, config.name, config.seed, loaded.path, folder=folder, overwrite=overwrite)
    except BaseException as err:
        if session is not None:
            session.share_outcome(err)
        raise
    run.record["algorithm"] = entry.name
    if config.engine is not None:
        run.record["engine"] = config.engine
    if loaded.overrides:
        run.record["overrides"] = redact_argv(loaded.overrides)
    if session is not None:
        run.record["distributed"] = session.describe()
    try:
        run.write_record()
    except BaseException as err:
        run.unlock()
        if session is not None:
            session.share_outcome(err)
        raise
    if session is not None:
        session.share_outcome(None)
    return run_in(run, loaded, entry, reporter, on_created, session=session)


def run_on_worker(loaded: LoadedConfig, entry: TrainerEntry, session: Any, resume_from: dict[str, Any] | None = None) -> RunOutcome:
    """Train on a rank other than 0 of a distributed run, which writes no files.

    The rank's own errors are published for rank 0 to record, and re-raised.
    """
    config = loaded.config
    checkpointing = Checkpointing(None, config_fingerprint(resolved_config(loaded)), resume_from)
    context = TrainContext(model_dir=None, artifacts=None, seed=config.seed, checkpointing=checkpointing, distributed=session)
    try:
        data, _ = prepare_agreed(loaded, entry, session)
        result = load_trainer(entry.name).fit(config, data, context)
    except BaseException as err:
        if not isinstance(err, (KeyboardInterrupt, RunInterrupted)):
            session.publish_failure(err)
        raise
    return RunOutcome(run=None, result=result, config=config)


def prepare_agreed(loaded: LoadedConfig, entry: TrainerEntry, session: Any):
    """Load the data, and in a distributed run check that every rank loaded the same data.

    A rank that fails to load the data makes every rank raise its error (``PeerFailed`` on the
    others), so no rank waits for it.
    """
    config = loaded.config
    if session is None:
        return prepare_data(config, loaded.base_dir, entry.data)
    try:
        check_reference(config.dataset, loaded.base_dir)  # the data file may be missing on this node only
        data, summary = prepare_data(config, loaded.base_dir, entry.data)
    except Exception as err:
        session.agree(err, {})
        raise
    session.agree(None, {"config": config_fingerprint(resolved_config(loaded)), "data": summary.get("fingerprint")})
    return data, summary


def run_in(
    run: RunDir,
    loaded: LoadedConfig,
    entry: TrainerEntry,
    reporter: Reporter | None,
    on_created: Any,
    resume_from: dict[str, Any] | None = None,
    resuming: bool = False,
    session: Any = None,
) -> RunOutcome:
    """Load the data, train and save the results into ``run``, whose lock this call releases.

    When ``resuming``, the folder already has its config and data summary, the data must match
    that summary, and training continues from ``resume_from`` (or from the start without one).
    """
    config = loaded.config
    reporter = LoggingReporter(reporter or SilentReporter())
    reporter.history_path = run.path / "history.csv"
    if resume_from is not None:
        reporter.rows = [dict(row) for row in resume_from["history"]]
    if on_created is not None:
        on_created(run)
    handler = _attach_log_file(run.path / "log.txt")
    context = TrainContext(
        model_dir=run.model_dir, artifacts=run.artifacts, seed=config.seed, reporter=reporter, distributed=session
    )
    if config.model.type in TORCH_MODELS:
        checkpointing = Checkpointing(run.path / CHECKPOINT_FILE, config_fingerprint(resolved_config(loaded)), resume_from)
        context.checkpointing = checkpointing
    try:
        if not resuming:
            run.write_text("config.yaml", yaml.safe_dump(resolved_config(loaded), sort_keys=False, allow_unicode=True))
        kind = "itemsets" if entry.name == "rules" and config.model.output == "itemsets" else entry.name
        lifecycle.info("run %s %s: %s on %s", run.path.name, "resumed" if resuming else "started", kind, config.dataset.name or config.dataset.path)

        reporter.status("loading data")
        data, summary = prepare_agreed(loaded, entry, session)
        if "spark" in summary:
            run.record["spark"] = summary["spark"]
        if not resuming:
            run.write_json("data.json", summary)
        else:
            check_same_data(run.path / "data.json", summary)

        reporter.status("mining" if entry.name == "rules" else f"training {entry.name}")
        trainer = load_trainer(entry.name)
        result = trainer.fit(config, data, context)

        run.write_json("metrics.json", result.metrics)
        if result.history:
            write_history(run.path / "history.csv", result.history)
        # A completed run cannot be resumed, so its checkpoint would only take space.
        shutil.rmtree(run.path / Path(CHECKPOINT_FILE).parent, ignore_errors=True)
        if config.report.plots:
            reporter.status("drawing plots")
            # Spark data stays in Spark, so plots drawn from the rows in memory are left out.
            in_memory = None if config.engine == "spark" else data
            result.artifacts += _make_plots(run.path, entry.name, result, in_memory)
        run.finish("completed", 0, artifacts=result.artifacts)
        lifecycle.info("run %s completed", run.path.name)
        return RunOutcome(run=run, result=result, config=config)
    except BaseException as err:
        peer = _peer_error(session, err)
        if peer is not None:
            # Another rank failed first, and this rank's error is only the consequence.
            lifecycle.error("run %s failed: %s", run.path.name, peer.message)
            _finish_safely(run, "failed", peer.exit_code, peer)
            raise peer from None
        _record_ending(run, reporter.rows, err)
        raise
    finally:
        _close(locals().get("data"))
        logger.removeHandler(handler)
        with contextlib.suppress(OSError):
            handler.close()
        run.unlock()


def _record_ending(run: RunDir, completed: list[dict[str, Any]], err: BaseException) -> None:
    """Finish the record of a run that ``err`` stopped: failed, or interrupted by a signal."""
    if isinstance(err, DmrunError):
        lifecycle.error("run %s failed: %s", run.path.name, err.message)
        _finish_safely(run, "failed", err.exit_code, err)
    elif isinstance(err, (KeyboardInterrupt, RunInterrupted)):
        code = err.exit_code if isinstance(err, RunInterrupted) else EXIT_SIGINT
        lifecycle.warning("run %s interrupted by %s", run.path.name, "SIGINT" if code == EXIT_SIGINT else "SIGTERM")
        _finish_interrupted(run, completed, code)
    elif isinstance(err, Exception):
        lifecycle.exception("run %s failed with an unexpected error", run.path.name)
        wrapped = TrainerError(f"{type(err).__name__}: {err}")
        _finish_safely(run, "failed", EXIT_RUN_FAILED, wrapped)


def _peer_error(session: Any, err: BaseException) -> DmrunError | None:
    """Return the error another rank published when ``err`` on rank 0 may be its consequence.

    A rank that fails publishes its error and exits, so rank 0 then gets a failed collective,
    or the SIGTERM with which torchrun stops the remaining ranks. From here on rank 0 ignores
    further signals, so that it finishes the record and exits with the run's exit code.
    """
    if session is None:
        return None
    session.ignore_signals()
    if isinstance(err, DmrunError) and not isinstance(err, DistributedError):
        return None
    return session.peer_failure(wait_s=1.0 if isinstance(err, (DistributedError, RuntimeError)) else 0.3)


def check_spark(config: ExperimentConfig, base_dir: Path) -> None:
    """Check, before a run folder exists, that pyspark and Java are present and every option is supported."""
    from dmrun.spark.options import check_supported
    from dmrun.spark.session import check_requirements

    check_supported(config, base_dir)
    check_requirements()


def _close(data: Any) -> None:
    """Release what the prepared data holds, such as the Spark session dmrun started."""
    close = getattr(data, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001 - the run's own outcome matters more than a failed clean-up
        lifecycle.warning("releasing the data failed", exc_info=True)


def _finish_safely(run: RunDir, status: str, code: int, error: BaseException | None = None, **extra: Any) -> None:
    """Finish the run record; when even that write fails (a full disk), log it and keep the first error."""
    try:
        run.finish(status, code, error, **extra)
    except RunDirError as failure:
        lifecycle.error("run %s: %s", run.path.name, failure.message)


def check_same_data(saved_summary: Path, summary: dict[str, Any]) -> None:
    """Raise ``ConfigError`` when a resumed run's data differs from the data it started with."""
    try:
        saved = json.loads(saved_summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for key in ("fingerprint", "rows"):
        if key in saved and saved[key] != summary.get(key):
            raise ConfigError(
                f"the dataset changed since the run started ({key} was {saved[key]}, now {summary.get(key)})",
                hint="restore the original data file, or start a new run",
            )


def _make_plots(path: Path, algorithm: str, result: TrainResult, data: Any) -> list[str]:
    """Draw the run's plots and return their paths; failures are logged, never raised."""
    try:
        from dmrun.reports.plots import make_run_plots
    except ImportError as err:
        logger.warning("plots skipped: %s", err)
        return []
    return make_run_plots(path, algorithm, result.metrics, data, result.model)


def _finish_interrupted(run: RunDir, completed: list[dict[str, Any]], code: int) -> None:
    """Mark the run interrupted and record its last completed epoch.

    No metrics.json is written, because the model never reached its final evaluation.
    """
    last_epoch = completed[-1]["epoch"] if completed else None
    if completed:
        # The signal can arrive while an epoch's row is being written, so history.csv is written
        # once more to hold exactly the epochs the record counts.
        with contextlib.suppress(RunDirError):
            write_history(run.path / "history.csv", completed)
    message = "interrupted by SIGINT" if code == EXIT_SIGINT else "interrupted by SIGTERM"
    run.record["error"] = {"type": "RunInterrupted", "message": message}
    _finish_safely(run, "interrupted", code, last_completed_epoch=last_epoch, partial_history=bool(completed))


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in history:
        columns += [key for key in row if key not in columns]
    write_csv(path, columns, ([row.get(column, "") for column in columns] for row in history))


class RunLogHandler(logging.FileHandler):
    """The run's ``log.txt``: appended to, with secrets redacted.

    A write that fails (a full disk, the file-size limit) drops the record instead of printing
    logging's traceback; the run's own error names the cause.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.addFilter(RedactingFilter())

    def handleError(self, record: logging.LogRecord) -> None:
        return None


def _attach_log_file(path: Path) -> logging.Handler:
    handler = RunLogHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler
