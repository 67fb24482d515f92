"""``dmrun gate``: check a run's metrics against absolute and baseline-relative thresholds.

A rule is ``METRIC OP THRESHOLD`` with OP one of ``>= <= > < == !=`` (the operators of
``--expect``) and THRESHOLD one of::

    0.95                 an absolute number
    baseline             the baseline's value of the same metric
    baseline + 0.01      the baseline's value plus or minus a number
    baseline - 2%        ... plus or minus a percentage of the baseline's value
    baseline * 0.98      the baseline's value times a factor

Rules are parsed with a regular expression, never evaluated as code.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from dmrun.errors import ConfigError, DataError
from dmrun.expect import METRIC_PATTERN, NUMBER_PATTERN, OPERATOR_PATTERN, OPERATORS, numeric_metric, parse_expectation

_RELATIVE = re.compile(rf"^baseline\s*(?:([-+*])\s*({NUMBER_PATTERN})\s*(%?))?$")
_RULE = re.compile(rf"^\s*({METRIC_PATTERN})\s*({OPERATOR_PATTERN})\s*(.+?)\s*$")
RULE_HINT = (
    "write METRIC OP THRESHOLD, such as 'accuracy >= 0.9', 'accuracy >= baseline - 0.01', "
    "'rmse <= baseline * 1.05' or 'f1_macro >= baseline - 1%'"
)


@dataclass(frozen=True)
class Rule:
    """One parsed ``--rule``; ``relation`` is None for an absolute threshold."""

    text: str
    metric: str
    operator: str
    number: float
    relation: str | None = None
    percent: bool = False

    @property
    def needs_baseline(self) -> bool:
        return self.relation is not None

    def threshold(self, baseline: float | None) -> float:
        """Return the threshold this rule sets, given the baseline's value of its metric."""
        if self.relation is None:
            return self.number
        assert baseline is not None
        # A percentage is of the baseline's magnitude, so "- 1%" lowers a negative baseline too.
        offset = abs(baseline) * self.number / 100 if self.percent else self.number
        if self.relation == "+":
            return baseline + offset
        if self.relation == "-":
            return baseline - offset
        if self.relation == "*":
            return baseline * self.number
        return baseline


def parse_rule(text: str) -> Rule:
    """Parse one ``--rule``.

    Raises:
        ConfigError: when the text does not follow the grammar in the module docstring.
    """
    match = _RULE.match(text)
    if match is None:
        raise ConfigError(f"invalid --rule '{text}'", hint=RULE_HINT)
    metric, symbol, threshold = match.groups()
    if re.fullmatch(NUMBER_PATTERN, threshold):
        absolute = parse_expectation(f"{metric}{symbol}{threshold}")
        return Rule(text=_normalise(text), metric=metric, operator=symbol, number=absolute.threshold)
    relative = _RELATIVE.match(threshold)
    if relative is None:
        raise ConfigError(f"invalid --rule '{text}': cannot read the threshold '{threshold}'", hint=RULE_HINT)
    relation, number, percent = relative.groups()
    if relation == "*" and percent:
        raise ConfigError(f"invalid --rule '{text}': a factor cannot be a percentage", hint="write baseline * 0.98")
    return Rule(
        text=_normalise(text),
        metric=metric,
        operator=symbol,
        number=float(number) if number else 0.0,
        relation=relation or "=",
        percent=bool(percent),
    )


def _normalise(text: str) -> str:
    return " ".join(text.split())


# --- baselines -------------------------------------------------------------------------------


@dataclass
class Metrics:
    """Metrics of the run or the baseline, and how to name them in messages and reports."""

    label: str
    values: dict[str, Any]
    kind: str  # "run" or "file"
    path: str


def load_metrics_file(path: Path) -> dict[str, Any]:
    """Read a baseline metrics file: a JSON object of metrics, or a document with a ``metrics`` object.

    ``dmrun train --json`` output and a run's ``metrics.json`` both qualify.

    Raises:
        DataError: when the file cannot be read, is not JSON, or holds no metrics object.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"cannot read baseline file {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise DataError(f"baseline file {path} is not valid JSON: {err}", hint="give a metrics JSON file or a run") from None
    if isinstance(document, dict) and isinstance(document.get("metrics"), dict):
        document = document["metrics"]
    if not isinstance(document, dict) or not document:
        raise DataError(
            f"baseline file {path} holds no metrics",
            hint='give a JSON object such as {"accuracy": 0.95}, a run\'s metrics.json, or `train --json` output',
        )
    return document


# --- evaluation ------------------------------------------------------------------------------


def evaluate(rules: list[Rule], run: Metrics, baseline: Metrics | None) -> list[dict[str, Any]]:
    """Return one verdict per rule: rule, metric, operator, value, baseline, threshold, passed.

    Raises:
        ConfigError: for a rule whose metric the run or the baseline lacks (the message names
            the metric and the hint lists the metrics present), or a baseline-relative rule
            without a baseline.
    """
    for rule in rules:
        if rule.needs_baseline and baseline is None:
            raise ConfigError(f"--rule '{rule.text}' compares with the baseline, but no --baseline was given")
        numeric_metric(run.values, rule.metric, f"--rule '{rule.text}'", run.label)
        if baseline is not None:
            numeric_metric(baseline.values, rule.metric, f"--rule '{rule.text}'", baseline.label)

    verdicts = []
    for rule in rules:
        value = numeric_metric(run.values, rule.metric, rule.text, run.label)
        reference = numeric_metric(baseline.values, rule.metric, rule.text, baseline.label) if baseline else None
        threshold = rule.threshold(reference)
        finite = math.isfinite(value) and math.isfinite(threshold)
        verdicts.append(
            {
                "rule": rule.text,
                "metric": rule.metric,
                "operator": rule.operator,
                "value": value,
                "baseline": reference,
                "threshold": threshold,
                "passed": finite and OPERATORS[rule.operator](value, threshold),
            }
        )
    return verdicts


# --- reports ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def verdict_rows(verdicts: list[dict[str, Any]]) -> list[list[str]]:
    """Return the verdict table's rows: rule, value, baseline, threshold, result."""
    return [
        [
            verdict["rule"],
            _cell(verdict["value"]),
            _cell(verdict["baseline"]),
            _cell(verdict["threshold"]),
            "pass" if verdict["passed"] else "FAIL",
        ]
        for verdict in verdicts
    ]


VERDICT_HEADER = ["rule", "value", "baseline", "threshold", "result"]


def junit_xml(verdicts: list[dict[str, Any]], run: Metrics, baseline: Metrics | None) -> str:
    """Render the verdicts as JUnit XML: one test case per rule, a ``<failure>`` for each failed one."""
    failures = sum(not verdict["passed"] for verdict in verdicts)
    suites = ElementTree.Element("testsuites", name="dmrun gate", tests=str(len(verdicts)), failures=str(failures))
    suite = ElementTree.SubElement(
        suites, "testsuite", name=f"dmrun gate {run.label}", tests=str(len(verdicts)), failures=str(failures), errors="0"
    )
    for verdict in verdicts:
        case = ElementTree.SubElement(suite, "testcase", classname="dmrun.gate", name=verdict["rule"])
        if not verdict["passed"]:
            message = _failure_message(verdict, baseline)
            failure = ElementTree.SubElement(case, "failure", message=message, type="GateFailure")
            failure.text = message
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def _failure_message(verdict: dict[str, Any], baseline: Metrics | None) -> str:
    text = f"{verdict['metric']} = {_cell(verdict['value'])}, expected {verdict['operator']} {_cell(verdict['threshold'])}"
    if verdict["baseline"] is not None and baseline is not None:
        text += f" ({baseline.label}: {_cell(verdict['baseline'])})"
    return text


def markdown(verdicts: list[dict[str, Any]], run: Metrics, baseline: Metrics | None) -> str:
    """Render the verdicts as a Markdown section with a table, for job summaries and PR comments."""
    failed = sum(not verdict["passed"] for verdict in verdicts)
    outcome = "passed" if not failed else f"failed ({failed} of {len(verdicts)} rules)"
    against = f" against {_escape_markdown(baseline.label)}" if baseline else ""
    lines = [
        f"### dmrun gate: {outcome}",
        "",
        f"{_escape_markdown(run.label)}{against}",
        "",
        "| " + " | ".join(VERDICT_HEADER) + " |",
        "|" + "---|" * len(VERDICT_HEADER),
    ]
    for rule, *numbers, result in verdict_rows(verdicts):
        # A code span keeps '*' and '<' in a rule from being read as emphasis or HTML.
        cells = [f"`{rule}`", *(number or " " for number in numbers), "pass" if result == "pass" else "**FAIL**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text.replace("\n", " "))
