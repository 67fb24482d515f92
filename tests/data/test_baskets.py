"""Basket data in every layout: lines, long tables, one-hot and quantity tables, and binned tables."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest

from helpers import itemsets_from_run, read_json, train_config

QUANTITIES = """invoice,candle,mug,napkins,teapot
1001,6,0,12,0
1002,0,2,0,1
1003,12,1,24,0
1004,0,0,6,1
1005,-1,0,0,0
1006,3,4,0,2
"""

RAGGED = "shrimp,almonds,avocado,,,\nburgers,meatballs,eggs,,,\nchutney,,,,,\n asparagus,eggs,,,,\nasparagus,mineral water,eggs,,,\n\nmineral water,eggs ,spaghetti,olive oil,tomatoes,avocado\n"

LONG = "order_id,item\n1,bread\n1,milk\n2,bread\n2,\n3,milk\n3,eggs\n4,\n"


def mine(write_config, tmp_path: Path, dataset: str, support: float = 0.3, preprocess: str = "") -> Path:
    config = write_config(
        f"name: baskets\ndataset: {dataset}\n"
        + (f"preprocess: {preprocess}\n" if preprocess else "")
        + f"model: {{type: rules, min_support: {support}, output: itemsets}}\n"
    )
    return train_config(config, tmp_path / "runs").run.path


def test_quantity_table_binarised(tmp_path, write_config):
    (tmp_path / "invoices.csv").write_text(QUANTITIES, encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: invoices.csv, baskets: {layout: quantity, transaction_column: invoice}}")
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 5
    assert summary["empty_baskets_dropped"] == 1
    assert summary["negative_quantities"] == 1
    assert summary["negative_quantities_listed"] == [{"transaction": "1005", "item": "candle", "value": -1.0}]
    assert "transaction 1005, candle = -1" in summary["warnings"][0]
    itemsets = itemsets_from_run(run)
    expected = {
        frozenset({"candle"}): 0.6,
        frozenset({"mug"}): 0.6,
        frozenset({"napkins"}): 0.6,
        frozenset({"teapot"}): 0.6,
        frozenset({"candle", "mug"}): 0.4,
        frozenset({"candle", "napkins"}): 0.4,
        frozenset({"mug", "teapot"}): 0.4,
    }
    assert set(itemsets) == set(expected)
    for itemset, support in expected.items():
        assert itemsets[itemset] == pytest.approx(support)


def test_quantity_supports_are_monotone(tmp_path, write_config):
    (tmp_path / "invoices.csv").write_text(QUANTITIES, encoding="utf-8")
    run = mine(
        write_config, tmp_path, "{path: invoices.csv, baskets: {layout: quantity, transaction_column: invoice}}", 0.01
    )
    itemsets = itemsets_from_run(run)
    for itemset, support in itemsets.items():
        for size in range(1, len(itemset)):
            for subset in combinations(sorted(itemset), size):
                assert support <= itemsets[frozenset(subset)] + 1e-12


def test_ragged_lines_cleaned(tmp_path, write_config):
    (tmp_path / "groceries_wide.csv").write_text(RAGGED, encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: groceries_wide.csv}", 0.1)
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 6
    assert summary["distinct_items"] == 12
    assert summary["empty_baskets_dropped"] == 1
    assert summary["items_trimmed"] == 2
    items = {item for itemset in itemsets_from_run(run) for item in itemset}
    assert items == {
        "almonds", "asparagus", "avocado", "burgers", "chutney", "eggs", "meatballs",
        "mineral water", "olive oil", "shrimp", "spaghetti", "tomatoes",
    }


def test_long_table_grouped(tmp_path, write_config):
    (tmp_path / "orders_long.csv").write_text(LONG, encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: orders_long.csv, baskets: {transaction_column: order_id}}", 0.3)
    summary = read_json(run / "data.json")
    assert summary["layout"] == "long"
    assert summary["transaction_ids"] == 4
    assert summary["transactions"] == 3  # order 4 had only a blank item
    assert summary["blank_items_dropped"] == 2
    assert summary["empty_baskets_dropped"] == 1
    assert "empty transactions are dropped" in summary["support_denominator"]
    itemsets = itemsets_from_run(run)
    assert itemsets[frozenset({"bread"})] == pytest.approx(2 / 3)
    assert itemsets[frozenset({"milk"})] == pytest.approx(2 / 3)
    assert "nan" not in {item for itemset in itemsets for item in itemset}


def test_long_table_needs_item_column(tmp_path, write_config, cli):
    (tmp_path / "orders_long.csv").write_text(LONG, encoding="utf-8")
    config = write_config(
        "name: b\ndataset: {path: orders_long.csv, baskets: {transaction_column: order_id, item_column: product}}\n"
        "model: {type: rules}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "dataset.baskets.item_column: column 'product' not found" in result.stderr


def test_onehot_table(tmp_path, write_config):
    (tmp_path / "onehot.csv").write_text(
        "bread,milk,eggs\n1,1,0\ntrue,false,true\n0,0,0\nTRUE,1,FALSE\n", encoding="utf-8"
    )
    run = mine(write_config, tmp_path, "{path: onehot.csv, baskets: {layout: onehot}}", 0.5)
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 3
    assert summary["empty_baskets_dropped"] == 1
    itemsets = itemsets_from_run(run)
    assert itemsets[frozenset({"bread"})] == pytest.approx(1.0)
    assert itemsets[frozenset({"bread", "milk"})] == pytest.approx(2 / 3)


def test_onehot_rejects_counts(tmp_path, write_config, cli):
    (tmp_path / "onehot.csv").write_text("id,bread,milk\na,1,0\nb,3,1\n", encoding="utf-8")
    config = write_config(
        "name: b\ndataset: {path: onehot.csv, baskets: {layout: onehot, transaction_column: id}}\nmodel: {type: rules}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "column 'bread' has the value 3" in result.stderr
    assert "transaction b" in result.stderr
    assert "layout: quantity" in result.stderr


def test_table_mined_after_discretise(tmp_path, write_config):
    rows = ["age,income,city"] + [f"{20 + index},{1000 * (index % 4)},{'paris' if index % 2 else 'rome'}" for index in range(40)]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = mine(
        write_config,
        tmp_path,
        "{path: people.csv, format: csv}",
        0.2,
        "[{step: discretise, n_bins: 2, columns: [age]}]",
    )
    summary = read_json(run / "data.json")
    assert summary["layout"] == "table"
    assert summary["binned_columns"] == ["age"]
    items = {item for itemset in itemsets_from_run(run) for item in itemset}
    assert "city=paris" in items
    assert "income=3000" in items
    assert {item for item in items if item.startswith("age=")} == {"age=[20, 39.5)", "age=[39.5, 59]"}


def test_mining_rejects_scaling(tmp_path, write_config, cli):
    (tmp_path / "people.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    config = write_config("name: b\ndataset: {path: people.csv, format: csv}\npreprocess: [{step: scale}]\nmodel: {type: rules}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert "not scale" in result.stderr


# --- real basket files -----------------------------------------------------------------------

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def shared_file(relative: str) -> Path:
    path = DATASETS / relative
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def test_bakery_long_table(tmp_path, write_config):
    import csv

    path = shared_file("bakery/BreadBasket_DMS.csv")
    run = mine(
        write_config,
        tmp_path,
        f"{{path: '{path}', baskets: {{transaction_column: Transaction, item_column: Item, ignore_items: [NONE]}}}}",
        0.05,
    )
    summary = read_json(run / "data.json")
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    baskets: dict[str, set[str]] = {}
    for row in rows:
        baskets.setdefault(row["Transaction"], set())
        if row["Item"] != "NONE":
            baskets[row["Transaction"]].add(row["Item"])
    non_empty = [basket for basket in baskets.values() if basket]
    assert summary["rows_read"] == 21293
    assert summary["transaction_ids"] == 9531
    assert summary["ignored_items_dropped"] == 786
    assert summary["transactions"] == len(non_empty)
    assert summary["distinct_items"] == 94
    coffee = sum("Coffee" in basket for basket in non_empty) / len(non_empty)
    assert itemsets_from_run(run)[frozenset({"Coffee"})] == pytest.approx(coffee)


def test_groceries_lines(tmp_path, write_config):
    path = shared_file("groceries/groceries.csv")
    run = mine(write_config, tmp_path, f"{{path: '{path}'}}", 0.05)
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 9835
    assert summary["distinct_items"] == 169
    assert itemsets_from_run(run)[frozenset({"whole milk"})] == pytest.approx(2513 / 9835)


def test_mine_cli_layout_options(tmp_path, cli):
    (tmp_path / "invoices.csv").write_text(QUANTITIES, encoding="utf-8")
    result = cli(
        "mine", "itemsets", tmp_path / "invoices.csv", "--layout", "quantity", "--transaction-column", "invoice",
        "--support", "0.3", "--runs-dir", tmp_path / "runs", "--json",
    )
    assert result.exit_code == 0
    run = next((tmp_path / "runs").iterdir())
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 5
    assert summary["negative_quantities"] == 1
    assert itemsets_from_run(run)[frozenset({"candle", "mug"})] == pytest.approx(0.4)


def test_mine_cli_rejects_unknown_layout(tmp_path, cli):
    (tmp_path / "invoices.csv").write_text(QUANTITIES, encoding="utf-8")
    result = cli("mine", "itemsets", tmp_path / "invoices.csv", "--layout", "quantities")
    assert result.exit_code == 2
    assert "did you mean 'quantity'" in result.stderr


@pytest.mark.parametrize(
    ("text", "option"),
    [
        (QUANTITIES, "--layout quantity --transaction-column invoice"),
        (LONG, "--layout long --transaction-column order_id --item-column item"),
        ("id,milk,bread\n1,1,0\n2,1,1\n3,0,1\n", "--layout onehot --transaction-column id"),
        ("bread,milk,eggs\n1,0,1\n0,1,1\n1,1,0\n0,0,1\n", "--layout onehot"),
        ("bread,milk,eggs\ntrue,false,true\nfalse,true,true\ntrue,true,false\n", "--layout onehot"),
    ],
    ids=["quantity", "long", "onehot-id", "onehot", "onehot-words"],
)
def test_table_not_mined_as_lines(tmp_path, cli, text, option):
    """Without a layout, a table with a header row is rejected, and the hint names the layout that reads it."""
    (tmp_path / "table.csv").write_text(text, encoding="utf-8")
    result = cli("mine", "itemsets", tmp_path / "table.csv", "--support", "0.3", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "table.csv looks like a table, not one basket per line" in result.stderr
    assert f"read it as a table with {option}" in result.stderr
    hinted = cli("mine", "itemsets", tmp_path / "table.csv", *option.split(), "--support", "0.3", "--runs-dir", tmp_path / "runs")
    assert hinted.exit_code == 0, hinted.stderr
    as_lines = cli("mine", "itemsets", tmp_path / "table.csv", "--layout", "lines", "--support", "0.3", "--runs-dir", tmp_path / "runs")
    assert as_lines.exit_code == 0, as_lines.stderr


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3\n4,5,6\n7,8,9\n",  # numeric items on every line, the first one included
        "milk,bread,eggs\nbeer,chips,salsa\ntea,milk,bread\n",  # equal widths, no numbers
        "milk,bread\n1,2,3\n4,5\n",  # unequal widths
        "apple,banana,cherry\n4011,banana,cherry\n4012,banana,kiwi\n4011,cherry,apple\n",  # first-line items recur
    ],
    ids=["numbers", "words", "ragged", "codes"],
)
def test_baskets_of_equal_width_accepted(tmp_path, cli, text):
    (tmp_path / "baskets.csv").write_text(text, encoding="utf-8")
    result = cli("mine", "itemsets", tmp_path / "baskets.csv", "--support", "0.3", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.stderr


def test_sample_of_transactions(tmp_path, write_config):
    lines = "".join(f"bread,item{index % 5}\n" for index in range(100))
    (tmp_path / "many.csv").write_text(lines, encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: many.csv, sample: 0.25}", 0.5)
    summary = read_json(run / "data.json")
    assert summary["transactions"] == 25
    assert summary["sample"]["transactions_before"] == 100
    assert itemsets_from_run(run)[frozenset({"bread"})] == pytest.approx(1.0)


@pytest.mark.parametrize("separator", [",", " "], ids=["comma", "whitespace"])
def test_lines_layout_drops_ignored_items(tmp_path, write_config, separator):
    lines = ["bread", "NONE", "milk"], ["NONE"], ["bread", "milk"], ["bread", " NONE "]
    (tmp_path / "baskets.txt").write_text("".join(separator.join(line) + "\n" for line in lines), encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: baskets.txt, baskets: {ignore_items: [NONE]}}", support=0.5)
    summary = read_json(run / "data.json")
    assert summary["ignored_items_dropped"] == 3
    assert summary["empty_baskets_dropped"] == 1
    assert summary["transactions"] == 3
    assert summary["rows_read"] == 4
    itemsets = itemsets_from_run(run)
    assert frozenset({"NONE"}) not in itemsets
    assert itemsets[frozenset({"bread", "milk"})] == pytest.approx(2 / 3)


def test_lines_layout_counts_no_ignored_items_by_default(tmp_path, write_config):
    (tmp_path / "baskets.txt").write_text("bread,NONE\nmilk\n", encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: baskets.txt}", support=0.5)
    summary = read_json(run / "data.json")
    assert summary["ignored_items_dropped"] == 0
    assert frozenset({"NONE"}) in itemsets_from_run(run)


def test_lines_layout_skips_title_rows(tmp_path, write_config):
    (tmp_path / "baskets.txt").write_text("exported 2026-01-01\nbread,milk\nbread\n", encoding="utf-8")
    run = mine(write_config, tmp_path, "{path: baskets.txt, skip_rows: 1}", support=0.5)
    assert read_json(run / "data.json")["transactions"] == 2
    assert frozenset({"exported 2026-01-01"}) not in itemsets_from_run(run)


def test_mine_skip_rows_option(cli, tmp_path):
    (tmp_path / "baskets.txt").write_text("exported 2026-01-01\nbread,milk\nbread\n", encoding="utf-8")
    result = cli("mine", "itemsets", tmp_path / "baskets.txt", "--skip-rows", "1", "--support", "0.5",
                 "--no-plots", "--json", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert '"transactions": 2' in result.stdout


@pytest.mark.parametrize("text", [RAGGED, "a b a\nc  b\n\n  d\n", "茶 咖啡\n咖啡 茶 茶\n"])
def test_coded_baskets_match_item_names(tmp_path, text):
    from dmrun.data.readers import read_baskets

    path = tmp_path / "baskets.txt"
    path.write_text(text, encoding="utf-8")
    named = read_baskets(path)
    coded = read_baskets(path, coded=True)
    assert named.item_names is None
    assert [[coded.item_names[code] for code in basket] for basket in coded.transactions] == named.transactions
    assert coded.item_counts == named.item_counts
    assert coded.summary == named.summary


def test_long_layout_needs_transaction_column(tmp_path, cli, write_config):
    data = tmp_path / "long.csv"
    data.write_text(LONG, encoding="utf-8")
    result = cli("mine", "rules", data, "--layout", "long", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "missing --transaction-column for --layout long" in result.stderr
    config = write_config(f"name: long\ndataset: {{path: {data}, baskets: {{layout: long}}}}\nmodel: {{type: rules}}\n")
    invalid = cli("validate", config)
    assert invalid.exit_code == 2
    assert "missing `transaction_column` for the long layout" in invalid.stderr


def test_unclosed_quote_rejected(tmp_path, cli):
    data = tmp_path / "quote.txt"
    data.write_text('title\nmilk,"bread\nmilk,eggs\nbread,eggs\n', encoding="utf-8")
    result = cli("mine", "rules", data, "--skip-rows", "1", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "line 2 opens a quoted item that does not close on that line" in result.stderr
    assert "lines 2 to 4" in result.stderr


def test_quoted_items_with_delimiter_kept(tmp_path):
    from dmrun.data.readers import read_baskets

    data = tmp_path / "quoted.txt"
    data.write_text('milk,"bread, white"\n"5"" pipe",eggs\n', encoding="utf-8")
    assert read_baskets(data).transactions == [["milk", "bread, white"], ['5" pipe', "eggs"]]
