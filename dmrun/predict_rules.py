"""Rule matching: which of a finished run's rules fire for each basket of new data.

A rule fires for a basket when every item of its antecedent is in the basket. Each fired rule
becomes one output row, in the run's rule order, with ``in_basket`` saying whether the
consequent is already in the basket. Over all fired rules, the share that are in the basket is
the rules' hit rate on the new data: their observed confidence, to set beside the mined one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import ConfigError, RunDirError

SEPARATOR = "|"
SHOWN = ("support", "confidence", "lift")


def read_rules(run: Path) -> list[dict[str, Any]]:
    """Read ``artifacts/rules.csv`` as rules with item sets and the shown measures."""
    path = run / "artifacts" / "rules.csv"
    if not path.is_file():
        raise ConfigError(
            f"run {run.name} has no rules file (it mined itemsets only)",
            hint="predict with a run of `dmrun mine rules` or `output: rules`",
        )
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            return [
                {
                    "antecedents": row["antecedents"],
                    "consequents": row["consequents"],
                    "antecedent_items": frozenset(row["antecedents"].split(SEPARATOR)),
                    "consequent_items": frozenset(row["consequents"].split(SEPARATOR)),
                    **{name: float(row[name]) for name in SHOWN},
                }
                for row in csv.DictReader(stream)
            ]
    except (KeyError, ValueError, OSError) as err:
        raise RunDirError(f"cannot read {path}: {err}") from None


def match(rules: list[dict[str, Any]], transactions: list[list[str]]):
    """Return one row per (basket, fired rule) and the summary metrics."""
    import pandas as pd

    postings: dict[str, list[int]] = defaultdict(list)
    for index, rule in enumerate(rules):
        for item in rule["antecedent_items"]:
            postings[item].append(index)
    needed = [len(rule["antecedent_items"]) for rule in rules]
    rows = []
    baskets_with_rules = hits = 0
    for number, basket in enumerate(transactions, start=1):
        items = set(basket)
        present: dict[int, int] = defaultdict(int)
        for item in items:
            for index in postings.get(item, ()):
                present[index] += 1
        fired = sorted(index for index, count in present.items() if count == needed[index])
        baskets_with_rules += bool(fired)
        for index in fired:
            rule = rules[index]
            in_basket = rule["consequent_items"] <= items
            hits += in_basket
            rows.append(
                {
                    "basket": number,
                    "antecedents": rule["antecedents"],
                    "consequents": rule["consequents"],
                    **{name: rule[name] for name in SHOWN},
                    "in_basket": in_basket,
                }
            )
    columns = ["basket", "antecedents", "consequents", *SHOWN, "in_basket"]
    metrics = {
        "baskets": len(transactions),
        "baskets_with_rules": baskets_with_rules,
        "fired_rules": len(rows),
        "hit_rate": hits / len(rows) if rows else None,
    }
    return pd.DataFrame(rows, columns=columns), metrics


def predict_rules(run: Path, config: ExperimentConfig, data_path: Path):
    """Match the run's rules against the baskets in ``data_path``, read with the run's options."""
    from dmrun.data import read_basket_file
    from dmrun.predict import Predictions, check_data_file

    if config.preprocess:
        raise ConfigError(
            f"run {run.name} mined rules from a table after preprocessing; predict matches rules against baskets only",
            hint="mine the table's baskets directly, or match the rules with the `column=bin` items yourself",
        )
    check_data_file(data_path)
    dataset = config.dataset.model_copy(update={"name": None, "path": str(data_path), "format": "basket"})
    baskets = read_basket_file(data_path, dataset, data_path.parent)
    frame, metrics = match(read_rules(run), baskets.transactions)
    return Predictions(frame=frame, metrics=metrics)
