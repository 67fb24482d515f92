"""``dmrun mine rules`` and ``dmrun mine itemsets``: rule mining without writing a config."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from dmrun.cli import JSON_HELP, RUNS_DIR_HELP, _delimiter, _runs_dir, _skip_rows, _state, execute, handle_errors, mine_app
from dmrun.errors import ConfigError
from dmrun.suggest import closest_hint

DEFAULT_BASKETS = "adult_baskets"
DEFAULT_SUPPORT = 0.1
if TYPE_CHECKING:
    from dmrun.config.loading import LoadedConfig

METRICS = "support, confidence, lift, leverage, conviction, zhangs_metric, jaccard, certainty, kulczynski, representativity"


def _check_fraction(flag: str, value: float | None, low_open: bool) -> None:
    if value is None:
        return
    if (value <= 0 if low_open else value < 0) or value > 1:
        interval = "(0, 1]" if low_open else "[0, 1]"
        from dmrun.config.loading import support_hint

        hint = support_hint(value, "--min-count {count}") if flag == "--support" else None
        raise ConfigError(f"invalid value for {flag}: {value:g} is outside {interval}", hint=hint)


RULE_ALGORITHMS = ("apriori", "fpgrowth")
ITEMSET_ALGORITHMS = ("apriori", "fpgrowth", "fpmax")
ENGINES = ("fim", "mlxtend", "spark")


def _check_choice(flag: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is None or value in choices:
        return
    raise ConfigError(f"invalid value for {flag}: '{value}'", hint=closest_hint(value, choices, "expected one of"))


def _dataset_section(
    data: Optional[str], encoding: str, delimiter: Optional[str], baskets: Optional[dict[str, Any]] = None, skip_rows: int = 0
) -> tuple[dict[str, Any], str]:
    """Return the dataset section and a run-name stem for DATA: a built-in name or a basket file."""
    from dmrun.data.builtin import BUILTIN_DATASETS

    if _skip_rows(skip_rows) and (data is None or (not Path(data).exists() and data in BUILTIN_DATASETS)):
        raise ConfigError("--skip-rows applies to basket files; a built-in dataset has no lines to skip")
    if data is None:
        return {"name": DEFAULT_BASKETS}, DEFAULT_BASKETS
    if not Path(data).exists() and data in BUILTIN_DATASETS:
        return {"name": data}, data
    path = Path(data)
    if not path.exists():
        raise ConfigError(
            f"basket file not found: {data}",
            hint=f"give a path to a basket file, or leave DATA out to use the built-in {DEFAULT_BASKETS}",
        )
    if path.is_dir():
        raise ConfigError(f"DATA is a folder, not a basket file: {data}")
    from dmrun.data import check_encoding

    check_encoding(encoding, "--encoding")
    section: dict[str, Any] = {"path": str(path.resolve()), "format": "basket", "encoding": encoding}
    if delimiter is not None:
        section["delimiter"] = _delimiter(delimiter)
    if baskets:
        section["baskets"] = baskets
    if skip_rows:
        section["skip_rows"] = skip_rows
    return section, path.stem


def build_mining_config(
    data: Optional[str],
    output_kind: str,
    support: float | None,
    confidence: Optional[float],
    metric: Optional[str],
    min_threshold: Optional[float],
    max_len: Optional[int],
    algorithm: str,
    top: int,
    sort_by: str,
    encoding: str,
    delimiter: Optional[str],
    min_count: Optional[int] = None,
    max_rules: Optional[int] = None,
    baskets: Optional[dict[str, Any]] = None,
    engine: str = "fim",
    plots: bool = True,
    memory_budget: Optional[int] = None,
    master: Optional[str] = None,
    skip_rows: int = 0,
) -> LoadedConfig:
    """Check the options and build the same config a YAML file with ``model.type: rules`` would give.

    Raises:
        ConfigError: for an out-of-range value or conflicting options, before any data is read.
    """
    from pydantic import ValidationError

    from dmrun.config.loading import LoadedConfig
    from dmrun.config.schema import ExperimentConfig, RuleMetric

    measures = typing.get_args(RuleMetric)
    if output_kind == "rules" and algorithm == "fpmax":
        raise ConfigError(
            "--algorithm fpmax finds maximal itemsets only, and rules need the support of every subset",
            hint="use fpgrowth or apriori for rules, or `dmrun mine itemsets --algorithm fpmax`",
        )
    _check_choice("--algorithm", algorithm, RULE_ALGORITHMS if output_kind == "rules" else ITEMSET_ALGORITHMS)
    _check_choice("--engine", engine, ENGINES)
    _check_choice("--metric", metric, measures)
    _check_choice("--sort-by", sort_by, measures)
    if support is not None and min_count is not None:
        raise ConfigError("--support and --min-count both set the minimum support; give one of them")
    if support is None:
        support = DEFAULT_SUPPORT
    _check_fraction("--support", support, low_open=True)
    if master is not None and engine != "spark":
        raise ConfigError(f"--master applies to --engine spark, not to --engine {engine}", hint="add --engine spark")
    if min_count is not None and min_count < 1:
        raise ConfigError(f"invalid value for --min-count: {min_count}; it must be at least 1")
    _check_fraction("--confidence", confidence, low_open=False)
    if confidence is not None and metric not in (None, "confidence"):
        raise ConfigError(
            f"--confidence conflicts with --metric {metric}",
            hint="use --metric confidence --min-threshold X, or --confidence X alone",
        )
    if confidence is not None and min_threshold is not None:
        raise ConfigError("--confidence and --min-threshold both set the rule threshold; give one of them")
    chosen_metric = metric or "confidence"
    threshold = confidence if confidence is not None else min_threshold
    if threshold is None:
        if chosen_metric != "confidence":
            raise ConfigError(f"--metric {chosen_metric} needs --min-threshold", hint="for lift, 1.0 keeps positive associations")
        threshold = 0.5

    dataset, stem = _dataset_section(data, encoding, delimiter, baskets, skip_rows)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{output_kind}-{stem}").strip("-._")[:64] or output_kind
    model = {
        "type": "rules",
        "algorithm": algorithm,
        "engine": engine,
        "output": output_kind,
        "metric": chosen_metric,
        "min_threshold": threshold,
        "max_len": max_len,
        "top": top,
        "sort_by": sort_by if output_kind == "rules" else "support",
    }
    if max_rules is not None:
        model["max_rules"] = max_rules
    if memory_budget is not None:
        model["memory_budget_mb"] = memory_budget
    if min_count is not None:
        model["min_count"] = min_count
    else:
        model["min_support"] = support
    document: dict[str, Any] = {"name": name, "dataset": dataset, "model": model, "report": {"plots": plots}}
    if master is not None:
        document["spark"] = {"master": master}
    try:
        config = ExperimentConfig.model_validate(document)
    except ValidationError as err:
        flags, problems = [], []
        for error in err.errors(include_url=False):
            field = str(error["loc"][-1])
            flag = OPTION_FLAGS.get(field, "--" + field.replace("_", "-"))
            message = error["msg"].removeprefix("Value error, ")
            flags.append(flag.split(" ")[0])
            problems.append(f"invalid value for {flag}: {error.get('input')!r} ({message[:1].lower()}{message[1:]})")
        if len(problems) == 1:
            raise ConfigError(problems[0]) from None
        raise ConfigError(f"invalid values for {', '.join(flags)}", details=problems) from None
    return LoadedConfig(config=config, path=None, base_dir=Path.cwd())


# Config fields whose command-line option has another name.
OPTION_FLAGS = {
    "min_support": "--support",
    "memory_budget_mb": "--memory-budget",
    "min_threshold": "--min-threshold (or --confidence)",
}


ENGINE_HELP = (
    "fim (C code from pyfim, the default), mlxtend, or spark (Apache Spark MLlib, needs pip install "
    "'dmrun[spark]'); all give the same results."
)
MASTER_HELP = (
    "Spark master URL for --engine spark, such as local[4], spark://host:7077 or yarn "
    "(default: $DMRUN_SPARK_MASTER, then $SPARK_MASTER, then local[*])."
)


def basket_layout(
    layout: Optional[str], transaction_column: Optional[str], item_column: Optional[str], ignore_items: Optional[str] = None
) -> dict[str, Any]:
    """Return the ``dataset.baskets`` section the layout options describe."""
    _check_choice("--layout", layout, ("auto", "lines", "long", "onehot", "quantity"))
    if layout == "long" and transaction_column is None:
        raise ConfigError(
            "missing --transaction-column for --layout long: name the column that holds the transaction id",
            hint=f"add --transaction-column NAME; the items are read from --item-column (default: {item_column or 'item'})",
        )
    ignored = [item.strip() for item in ignore_items.split(",") if item.strip()] if ignore_items else None
    options = {
        "layout": layout,
        "transaction_column": transaction_column,
        "item_column": item_column,
        "ignore_items": ignored,
    }
    return {key: value for key, value in options.items() if value is not None}


def start_reading(
    data: Optional[str],
    engine: str,
    encoding: str,
    delimiter: Optional[str],
    skip_rows: int,
    layout: Optional[str],
    transaction_column: Optional[str],
    ignore_items: Optional[str],
) -> None:
    """Start reading DATA in the miner's process while the options are checked (``dmrun.data.read_ahead``).

    Only a file of one basket per line that pyfim will mine is read ahead. Options that turn out
    to be invalid stop nothing here: they are reported as usual, and the reading child is ended.
    """
    if engine != "fim" or data is None or layout not in (None, "auto", "lines") or transaction_column is not None:
        return
    path = Path(data)
    if not path.is_file() or skip_rows < 0:
        return
    try:
        options = {
            "encoding": encoding,
            "delimiter": None if delimiter is None else _delimiter(delimiter),
            "ignore_items": basket_layout(layout, None, None, ignore_items).get("ignore_items", []),
            "skip_rows": skip_rows,
            "reject_tables": layout in (None, "auto"),
        }
    except ConfigError:
        return
    from dmrun.data import read_ahead

    read_ahead.start(path.resolve(), options, preload=("dmrun.trainers.rules", "fim"))


BUDGET_HELP = "Memory in MB, at least 64, that mining may use before it is stopped (default: half of the machine's memory)."
PLOTS_HELP = "Draw plots into the run's artifacts/plots/ (report.plots in a config)."


DATA_HELP = (
    "Basket file: one transaction per line, items separated by commas or whitespace (FIMI .dat), "
    "or a long, one-hot or quantity table with --layout. "
    f"A built-in dataset name is accepted too. Default: the built-in {DEFAULT_BASKETS}."
)


@mine_app.command()
@handle_errors
def rules(
    data: Optional[str] = typer.Argument(None, help=DATA_HELP),
    support: Optional[float] = typer.Option(None, "--support", "-s", help="Minimum itemset support, a fraction of transactions in (0, 1] (default 0.1)."),
    min_count: Optional[int] = typer.Option(None, "--min-count", help="Minimum support as a number of transactions; replaces --support."),
    confidence: Optional[float] = typer.Option(None, "--confidence", "-c", help="Minimum rule confidence in [0, 1] (default 0.5)."),
    metric: Optional[str] = typer.Option(None, "--metric", help=f"Rule measure that --min-threshold applies to, in place of the confidence filter: {METRICS}."),
    min_threshold: Optional[float] = typer.Option(None, "--min-threshold", help="Minimum value of --metric."),
    max_len: Optional[int] = typer.Option(None, "--max-len", help="Maximum items per itemset."),
    algorithm: str = typer.Option("fpgrowth", "--algorithm", "-a", help="apriori or fpgrowth."),
    engine: str = typer.Option("fim", "--engine", help=ENGINE_HELP),
    master: Optional[str] = typer.Option(None, "--master", help=MASTER_HELP),
    memory_budget: Optional[int] = typer.Option(None, "--memory-budget", help=BUDGET_HELP),
    top: int = typer.Option(10, "--top", "-n", help="Rules to show; all rules are written to the run folder."),
    sort_by: str = typer.Option("lift", "--sort-by", help=f"Measure that orders the rules: {METRICS}."),
    max_rules: Optional[int] = typer.Option(None, "--max-rules", help="Reject runs with more candidate rules than this (default 50,000,000)."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of DATA, such as utf-8 or gbk."),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help="Item separator; default: comma if present, else whitespace."),
    skip_rows: int = typer.Option(0, "--skip-rows", help="Lines to skip at the start of DATA, such as a title line."),
    layout: Optional[str] = typer.Option(None, "--layout", help="lines, long, onehot or quantity (see dataset.baskets.layout)."),
    transaction_column: Optional[str] = typer.Option(None, "--transaction-column", help="Column with the transaction id of a long, one-hot or quantity table."),
    item_column: Optional[str] = typer.Option(None, "--item-column", help="Column with the item name of a long table (default: item)."),
    ignore_items: Optional[str] = typer.Option(None, "--ignore-items", help="Comma-separated items to drop, such as NONE."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress, only the results."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    plots: bool = typer.Option(True, "--plots/--no-plots", help=PLOTS_HELP),
) -> None:
    """Mine association rules and show the top ones."""
    _state["json"] = as_json
    from dmrun.distributed import reject_under_torchrun

    reject_under_torchrun("mine rules")
    from dmrun.data import read_ahead

    start_reading(data, engine, encoding, delimiter, skip_rows, layout, transaction_column, ignore_items)
    try:
        loaded = build_mining_config(
            data, "rules", support, confidence, metric, min_threshold, max_len, algorithm, top, sort_by, encoding, delimiter, min_count, max_rules,
            basket_layout(layout, transaction_column, item_column, ignore_items), engine=engine, plots=plots, memory_budget=memory_budget,
            master=master, skip_rows=skip_rows,
        )
        execute(loaded, _runs_dir(runs_dir), quiet or as_json, as_json)
    finally:
        read_ahead.close()


@mine_app.command()
@handle_errors
def itemsets(
    data: Optional[str] = typer.Argument(None, help=DATA_HELP),
    support: Optional[float] = typer.Option(None, "--support", "-s", help="Minimum itemset support, a fraction of transactions in (0, 1] (default 0.1)."),
    min_count: Optional[int] = typer.Option(None, "--min-count", help="Minimum support as a number of transactions; replaces --support."),
    max_len: Optional[int] = typer.Option(None, "--max-len", help="Maximum items per itemset."),
    algorithm: str = typer.Option("fpgrowth", "--algorithm", "-a", help="apriori, fpgrowth, or fpmax for maximal itemsets only."),
    engine: str = typer.Option("fim", "--engine", help=ENGINE_HELP),
    master: Optional[str] = typer.Option(None, "--master", help=MASTER_HELP),
    memory_budget: Optional[int] = typer.Option(None, "--memory-budget", help=BUDGET_HELP),
    top: int = typer.Option(10, "--top", "-n", help="Itemsets to show; all are written to the run folder."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of DATA, such as utf-8 or gbk."),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help="Item separator; default: comma if present, else whitespace."),
    skip_rows: int = typer.Option(0, "--skip-rows", help="Lines to skip at the start of DATA, such as a title line."),
    layout: Optional[str] = typer.Option(None, "--layout", help="lines, long, onehot or quantity (see dataset.baskets.layout)."),
    transaction_column: Optional[str] = typer.Option(None, "--transaction-column", help="Column with the transaction id of a long, one-hot or quantity table."),
    item_column: Optional[str] = typer.Option(None, "--item-column", help="Column with the item name of a long table (default: item)."),
    ignore_items: Optional[str] = typer.Option(None, "--ignore-items", help="Comma-separated items to drop, such as NONE."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress, only the results."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    plots: bool = typer.Option(True, "--plots/--no-plots", help=PLOTS_HELP),
) -> None:
    """Mine frequent itemsets and show the most frequent ones."""
    _state["json"] = as_json
    from dmrun.distributed import reject_under_torchrun

    reject_under_torchrun("mine itemsets")
    from dmrun.data import read_ahead

    start_reading(data, engine, encoding, delimiter, skip_rows, layout, transaction_column, ignore_items)
    try:
        loaded = build_mining_config(
            data, "itemsets", support, None, None, None, max_len, algorithm, top, "support", encoding, delimiter, min_count,
            baskets=basket_layout(layout, transaction_column, item_column, ignore_items), engine=engine, plots=plots, memory_budget=memory_budget,
            master=master, skip_rows=skip_rows,
        )
        execute(loaded, _runs_dir(runs_dir), quiet or as_json, as_json)
    finally:
        read_ahead.close()
