"""Grid sweeps: plan the trials of a config, run each as a normal run, and keep sweep.json current.

A sweep folder ``<runs>/<YYYYmmdd-HHMMSS>-sweep-<name>-<6 hex>/`` holds only ``sweep.json``
(format version 1)::

    {"format_version": 1, "kind": "sweep", "name": str, "config": str, "metric": str,
     "goal": "max" | "min", "keys": [str, ...],
     "trials": [{"params": {key: value}, "run": str | null, "status": str, "metrics": {...} | null}]}

Each trial is an ordinary run folder beside the sweep folder. A trial is identified by the
SHA-256 of its resolved config, stored as ``sweep.trial_hash`` in the trial's run.json, so a
later sweep over the same grid reuses completed trials instead of running them again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmrun.config.loading import LoadedConfig, load_config
from dmrun.config.schema import TORCH_MODELS
from dmrun.config.overrides import parse_key, parse_override
from dmrun.data import check_reference
from dmrun.errors import ConfigError, DmrunError, RunDirError
from dmrun.expect import LOWER_IS_BETTER, is_number, main_metric
from dmrun.rundir import dumps_json, list_runs, read_json_file, utc_now, write_atomic

SWEEP_FILE = "sweep.json"
logger = logging.getLogger("dmrun")


@dataclass
class Trial:
    """One combination of grid values and, once known, the run that contains its result."""

    index: int
    params: dict[str, Any]
    options: list[str]  # the grid values as --set options, such as "model.n_clusters=3"
    trial_hash: str = ""
    run: str | None = None
    status: str = "pending"
    metrics: dict[str, Any] | None = None
    reused: bool = False
    error: str | None = None

    def entry(self) -> dict[str, Any]:
        """Return the trial as sweep.json stores it."""
        return {"params": self.params, "run": self.run, "status": self.status, "metrics": self.metrics}


@dataclass
class Plan:
    """A validated sweep: its trials, the ranking metric and where the config came from."""

    config_path: Path
    name: str
    keys: list[str]
    trials: list[Trial]
    metric: str
    goal: str
    metric_given: bool
    model_type: str
    base_options: list[str] = field(default_factory=list)


# --- grid parsing ------------------------------------------------------------------------------


def split_values(raw: str) -> list[str]:
    """Split ``0.1,0.01`` or ``[64],[128,64]`` at the commas outside brackets, braces and quotes."""
    values, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(raw):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(raw[start:position])
            start = position + 1
    values.append(raw[start:])
    return [value.strip() for value in values]


def parse_grid_option(option: str) -> tuple[str, list[str]]:
    """Parse one ``--grid key=v1,v2,...`` into the key and the values as written.

    Raises:
        ConfigError: for a missing ``=``, a malformed key, an empty value or a value that is not
            valid YAML; the message names the ``--grid`` option.
    """
    if "=" not in option:
        raise ConfigError(f"invalid --grid '{option}': expected key=value1,value2", hint="for example --grid model.n_clusters=2,3,4")
    key, raw = (part.strip() for part in option.split("=", 1))
    parse_key(key, option)
    values = split_values(raw)
    if any(value == "" for value in values):
        raise ConfigError(f"invalid --grid '{option}': empty value", hint="separate values with single commas")
    for value in values:
        try:
            parse_override(f"{key}={value}")
        except ConfigError as err:
            message = err.message.replace(f"--set {key}=", f"--grid {key}=")
            raise ConfigError(message, hint=err.hint, details=err.details) from None
    return key, values


def grid_from_block(grid: dict[str, list[Any]]) -> dict[str, list[str]]:
    """Turn the config's ``sweep.grid`` into option values; JSON is valid YAML, so values keep their type."""
    return {key: [json.dumps(value) for value in values] for key, values in grid.items()}


def _typed(key: str, value: str) -> Any:
    return parse_override(f"{key}={value}")[1]


# --- planning ----------------------------------------------------------------------------------


def plan_sweep(
    config_path: Path,
    grid_options: list[str],
    base_options: list[str],
    metric: str | None = None,
    goal: str | None = None,
) -> Plan:
    """Validate the config and every trial's config, before any trial runs.

    ``--grid`` options replace the config's ``sweep.grid`` entries with the same key.

    Raises:
        ConfigError: for an invalid config, grid option or trial config (naming the ``--grid``
            value that made it invalid), or an empty grid.
    """
    base = load_config(config_path, base_options)
    block = base.config.sweep
    grid = grid_from_block(block.grid) if block else {}
    origin = {key: "sweep.grid" for key in grid}
    for option in grid_options:
        key, values = parse_grid_option(option)
        grid[key] = values
        origin[key] = "--grid"
    if not grid or any(not values for values in grid.values()):
        raise ConfigError(
            f"{config_path}: nothing to sweep",
            hint="give --grid key=value1,value2 or a sweep: {grid: {key: [values]}} block in the config",
        )

    check_reference(base.config.dataset, base.base_dir)
    keys = list(grid)
    trials = []
    for index, combination in enumerate(itertools.product(*grid.values())):
        options = [f"{key}={value}" for key, value in zip(keys, combination)]
        params = {key: _typed(key, value) for key, value in zip(keys, combination)}
        trial = Trial(index=index, params=params, options=options)
        labels = {option: origin[key] for option, key in zip(options, keys)}
        trial.trial_hash = trial_hash(_load_trial(config_path, base_options, trial, labels))
        trials.append(trial)

    chosen_metric = metric or (block.metric if block else None)
    kind = base.config.model.type
    default_metric = {"rules": "rules", "kmeans": "ari"}.get(kind, "rmse" if base.config.dataset.task in ("regression", "forecasting") else "accuracy")
    name = chosen_metric or default_metric
    return Plan(
        config_path=config_path,
        name=base.config.name,
        keys=keys,
        trials=trials,
        metric=name,
        goal=goal or (block.goal if block and block.goal else default_goal(name)),
        metric_given=chosen_metric is not None,
        model_type=kind,
        base_options=list(base_options),
    )


def default_goal(metric: str) -> str:
    return "min" if metric in LOWER_IS_BETTER else "max"


def _load_trial(config_path: Path, base_options: list[str], trial: Trial, labels: dict[str, str]) -> LoadedConfig:
    """Load one trial's config; errors name the grid value (``--grid`` or ``sweep.grid``) instead of ``--set``."""
    try:
        loaded = load_config(config_path, [*base_options, *trial.options])
    except ConfigError as err:
        for option, label in labels.items():
            err.details = [detail.replace(f"--set {option}", f"{label} {option}") for detail in err.details]
            err.message = err.message.replace(f"--set {option}", f"{label} {option}")
        raise
    return loaded


def trial_hash(loaded: LoadedConfig) -> str:
    """Return the SHA-256 of the trial's resolved config (the sweep block excluded)."""
    from dmrun.runner import resolved_config

    text = json.dumps(resolved_config(loaded), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_completed(plan: Plan, runs_dir: Path) -> None:
    """Mark trials whose config already completed in a run under ``runs_dir`` as reused."""
    completed: dict[str, dict[str, Any]] = {}
    for record in list_runs(runs_dir):
        sweep = record.get("sweep")
        if isinstance(sweep, dict) and record.get("status") == "completed":
            completed[sweep.get("trial_hash")] = record  # the newest completed run wins
    for trial in plan.trials:
        record = completed.get(trial.trial_hash)
        if record is None:
            continue
        metrics = _read_metrics(Path(record["path"]))
        if metrics is None:
            continue
        trial.run, trial.status, trial.metrics, trial.reused = record["id"], "completed", metrics, True


def _read_metrics(folder: Path) -> dict[str, Any] | None:
    metrics = read_json_file(folder / "metrics.json")
    return metrics if isinstance(metrics, dict) else None


# --- the sweep folder --------------------------------------------------------------------------


class SweepDir:
    """The sweep's own folder and its sweep.json, rewritten atomically after every trial."""

    def __init__(self, path: Path, plan: Plan) -> None:
        self.path = path
        self.plan = plan

    @classmethod
    def create(cls, runs_dir: Path, plan: Plan) -> SweepDir:
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(f"cannot create runs folder {runs_dir}: {err.strerror or err}") from None
        stamp = utc_now().strftime("%Y%m%d-%H%M%S")
        for _ in range(20):
            path = runs_dir / f"{stamp}-sweep-{plan.name}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as err:
                raise RunDirError(f"cannot create sweep folder {path}: {err.strerror or err}") from None
            sweep = cls(path, plan)
            sweep.write()
            return sweep
        raise RunDirError(f"cannot find a free sweep folder name under {runs_dir}")

    def document(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "format_version": 1,
            "kind": "sweep",
            "name": plan.name,
            "config": str(plan.config_path.resolve()),
            "metric": plan.metric,
            "goal": plan.goal,
            "keys": plan.keys,
            "trials": [trial.entry() for trial in plan.trials],
        }

    def write(self) -> None:
        write_atomic(self.path / SWEEP_FILE, dumps_json(self.document()))


def settle_metric(plan: Plan) -> None:
    """Rank by the main metric of the first completed trial when no metric was chosen."""
    if plan.metric_given:
        return
    for trial in plan.trials:
        main = main_metric(trial.metrics)
        if trial.status == "completed" and main is not None:
            if main[0] != plan.metric:
                plan.metric, plan.goal = main[0], default_goal(main[0])
            return


def ranked(plan: Plan) -> list[Trial]:
    """Return the trials best first by the plan's metric; trials without a number for it come last."""
    scored = [trial for trial in plan.trials if _score(trial, plan.metric) is not None]
    scored.sort(key=lambda trial: _score(trial, plan.metric), reverse=plan.goal == "max")
    rest = [trial for trial in plan.trials if trial not in scored]
    return scored + rest


def _score(trial: Trial, metric: str) -> float | None:
    value = (trial.metrics or {}).get(metric) if trial.status == "completed" else None
    return value if is_number(value) and value == value else None


# --- running one trial -------------------------------------------------------------------------


@dataclass
class TrialTask:
    """What a worker process needs to run one trial; plain values, so it pickles."""

    config_path: str
    options: list[str]
    runs_dir: str
    index: int
    trial_hash: str
    params: dict[str, Any]
    sweep_id: str
    threads: int | None = None
    worker: bool = False  # True in a --jobs worker process, which reports an interrupt instead of raising it


def run_trial(task: TrialTask, reporter: Any = None) -> dict[str, Any]:
    """Run one trial as a normal run and return its index, run folder name, status, metrics and error.

    With ``task.threads`` set, torch and OpenMP get that many threads, so parallel trials share
    the CPU cores instead of each taking all of them.
    """
    if task.threads is not None:
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[variable] = str(task.threads)  # read when NumPy and scikit-learn load
    from dmrun.runner import RunInterrupted, run_experiment

    if task.worker:
        signal.signal(signal.SIGTERM, _raise_interrupted)

    created: list[Any] = []

    def on_created(run: Any) -> None:
        created.append(run)
        run.record["sweep"] = {"sweep": task.sweep_id, "trial": task.index, "trial_hash": task.trial_hash, "params": task.params}
        run.write_record()

    result: dict[str, Any] = {"index": task.index, "run": None, "status": "failed", "metrics": None, "error": None}
    try:
        loaded = load_config(Path(task.config_path), task.options)
        loaded.config = loaded.config.model_copy(update={"sweep": None})
        if task.threads is not None and loaded.config.model.type in TORCH_MODELS:
            import torch

            torch.set_num_threads(task.threads)
        outcome = run_experiment(loaded, Path(task.runs_dir), reporter, on_created=on_created)
        result.update(status="completed", metrics=outcome.result.metrics)
    except DmrunError as err:
        result["error"] = err.message
    except Exception as err:  # noqa: BLE001 - the run folder records it; the sweep goes on
        result["error"] = f"{type(err).__name__}: {err}"
    except (KeyboardInterrupt, RunInterrupted):
        if not task.worker:
            raise
        result.update(status="interrupted", error="interrupted")
    if created:
        result["run"] = created[0].path.name
    return result


def _raise_interrupted(signum: int, frame: Any) -> None:
    from dmrun.runner import RunInterrupted

    raise RunInterrupted(143)


def threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)
