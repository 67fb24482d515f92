"""Differences between run folders, for ``dmrun runs diff`` and ``dmrun runs compare``.

Only files a run folder already has are read: run.json, config.yaml, metrics.json, data.json
and artifacts/rules.csv. Nothing here imports pandas.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import yaml

from dmrun.expect import is_number
from dmrun.rundir import read_json_file, read_record

# Keys of data.json that identify the data a run saw.
DATA_KEYS = ("source", "fingerprint", "rows", "transactions", "target", "task")
# Rules listed on each side of a diff; the counts always cover all of them.
RULES_SHOWN = 20


def read_config(folder: Path) -> dict[str, Any]:
    """Return a run's resolved config, or an empty dict when config.yaml is missing or unreadable."""
    try:
        data = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested sections into dotted keys; list items get ``[i]`` (``preprocess[0].step``)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


class RunInfo:
    """The parts of one run folder that a diff or comparison reads."""

    def __init__(self, folder: Path) -> None:
        self.path = folder
        self.record = read_record(folder) or {}
        self.id = self.record.get("id", folder.name)
        self.config = flatten(read_config(folder))
        metrics = read_json_file(folder / "metrics.json")
        self.metrics: dict[str, Any] = metrics if isinstance(metrics, dict) else {}
        data = read_json_file(folder / "data.json")
        self.data = {key: data.get(key) for key in DATA_KEYS if key in data} if isinstance(data, dict) else {}

    def environment(self) -> dict[str, Any]:
        return environment(self.record)


def environment(record: dict[str, Any]) -> dict[str, Any]:
    """Return the package versions, Python, git commit, host and process count a run recorded, as flat keys."""
    git = record.get("git") or {}
    values = {f"versions.{name}": version for name, version in (record.get("versions") or {}).items()}
    values.update({"git.commit": git.get("commit"), "git.dirty": git.get("dirty"), "host": record.get("host")})
    values["distributed.world_size"] = (record.get("distributed") or {}).get("world_size", 1)
    return values


def changed(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``{"key", "a", "b"}`` for every key whose values differ; a missing key is null."""
    keys = list(dict.fromkeys([*left, *right]))
    return [{"key": key, "a": left.get(key), "b": right.get(key)} for key in keys if left.get(key) != right.get(key)]


def metric_deltas(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the metrics that differ, with ``delta`` = b - a where both are numbers."""
    rows = []
    for entry in changed(left, right):
        a, b = entry["a"], entry["b"]
        entry["delta"] = b - a if is_number(a) and is_number(b) else None
        if isinstance(entry["delta"], float) and not math.isfinite(entry["delta"]):
            entry["delta"] = None
        rows.append(entry)
    return rows


def read_rules(folder: Path) -> set[tuple[str, str]] | None:
    """Return a rule-mining run's rules as (antecedents, consequents) pairs, or None without rules.csv.

    Items within a side are sorted, so the same rule written in another item order still matches.
    """
    path = folder / "artifacts" / "rules.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as stream:
        return {(_itemset(row.get("antecedents")), _itemset(row.get("consequents"))) for row in csv.DictReader(stream)}


def _itemset(text: str | None) -> str:
    return "|".join(sorted((text or "").split("|")))


def rules_diff(a: Path, b: Path, shown: int = RULES_SHOWN) -> dict[str, Any] | None:
    """Return counts and the first ``shown`` rules added in ``b`` and removed from ``a``."""
    left, right = read_rules(a), read_rules(b)
    if left is None or right is None:
        return None
    added, removed = sorted(right - left), sorted(left - right)
    return {
        "a_count": len(left),
        "b_count": len(right),
        "common": len(left & right),
        "added_count": len(added),
        "removed_count": len(removed),
        "added": [_rule_entry(rule) for rule in added[:shown]],
        "removed": [_rule_entry(rule) for rule in removed[:shown]],
    }


def _rule_entry(rule: tuple[str, str]) -> dict[str, list[str]]:
    return {"antecedents": rule[0].split("|"), "consequents": rule[1].split("|")}


def diff_runs(a: Path, b: Path, shown: int = RULES_SHOWN) -> dict[str, Any]:
    """Return only what differs between two runs: config, data, environment, metrics and rules."""
    left, right = RunInfo(a), RunInfo(b)
    return {
        "a": {"id": left.id, "path": str(a), "status": left.record.get("status")},
        "b": {"id": right.id, "path": str(b), "status": right.record.get("status")},
        "config": changed(left.config, right.config),
        "data": changed(left.data, right.data),
        "environment": changed(left.environment(), right.environment()),
        "metrics": metric_deltas(left.metrics, right.metrics),
        "rules": rules_diff(a, b, shown),
    }


def compare_runs(folders: list[Path]) -> dict[str, Any]:
    """Return the scalar metrics of every run and the config keys whose values differ among them."""
    runs = [RunInfo(folder) for folder in folders]
    metric_names = list(dict.fromkeys(key for run in runs for key, value in run.metrics.items() if _scalar(value)))
    config_keys = list(dict.fromkeys(key for run in runs for key in run.config))
    differing = [key for key in config_keys if len({json.dumps(run.config.get(key), sort_keys=True) for run in runs}) > 1]
    return {
        "metrics": metric_names,
        "config_keys": differing,
        "runs": [
            {
                "id": run.id,
                "path": str(run.path),
                "status": run.record.get("status"),
                "metrics": {name: run.metrics.get(name) for name in metric_names},
                "config": {key: run.config.get(key) for key in differing},
            }
            for run in runs
        ],
    }


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))
