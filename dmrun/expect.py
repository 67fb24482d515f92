"""``--expect 'metric>=value'`` checks, evaluated on a finished run's metrics."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from dmrun.errors import ConfigError
from dmrun.suggest import closest_hint

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
METRIC_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*"
OPERATOR_PATTERN = r">=|<=|==|!=|>|<"
NUMBER_PATTERN = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXPRESSION = re.compile(rf"^\s*({METRIC_PATTERN})\s*({OPERATOR_PATTERN})\s*({NUMBER_PATTERN})\s*$")


CLASSIFICATION = {"accuracy", "f1_macro", "precision_macro", "recall_macro"}
REGRESSION = {"mse", "rmse", "mae", "r2"}
TORCH = CLASSIFICATION | REGRESSION | {"epochs_run", "best_epoch", "final_val_loss", "final_train_loss"}
# Numeric metrics each algorithm can report; which of them a run has depends on its task.
METRIC_NAMES: dict[str, set[str]] = {
    "mlp": TORCH,
    "nn": TORCH,
    "cnn": TORCH,
    "rnn": TORCH | {"naive_mse", "naive_rmse", "naive_mae", "rmse_skill_vs_naive"},
    "tree": CLASSIFICATION | REGRESSION | {f"val_{name}" for name in CLASSIFICATION | REGRESSION} | {"depth", "leaves"},
    "kmeans": {
        "inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "n_iter", "n_clusters",
        "empty_clusters", "distinct_points", "ari", "nmi",
    },
    "rules": {"transactions", "distinct_items", "min_support", "min_count", "itemsets", "max_itemset_length", "rules"},
}


# The first of these a run's metrics contain is its main metric, shown by `runs list` and ranking sweeps.
MAIN_METRICS = ("accuracy", "rmse", "ari", "silhouette", "rules", "itemsets")
# Metrics where a lower value is better; every other metric ranks higher-is-better.
LOWER_IS_BETTER = {
    "mse", "rmse", "mae", "naive_mse", "naive_rmse", "naive_mae", "inertia", "davies_bouldin",
    "final_val_loss", "final_train_loss", "loss", "val_mse", "val_rmse", "val_mae",
}


def main_metric(metrics: Any) -> tuple[str, Any] | None:
    """Return (name, value) of the first of ``MAIN_METRICS`` that ``metrics`` has, or None."""
    if not isinstance(metrics, dict):
        return None
    for name in MAIN_METRICS:
        if metrics.get(name) is not None:
            return name, metrics[name]
    return None


@dataclass(frozen=True)
class Expectation:
    text: str
    metric: str
    operator: str
    threshold: float

    def check_name(self, model_type: str) -> None:
        """Reject, before any training, a metric that no run of ``model_type`` reports."""
        names = METRIC_NAMES.get(model_type)
        if names is not None and self.metric not in names:
            raise ConfigError(
                f"--expect '{self.text}': a {model_type} run has no metric '{self.metric}'",
                hint=closest_hint(self.metric, sorted(names), "metrics"),
            )

    def check(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Evaluate against ``metrics``; a missing or non-numeric metric is a ``ConfigError``."""
        value = numeric_metric(metrics, self.metric, f"--expect '{self.text}'", "this run")
        passed = not math.isnan(value) and OPERATORS[self.operator](value, self.threshold)
        return {"expect": self.text, "metric": self.metric, "value": value, "passed": passed}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_metric(metrics: dict[str, Any], metric: str, context: str, owner: str) -> float:
    """Return ``metrics[metric]`` as a number.

    Raises:
        ConfigError: naming ``context`` (the option as the user wrote it) when the metric is
            missing from ``owner`` (such as "this run") or is not a number; the hint lists the
            numeric metrics present.
    """
    value = metrics.get(metric)
    if is_number(value):
        return value
    numeric = [key for key, item in metrics.items() if is_number(item)]
    if metric in metrics and value is not None:
        raise ConfigError(f"{context}: metric '{metric}' is not a number ({value!r})")
    if metric in metrics:
        return math.nan  # metrics.json stores a non-finite value as null
    raise ConfigError(f"{context}: {owner} has no metric '{metric}'", hint=closest_hint(metric, numeric, "metrics"))


def parse_expectation(text: str) -> Expectation:
    """Parse ``metric OP number``; raise a ``ConfigError`` naming the expression otherwise."""
    match = _EXPRESSION.match(text)
    if match is None:
        raise ConfigError(
            f"invalid --expect '{text}'",
            hint="write metric OP number, such as 'accuracy>=0.95' or 'rmse<20', with OP one of "
            + ", ".join(OPERATORS),
        )
    metric, symbol, number = match.groups()
    return Expectation(text=text.strip(), metric=metric, operator=symbol, threshold=float(number))
