"""Build report documents from run folders: one run, two runs compared, and a sweep.

Run folders are only read. A missing or damaged optional file (metrics.json, data.json, plots)
gets a short note in place of its content. An unreadable ``run.json`` or ``sweep.json`` raises
``RunDirError``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmrun.errors import RunDirError
from dmrun.reports.render import Code, Document, Image, Row, Section, Table, Text

logger = logging.getLogger(__name__)

TOP_RULES = 20
MAX_TREE_LINES = 400
MAX_COLUMNS = 60
# Metrics drawn as plots or too long for a table.
NON_TABLE_METRICS = {"confusion_matrix", "feature_importances", "warnings"}


def format_value(value: Any) -> str:
    """Format a metric or config value for a table cell."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class RunFolder:
    """The readable contents of one run folder."""

    path: Path
    record: dict[str, Any]
    metrics: dict[str, Any]
    config_text: str | None
    data: dict[str, Any] | None

    @classmethod
    def read(cls, path: Path) -> RunFolder:
        """Read a run folder.

        Raises:
            RunDirError: when run.json is missing, unreadable or not a JSON object.
        """
        record = _read_json(path / "run.json")
        if not isinstance(record, dict):
            raise RunDirError(
                f"cannot read the run record {path / 'run.json'}",
                hint="the file is missing or damaged; check the folder with `dmrun runs show`",
            )
        metrics = _read_json(path / "metrics.json")
        data = _read_json(path / "data.json")
        return cls(
            path=path,
            record=record,
            metrics=metrics if isinstance(metrics, dict) else {},
            config_text=_read_text(path / "config.yaml"),
            data=data if isinstance(data, dict) else None,
        )

    @property
    def id(self) -> str:
        return str(self.record.get("id") or self.path.name)

    @property
    def algorithm(self) -> str:
        return str(self.record.get("algorithm") or "")

    def config(self) -> dict[str, Any]:
        import yaml

        try:
            loaded = yaml.safe_load(self.config_text or "")
        except yaml.YAMLError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def plots(self) -> list[Path]:
        """Return the run's PNG plots in the order the algorithm draws them."""
        from dmrun.reports.plots import PLOTS, PLOTS_FOLDER

        folder = self.path / PLOTS_FOLDER
        if not folder.is_dir():
            return []
        order = {spec.filename: index for index, spec in enumerate(PLOTS)}
        return sorted(folder.glob("*.png"), key=lambda path: (order.get(path.name, len(order)), path.name))

    def history(self):
        import pandas as pd

        path = self.path / "history.csv"
        try:
            return pd.read_csv(path) if path.is_file() else None
        except (OSError, ValueError):
            return None


def _image(path: Path, side: str = "") -> Image | None:
    """Return a plot file as an image; ``side`` ("A" or "B") prefixes its caption and file name."""
    try:
        png = path.read_bytes()
    except OSError:
        return None
    from dmrun.reports.plots import PLOTS

    captions = {spec.filename: spec.caption for spec in PLOTS}
    caption = captions.get(path.name) or path.stem.replace("_", " ")
    if side:
        return Image(caption=f"{side}: {caption}", png=png, filename=f"{side}_{path.name}")
    return Image(caption=caption, png=png, filename=path.name)


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key not in NON_TABLE_METRICS and not isinstance(value, dict)}


# --- one run -------------------------------------------------------------------------------------


def _summary_table(run: RunFolder) -> Table:
    record = run.record
    rows = [
        ["status", record.get("status")],
        ["algorithm", run.algorithm],
        ["name", record.get("name")],
        ["started", record.get("started")],
        ["duration", f"{record['duration_s']:.1f} s" if isinstance(record.get("duration_s"), (int, float)) else None],
        ["seed", record.get("seed")],
        ["config file", record.get("config_file")],
        ["overrides", ", ".join(record.get("overrides") or []) or None],
        ["command", " ".join(record.get("argv") or [])],
        ["folder", str(run.path)],
    ]
    error = record.get("error")
    if isinstance(error, dict):
        rows.append(["error", f"{error.get('type')}: {error.get('message')}"])
    marked = {len(rows) - 1} if isinstance(error, dict) else set()
    return Table(["", "value"], [[key, format_value(value)] for key, value in rows], marked, align_numbers=False)


def _metrics_blocks(run: RunFolder) -> list[Any]:
    if not run.metrics:
        return [Text("No metrics.json: the run did not finish its evaluation.")]
    scalars = _scalar_metrics(run.metrics)
    blocks: list[Any] = [Table(["metric", "value"], [[key, format_value(value)] for key, value in scalars.items()])]
    importances = run.metrics.get("feature_importances")
    if isinstance(importances, dict) and importances:
        top = list(importances.items())[:10]
        blocks.append(Table(["feature", "importance"], [[name, format_value(value)] for name, value in top]))
    for warning in run.metrics.get("warnings") or []:
        blocks.append(Text(f"warning: {warning}"))
    return blocks


def _rules_blocks(run: RunFolder) -> list[Any]:
    """Return the top rules (or itemsets) table of a rules run, in the order of rules.csv."""
    import pandas as pd

    for filename, columns in (("rules.csv", ["antecedents", "consequents", "support", "confidence", "lift"]), ("itemsets.csv", ["itemset", "support", "count"])):
        path = run.path / "artifacts" / filename
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path, nrows=TOP_RULES, usecols=columns, keep_default_na=False, dtype=str)
        except (OSError, ValueError) as err:
            logger.warning("cannot read %s: %s", path, err)
            return []
        total = run.metrics.get("rules" if filename == "rules.csv" else "itemsets")
        rows = [[_rule_cell(column, value) for column, value in zip(columns, row)] for row in frame[columns].itertuples(index=False)]
        note = f"The first {len(rows)} of {total if total is not None else len(rows)} rows of artifacts/{filename}."
        return [Text(note), Table(columns, rows)]
    return []


def _rule_cell(column: str, value: str) -> str:
    """Format one cell of rules.csv or itemsets.csv: items joined by ", ", measures as numbers."""
    if column in ("antecedents", "consequents", "itemset"):
        return value.replace("|", ", ")
    if not value:
        return "—"  # an infinite measure (conviction at confidence 1) is an empty cell
    return format_value(float(value))


def _tree_blocks(run: RunFolder) -> list[Any]:
    text = _read_text(run.path / "artifacts" / "tree.txt")
    if text is None:
        return []
    lines = text.splitlines()
    if len(lines) > MAX_TREE_LINES:
        text = "\n".join(lines[:MAX_TREE_LINES]) + f"\n... {len(lines) - MAX_TREE_LINES} more lines in artifacts/tree.txt"
    return [Code(text)]


def _data_blocks(run: RunFolder) -> list[Any]:
    data = run.data
    if not data:
        return [Text("No data.json.")]
    scalars = [[key, format_value(value)] for key, value in data.items() if not isinstance(value, (list, dict))]
    blocks: list[Any] = [Table(["", "value"], scalars, align_numbers=False)]
    for key, entries in data.items():
        if isinstance(entries, dict) and entries:  # rows dropped, class balance, label mapping, split sizes
            blocks.append(Table([key.replace("_", " "), "value"], [[name, format_value(value)] for name, value in entries.items()]))
    columns = data.get("columns")
    if isinstance(columns, list) and columns:
        shown = [entry for entry in columns if isinstance(entry, dict)][:MAX_COLUMNS]
        blocks.append(Table(["column", "type", "missing"], [[entry.get("name"), entry.get("dtype"), format_value(entry.get("missing"))] for entry in shown]))
        if len(columns) > len(shown):
            blocks.append(Text(f"{len(columns) - len(shown)} more columns in data.json."))
    for warning in data.get("warnings") or []:
        blocks.append(Text(f"warning: {warning}"))
    return blocks


def _environment_table(run: RunFolder) -> Table:
    record = run.record
    rows = [[f"{name} version", format_value(version)] for name, version in (record.get("versions") or {}).items() if version]
    git = record.get("git")
    if isinstance(git, dict):
        rows.append(["git commit", f"{git.get('commit')}{' (uncommitted changes)' if git.get('dirty') else ''}"])
    rows += [["host", format_value(record.get("host"))], ["working directory", format_value(record.get("cwd"))]]
    return Table(["", "value"], rows, align_numbers=False)


def run_document(path: Path) -> Document:
    """Build the report of one run: what ran, metrics, plots, rules or tree, data, config, environment."""
    run = RunFolder.read(path)
    images = [image for image in map(_image, run.plots()) if image is not None]
    if not any(image.filename == "learning_curves.png" for image in images):
        partial = _curves_from_history(run)
        if partial is not None:
            images.insert(0, partial)
    sections = [
        Section("Summary", [_summary_table(run)]),
        Section("Metrics", _metrics_blocks(run)),
        Section("Plots", images or [Text("No plots in artifacts/plots/ (report.plots was false, or the run did not complete).")]),
    ]
    if run.algorithm == "rules":
        sections.append(Section("Top rules", _rules_blocks(run) or [Text("No rules.csv or itemsets.csv.")]))
    if run.algorithm == "tree":
        sections.append(Section("Tree rules", _tree_blocks(run) or [Text("No tree.txt.")]))
    sections += [
        Section("Data", _data_blocks(run)),
        Section("Config", [Code(run.config_text or "(no config.yaml)")]),
        Section("Environment", [_environment_table(run)]),
    ]
    subtitle = f"{run.algorithm or 'unknown algorithm'} · {run.record.get('status')} · started {run.record.get('started')}"
    return Document(title=f"Run {run.id}", subtitle=subtitle, sections=sections)


def _curves_from_history(run: RunFolder) -> Image | None:
    """Draw learning curves from history.csv for a run that left no plot, such as a failed one."""
    history = run.history()
    if history is None or history.empty or not {"epoch", "train_loss"} <= set(history.columns):
        return None
    from dmrun.reports import charts
    from dmrun.reports.figures import plotting, png_bytes

    with plotting():
        png = png_bytes(charts.learning_curves({"this run": history}, loss_name=run.metrics.get("loss")))
    epochs = len(history)
    caption = f"learning curves of the {epochs} recorded epoch{'s' if epochs != 1 else ''} (run {run.record.get('status')})"
    return Image(caption, png, "learning_curves.png")


# --- two runs ------------------------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys; lists stay values."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _delta(first: Any, second: Any) -> str:
    numbers = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (first, second))
    return f"{second - first:+.6g}" if numbers else ""


def comparison_document(first_path: Path, second_path: Path) -> Document:
    """Build a report of two runs side by side: config differences, metric deltas, curves and plots."""
    first, second = RunFolder.read(first_path), RunFolder.read(second_path)
    header = ["", f"A: {first.id}", f"B: {second.id}"]
    overview = Table(
        header,
        [
            ["algorithm", first.algorithm, second.algorithm],
            ["status", format_value(first.record.get("status")), format_value(second.record.get("status"))],
            ["started", format_value(first.record.get("started")), format_value(second.record.get("started"))],
            ["duration (s)", format_value(first.record.get("duration_s")), format_value(second.record.get("duration_s"))],
        ],
    )

    config_a, config_b = flatten(first.config()), flatten(second.config())
    keys = sorted(set(config_a) | set(config_b))
    differing = [key for key in keys if config_a.get(key) != config_b.get(key)]
    config_blocks: list[Any] = [Text(f"{len(differing)} of {len(keys)} config keys differ; equal keys are left out.")]
    if differing:
        rows = [[key, format_value(config_a.get(key)), format_value(config_b.get(key))] for key in differing]
        config_blocks.append(Table(["key", "A", "B"], rows, marked=set(range(len(rows)))))

    metrics_a, metrics_b = _scalar_metrics(first.metrics), _scalar_metrics(second.metrics)
    names = list(dict.fromkeys([*metrics_a, *metrics_b]))
    metric_rows = [[name, format_value(metrics_a.get(name)), format_value(metrics_b.get(name)), _delta(metrics_a.get(name), metrics_b.get(name))] for name in names]
    marked = {index for index, name in enumerate(names) if metrics_a.get(name) != metrics_b.get(name)}
    metric_blocks: list[Any] = [Text("Rows whose values differ are highlighted; B − A is given for numbers."), Table(["metric", "A", "B", "B − A"], metric_rows, marked)]

    sections = [
        Section("Runs", [overview]),
        Section("Config differences", config_blocks),
        Section("Metrics", metric_blocks),
    ]
    curves = _overlaid_curves(first, second)
    if curves is not None:
        sections.append(Section("Learning curves", [curves]))
    sections.append(Section("Plots", _paired_plots(first, second) or [Text("Neither run has plots.")]))
    return Document(title=f"{first.id} vs {second.id}", subtitle="A is the first run given, B the run after --vs", sections=sections)


def _overlaid_curves(first: RunFolder, second: RunFolder) -> Image | None:
    from dmrun.reports import charts
    from dmrun.reports.figures import plotting, png_bytes

    histories = {"A": first.history(), "B": second.history()}
    if any(frame is None or frame.empty or "train_loss" not in frame for frame in histories.values()):
        return None
    with plotting():
        png = png_bytes(charts.learning_curves(histories, loss_name=first.metrics.get("loss")))
    return Image("learning curves of A and B", png, "learning_curves_overlaid.png")


def _paired_plots(first: RunFolder, second: RunFolder) -> list[Any]:
    plots_a = {path.name: path for path in first.plots()}
    plots_b = {path.name: path for path in second.plots()}
    rows = []
    for name in dict.fromkeys([*plots_a, *plots_b]):
        pair = [_image(plots[name], side) for side, plots in (("A", plots_a), ("B", plots_b)) if name in plots]
        rows.append(Row([image for image in pair if image is not None]))
    return rows


# --- a sweep -------------------------------------------------------------------------------------


def read_sweep(path: Path) -> dict[str, Any]:
    """Read and check a sweep folder's sweep.json.

    Raises:
        RunDirError: when the file is unreadable or is not a sweep record.
    """
    sweep = _read_json(path / "sweep.json")
    if not isinstance(sweep, dict) or sweep.get("kind") != "sweep" or not isinstance(sweep.get("trials"), list):
        raise RunDirError(
            f"cannot read the sweep record {path / 'sweep.json'}",
            hint="the file is missing, damaged or not written by `dmrun sweep`",
        )
    return sweep


def _trial_metrics(trial: dict[str, Any], runs_dir: Path) -> dict[str, Any]:
    metrics = trial.get("metrics")
    if isinstance(metrics, dict) and metrics:
        return metrics
    stored = _read_json(runs_dir / str(trial.get("run")) / "metrics.json") if trial.get("run") else None
    return stored if isinstance(stored, dict) else {}


def rank_trials(sweep: dict[str, Any], runs_dir: Path) -> list[dict[str, Any]]:
    """Return the trials with their metrics, best first; trials without the metric come last."""
    metric, goal = sweep.get("metric"), sweep.get("goal", "max")
    trials = []
    for position, trial in enumerate(sweep["trials"]):
        if not isinstance(trial, dict):
            continue
        metrics = _trial_metrics(trial, runs_dir)
        value = metrics.get(metric)
        score = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        trials.append({**trial, "metrics": metrics, "score": score, "position": position})
    sign = -1 if goal == "max" else 1
    return sorted(trials, key=lambda trial: (trial["score"] is None, sign * (trial["score"] or 0), trial["position"]))


def sweep_document(path: Path) -> Document:
    """Build the report of a sweep: trials ranked by the main metric, and the metric against each key."""
    sweep = read_sweep(path)
    metric, keys = str(sweep.get("metric")), [str(key) for key in sweep.get("keys") or []]
    ranked = rank_trials(sweep, path.parent)

    rows = [_trial_row(rank, trial, keys) for rank, trial in enumerate(ranked, start=1)]
    best = {0} if ranked and ranked[0]["score"] is not None else set()
    sections = [
        Section("Summary", [_sweep_summary(sweep, keys, ranked)]),
        Section("Trials ranked", [Table(["rank", "run", "status", *keys, metric], rows, best)]),
        Section("Metric against each key", _in_rows(_sweep_plots(ranked, keys, metric)) or [Text("No completed trial has the metric.")]),
    ]
    if best:
        sections += _best_trial_section(path.parent / str(ranked[0].get("run")))
    return Document(title=f"Sweep {sweep.get('name') or path.name}", subtitle=str(path), sections=sections)


def _sweep_summary(sweep: dict[str, Any], keys: list[str], ranked: list[dict[str, Any]]) -> Table:
    from collections import Counter

    statuses = Counter(str(trial.get("status")) for trial in ranked)
    direction = "higher" if sweep.get("goal", "max") == "max" else "lower"
    rows = [
        ["config", format_value(sweep.get("config"))],
        ["main metric", f"{sweep.get('metric')} ({direction} is better)"],
        ["swept keys", ", ".join(keys)],
        ["trials", ", ".join(f"{count} {status}" for status, count in statuses.items())],
    ]
    return Table(["", "value"], rows, align_numbers=False)


def _trial_row(rank: int, trial: dict[str, Any], keys: list[str]) -> list[str]:
    params = trial.get("params") or {}
    shown_rank = str(rank) if trial["score"] is not None else "—"
    values = [format_value(params.get(key)) for key in keys]
    return [shown_rank, format_value(trial.get("run")), format_value(trial.get("status")), *values, format_value(trial["score"])]


def _best_trial_section(run: Path) -> list[Section]:
    """Return a section with the best trial's plots, or none when its folder is missing or unreadable."""
    try:
        plots = RunFolder.read(run).plots()
    except RunDirError:
        return []
    images = [image for image in map(_image, plots) if image is not None]
    return [Section(f"Plots of the best trial ({run.name})", images)] if images else []


def _sweep_plots(ranked: list[dict[str, Any]], keys: list[str], metric: str) -> list[Image]:
    """Plot the main metric against each swept key; for a k-means sweep over k also the elbow and silhouette."""
    from dmrun.reports import charts
    from dmrun.reports.figures import plotting, png_bytes

    images = []
    for key in keys:
        panels = [metric]
        if key.endswith("n_clusters"):
            panels += [name for name in ("inertia", "silhouette") if name != metric]
        for name in panels:
            scored = [trial for trial in ranked if _number(trial["metrics"].get(name)) and (trial.get("params") or {}).get(key) is not None]
            if not scored:
                continue
            values = [trial["params"][key] for trial in scored]
            scores = [trial["metrics"][name] for trial in scored]
            best = 0 if name == metric and scored[0] is ranked[0] else None
            with plotting():
                png = png_bytes(charts.metric_against_values(values, scores, key, name, best))
            images.append(Image(f"{name} against {key}", png, f"{name}_against_{key.replace('.', '_')}.png"))
    return images


def _in_rows(images: list[Image], per_row: int = 2) -> list[Row]:
    return [Row(images[start : start + per_row]) for start in range(0, len(images), per_row)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
