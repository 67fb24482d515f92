"""Rule mining on public benchmark basket files, when a shared datasets folder sits beside the repo.

The whole module is skipped when the folder is absent. Each result is compared with a direct
mlxtend call on transactions read here independently of dmrun's reader.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from helpers import itemsets_from_run, mlxtend_itemsets, mlxtend_rules, read_json, run_folder_from_stdout

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

if not DATASETS.is_dir():
    pytest.skip(f"no shared datasets folder at {DATASETS}", allow_module_level=True)


def require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def read_comma_baskets(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        baskets = [list(dict.fromkeys(cell.strip() for cell in row if cell.strip())) for row in csv.reader(stream)]
    return [basket for basket in baskets if basket]


def read_fimi_baskets(path: Path) -> list[list[str]]:
    with open(path, encoding="ascii") as stream:
        return [list(dict.fromkeys(line.split())) for line in stream if line.strip()]


@pytest.fixture(scope="module")
def groceries_run(tmp_path_factory):
    from typer.testing import CliRunner

    from dmrun.cli import app

    path = require(DATASETS / "groceries" / "groceries.csv")
    runs = tmp_path_factory.mktemp("groceries")
    args = ["mine", "rules", str(path), "--support", "0.02", "--confidence", "0.5", "--runs-dir", str(runs), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return path, run_folder_from_stdout(result.stdout)


def test_groceries_itemsets_match_mlxtend(groceries_run):
    path, run = groceries_run
    assert itemsets_from_run(run) == mlxtend_itemsets(read_comma_baskets(path), 0.02)


def test_groceries_rules_match_mlxtend(groceries_run):
    path, run = groceries_run
    expected = mlxtend_rules(read_comma_baskets(path), 0.02, 0.5)
    rules = read_json(run / "artifacts" / "rules.json")
    assert {(frozenset(rule["antecedents"]), frozenset(rule["consequents"])) for rule in rules} == set(expected)
    for rule in rules:
        reference = expected[frozenset(rule["antecedents"]), frozenset(rule["consequents"])]
        for measure in ("support", "confidence", "lift", "leverage", "conviction"):
            reference_value = None if math.isinf(reference[measure]) else float(reference[measure])
            assert rule[measure] == reference_value, measure


def test_groceries_transactions_counted(groceries_run):
    path, run = groceries_run
    assert read_json(run / "data.json")["transactions"] == len(read_comma_baskets(path))


@pytest.mark.parametrize(("name", "support"), [("chess.dat", 0.8), ("mushroom.dat", 0.6)])
def test_fimi_itemsets_match_mlxtend(cli, tmp_path, name, support):
    path = require(DATASETS / "fimi" / name)
    result = cli("mine", "itemsets", path, "--support", str(support), "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    assert itemsets_from_run(run_folder_from_stdout(result.stdout)) == mlxtend_itemsets(read_fimi_baskets(path), support)
