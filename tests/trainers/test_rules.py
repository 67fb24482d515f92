"""Rule mining: results equal a direct mlxtend call, file formats, option checks, basket reading."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from helpers import (
    itemsets_from_run,
    mlxtend_itemsets,
    mlxtend_rules,
    read_json,
    run_folder_from_stdout,
    run_folders,
)

TRANSACTIONS = [
    ["milk", "bread"],
    ["milk", "bread", "eggs"],
    ["bread", "eggs"],
    ["milk", "bread", "butter"],
    ["beer", "chips"],
    ["milk", "eggs"],
    ["beer", "chips", "bread"],
    ["milk", "bread", "eggs", "butter"],
]
MEASURES = ["support", "confidence", "lift", "leverage", "conviction"]


def write_baskets(folder: Path, transactions: list[list[str]], name: str = "baskets.csv") -> Path:
    path = folder / name
    path.write_text("".join(",".join(basket) + "\n" for basket in transactions), encoding="utf-8")
    return path


@pytest.fixture
def mine(cli, tmp_path):
    """Run ``dmrun mine KIND DATA ARGS`` into tmp_path/runs and return the result and its run folder."""

    def run(kind: str, data: Path, *args: str):
        result = cli("mine", kind, data, *args, "--runs-dir", tmp_path / "runs", "--quiet")
        folder = run_folder_from_stdout(result.stdout) if result.exit_code == 0 else None
        return result, folder

    return run


@pytest.fixture
def basket_run(mine, tmp_path) -> Path:
    result, folder = mine("rules", write_baskets(tmp_path, TRANSACTIONS), "--support", "0.25", "--confidence", "0.5")
    assert result.exit_code == 0, result.output
    return folder


# --- agreement with mlxtend ------------------------------------------------------------------


def test_itemset_supports_match_mlxtend(basket_run):
    assert itemsets_from_run(basket_run) == mlxtend_itemsets(TRANSACTIONS, 0.25)


def test_rule_set_matches_mlxtend(basket_run):
    rules = read_json(basket_run / "artifacts" / "rules.json")
    found = {(frozenset(rule["antecedents"]), frozenset(rule["consequents"])) for rule in rules}
    assert found == set(mlxtend_rules(TRANSACTIONS, 0.25, 0.5))


@pytest.mark.parametrize("measure", MEASURES)
def test_rule_measure_matches_mlxtend(basket_run, measure):
    expected = mlxtend_rules(TRANSACTIONS, 0.25, 0.5)
    for rule in read_json(basket_run / "artifacts" / "rules.json"):
        reference = float(expected[frozenset(rule["antecedents"]), frozenset(rule["consequents"])][measure])
        if math.isinf(reference):
            assert rule[measure] is None
        else:
            assert rule[measure] == reference


def test_apriori_equals_fpgrowth(mine, tmp_path):
    data = write_baskets(tmp_path, TRANSACTIONS)
    _, by_fpgrowth = mine("itemsets", data, "--support", "0.2", "--algorithm", "fpgrowth")
    _, by_apriori = mine("itemsets", data, "--support", "0.2", "--algorithm", "apriori")
    assert itemsets_from_run(by_apriori) == itemsets_from_run(by_fpgrowth)
    assert itemsets_from_run(by_apriori) == mlxtend_itemsets(TRANSACTIONS, 0.2, "apriori")


# --- file formats ------------------------------------------------------------------------------


def test_json_itemsets_are_lists(basket_run):
    rules = read_json(basket_run / "artifacts" / "rules.json")
    assert rules
    assert all(isinstance(rule["antecedents"], list) for rule in rules)
    assert all(isinstance(rule["consequents"], list) for rule in rules)
    assert all(isinstance(record["itemset"], list) for record in read_json(basket_run / "artifacts" / "itemsets.json"))


def test_csv_itemsets_are_pipe_joined(basket_run):
    with open(basket_run / "artifacts" / "rules.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    json_rules = read_json(basket_run / "artifacts" / "rules.json")
    assert [row["antecedents"] for row in rows] == ["|".join(rule["antecedents"]) for rule in json_rules]
    assert [row["consequents"] for row in rows] == ["|".join(rule["consequents"]) for rule in json_rules]
    assert any("|" in row["antecedents"] for row in rows)


def test_no_set_repr_in_files(basket_run):
    written = [path for path in basket_run.rglob("*") if path.suffix in (".json", ".csv", ".yaml", ".txt")]
    assert len(written) >= 8
    for path in written:
        assert "frozenset(" not in path.read_text(encoding="utf-8"), path.name


def test_infinite_conviction_is_null(mine, tmp_path):
    data = write_baskets(tmp_path, [["a", "b"], ["a", "b"], ["c"]])
    result, folder = mine("rules", data, "--support", "0.5", "--confidence", "1")
    assert result.exit_code == 0, result.output
    rules = read_json(folder / "artifacts" / "rules.json")
    assert [rule["confidence"] for rule in rules] == [1.0, 1.0]
    assert [rule["conviction"] for rule in rules] == [None, None]
    with open(folder / "artifacts" / "rules.csv", newline="", encoding="utf-8") as stream:
        assert [row["conviction"] for row in csv.DictReader(stream)] == ["inf", "inf"]


@pytest.mark.parametrize("engine", ["fim", "mlxtend"])
def test_nothing_frequent_gives_empty_files(mine, tmp_path, engine):
    data = write_baskets(tmp_path, [["a", "b"], ["c"], ["d"], ["e"]])
    result, folder = mine("rules", data, "--support", "0.5", "--engine", engine)
    assert result.exit_code == 0, result.output
    assert read_json(folder / "metrics.json")["itemsets"] == 0
    assert read_json(folder / "artifacts" / "rules.json") == []
    assert read_json(folder / "artifacts" / "itemsets.json") == []
    assert "no itemset is frequent: min_support 0.5 needs 2 of 4 baskets" in result.stderr
    assert "lower --support" in result.stderr


# --- option checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [("3", "3"), ("0", "0"), ("-0.1", "-0.1"), ("60", "60"), ("1.5", "1.5")]
)
def test_bad_support_exits_before_reading(cli, tmp_path, value, shown):
    undecodable = tmp_path / "gbk.csv"
    undecodable.write_bytes("牛奶,面包\n".encode("gbk"))  # reading it would fail with exit 3
    result = cli("mine", "rules", undecodable, f"--support={value}", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert f"invalid value for --support: {shown} is outside (0, 1]" in result.stderr
    assert run_folders(tmp_path / "runs") == []


@pytest.mark.parametrize("value", ["0", "-0.1"])
def test_zero_support_hints_fraction(cli, value):
    result = cli("mine", "rules", f"--support={value}")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "hint: support is a fraction of transactions in (0, 1], such as 0.01" in result.stderr


@pytest.mark.parametrize("value", ["3", "60"])
def test_whole_support_hints_percentage(cli, value):
    result = cli("mine", "rules", f"--support={value}")
    hint = result.stderr.split("hint:", 1)[-1]
    assert result.exit_code == 2
    assert "hint:" in result.stderr
    assert f"if {value} is a percentage, use {int(value) / 100:g}" in hint
    assert "transactions" in hint


def test_fpmax_rules_rejected(mine, tmp_path):
    result, _ = mine("rules", write_baskets(tmp_path, TRANSACTIONS), "--algorithm", "fpmax")
    assert result.exit_code == 2
    assert "fpmax" in result.stderr
    assert "mine itemsets" in result.stderr
    assert "--rules" not in result.stderr
    assert "Traceback" not in result.output


def test_fpmax_itemsets_are_maximal(mine, tmp_path):
    result, folder = mine("itemsets", write_baskets(tmp_path, TRANSACTIONS), "--support", "0.25", "--algorithm", "fpmax")
    assert result.exit_code == 0, result.output
    found = itemsets_from_run(folder)
    assert found == mlxtend_itemsets(TRANSACTIONS, 0.25, "fpmax")
    assert not any(small < large for small in found for large in found)


def test_min_count_matches_fraction(mine, tmp_path):
    result, folder = mine("itemsets", write_baskets(tmp_path, TRANSACTIONS), "--min-count", "3")
    assert result.exit_code == 0, result.output
    assert itemsets_from_run(folder) == mlxtend_itemsets(TRANSACTIONS, 3 / len(TRANSACTIONS))
    assert read_json(folder / "metrics.json")["min_count"] == 3


@pytest.mark.parametrize(
    ("count", "exit_code", "message"),
    [("0", 2, "--min-count: 0"), ("9", 3, "min_count 9 is larger than the number of transactions (8)")],
)
def test_bad_min_count_rejected(mine, tmp_path, count, exit_code, message):
    result, _ = mine("itemsets", write_baskets(tmp_path, TRANSACTIONS), "--min-count", count)
    assert result.exit_code == exit_code, result.output
    assert message in result.stderr


# --- reading basket files -----------------------------------------------------------------------


def test_messy_baskets_read_clean(mine, tmp_path):
    data = tmp_path / "messy.csv"
    data.write_bytes(b"\xef\xbb\xbfmilk, bread ,\r\n\r\nbread,bread,eggs,,\r\n  milk ,eggs\r\n\r\n")
    result, folder = mine("itemsets", data, "--support", "0.3")
    assert result.exit_code == 0, result.output
    items = set().union(*itemsets_from_run(folder))
    assert items == {"milk", "bread", "eggs"}
    text = (folder / "artifacts" / "itemsets.json").read_text(encoding="utf-8")
    assert "\ufeff" not in text
    assert "nan" not in text.lower()


def test_messy_basket_counts_recorded(mine, tmp_path):
    data = tmp_path / "messy.csv"
    data.write_bytes(b"\xef\xbb\xbfmilk, bread ,\r\n\r\nbread,bread,eggs,,\r\n  milk ,eggs\r\n\r\n")
    _, folder = mine("itemsets", data, "--support", "0.3")
    summary = read_json(folder / "data.json")
    assert summary["transactions"] == 3
    assert summary["distinct_items"] == 3
    assert summary["empty_baskets_dropped"] == 2
    assert summary["blank_items_dropped"] == 3
    assert summary["items_trimmed"] == 2
    assert summary["duplicate_items_collapsed"] == 1


def test_fimi_lines_split_on_whitespace(mine, tmp_path):
    data = tmp_path / "numbers.dat"
    data.write_text("1 2 3 \n2 3 \n1 3\t\n", encoding="utf-8")
    result, folder = mine("itemsets", data, "--support", "0.5")
    assert result.exit_code == 0, result.output
    assert itemsets_from_run(folder) == mlxtend_itemsets([["1", "2", "3"], ["2", "3"], ["1", "3"]], 0.5)
    assert read_json(folder / "data.json")["delimiter"] == "whitespace"


CHINESE = [["牛奶", "面包"], ["牛奶", "鸡蛋"], ["面包", "牛奶"]]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_chinese_items_read(mine, tmp_path, encoding):
    data = tmp_path / f"zh-{encoding}.csv"
    data.write_bytes("".join(",".join(basket) + "\n" for basket in CHINESE).encode(encoding))
    result, folder = mine("itemsets", data, "--support", "0.3", "--encoding", encoding)
    assert result.exit_code == 0, result.output
    assert itemsets_from_run(folder) == mlxtend_itemsets(CHINESE, 0.3)
    assert "牛奶" in result.stdout


def test_gbk_without_encoding_fails(mine, tmp_path):
    raw = "".join(",".join(basket) + "\n" for basket in CHINESE).encode("gbk")
    (tmp_path / "zh.csv").write_bytes(raw)
    with pytest.raises(UnicodeDecodeError) as reference:
        raw.decode("utf-8")
    result, _ = mine("itemsets", tmp_path / "zh.csv", "--support", "0.3")
    assert result.exit_code == 3, result.output
    assert f"at offset {reference.value.start}" in result.stderr
    assert "gbk" in result.stderr
    assert "Traceback" not in result.output


# --- the pre-flight size guard ----------------------------------------------------------------------


def long_basket_file(folder: Path) -> Path:
    return write_baskets(folder, [[f"item{index}" for index in range(30)], ["item0", "item1"], ["item2"]])


def test_huge_mining_refused_early(mine, tmp_path):
    result, _ = mine("rules", long_basket_file(tmp_path), "--support", "0.0001")
    assert result.exit_code == 3, result.output
    assert "at least 1.07e+09 itemsets" in result.stderr
    assert "--max-len" in result.stderr


def test_max_len_lets_mining_run(mine, tmp_path):
    result, folder = mine("rules", long_basket_file(tmp_path), "--support", "0.0001", "--max-len", "2")
    metrics = read_json(folder / "metrics.json") if folder else {}
    assert result.exit_code == 0, result.output
    assert metrics["itemsets"] == 30 + math.comb(30, 2)
    assert metrics["max_itemset_length"] == 2


# --- configs --------------------------------------------------------------------------------------


def test_rules_config_rejects_preprocess(cli, write_config, tmp_path):
    write_baskets(tmp_path, TRANSACTIONS)
    path = write_config("dataset: {path: baskets.csv, format: basket}\npreprocess: [{step: scale}]\nmodel: {type: rules}\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "not scale" in result.stderr
    assert "discretise" in result.stderr


def test_rules_table_needs_bins(cli, write_config, tmp_path):
    path = write_config("name: table-rules\ndataset: {name: iris}\nmodel: {type: rules}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "distinct values, too many to mine as items" in result.stderr
    assert "step: discretise" in result.stderr


def test_rule_count_guard_rejects(cli, tmp_path):
    baskets = tmp_path / "wide.csv"
    items = ",".join(f"item{index}" for index in range(12))
    baskets.write_text(f"{items}\n{items}\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.5", "--max-rules", "1000", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "candidate rules (limit: max_rules 1,000)" in result.stderr
    assert "--max-len" in result.stderr
    allowed = cli("mine", "rules", baskets, "--support", "0.5", "--max-len", "2", "--max-rules", "1000",
                  "--runs-dir", tmp_path / "runs")
    assert allowed.exit_code == 0, allowed.output


def test_mine_rejects_folder_and_encoding(cli, tmp_path):
    folder = cli("mine", "rules", tmp_path)
    assert folder.exit_code == 2
    assert "is a folder" in folder.stderr
    (tmp_path / "b.csv").write_text("a,b\n", encoding="utf-8")
    encoding = cli("mine", "rules", tmp_path / "b.csv", "--encoding", "gbkk")
    assert encoding.exit_code == 2
    assert "--encoding: unknown encoding 'gbkk'" in encoding.stderr


@pytest.mark.parametrize("kind", ["rules", "itemsets"])
def test_engines_write_identical_files(mine, tmp_path, kind):
    data = write_baskets(tmp_path, TRANSACTIONS * 3 + [["milk", "bread", "beer"]])
    _, by_fim = mine(kind, data, "--support", "0.2", "--engine", "fim")
    _, by_mlxtend = mine(kind, data, "--support", "0.2", "--engine", "mlxtend")
    for name in (["rules.csv", "rules.json"] if kind == "rules" else []) + ["itemsets.csv", "itemsets.json"]:
        fim_file = (by_fim / "artifacts" / name).read_bytes()
        assert fim_file == (by_mlxtend / "artifacts" / name).read_bytes(), name


def test_unknown_engine_is_a_usage_error(mine, tmp_path):
    result, _ = mine("rules", write_baskets(tmp_path, TRANSACTIONS), "--engine", "spark-ish")
    assert result.exit_code == 2
    assert "--engine" in result.stderr


def test_json_files_skipped_above_the_limit(cli, write_config, tmp_path):
    write_baskets(tmp_path, TRANSACTIONS)
    path = write_config(
        "name: limited\ndataset: {path: baskets.csv, format: basket}\n"
        "model: {type: rules, min_support: 0.25, json_limit: 1}\n"
    )
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    artifacts = run_folder_from_stdout(result.stdout) / "artifacts"
    assert (artifacts / "rules.csv").exists()
    assert (artifacts / "itemsets.csv").exists()
    assert not (artifacts / "rules.json").exists()
    assert not (artifacts / "itemsets.json").exists()
    log = (artifacts.parent / "log.txt").read_text(encoding="utf-8")
    assert "rules.json not written" in log
    assert "are more than json_limit (1); rules.csv has them all" in log
    with open(artifacts / "rules.csv", newline="", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == len(mlxtend_rules(TRANSACTIONS, 0.25, 0.5))


def test_rule_count_guard_suggests_support(cli, tmp_path):
    # Ten baskets hold a..f and two hold a..h. At support 0.1 every subset of a..h is frequent
    # (6,050 candidate rules); from 3 baskets on, only the subsets of a..f are (602).
    baskets = tmp_path / "skewed.csv"
    baskets.write_text("a,b,c,d,e,f\n" * 10 + "a,b,c,d,e,f,g,h\n" * 2, encoding="utf-8")
    result = cli("mine", "rules", baskets, "--support", "0.1", "--max-rules", "1000", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "about 1 MB of memory" in result.stderr
    assert "--support 0.25 fits" in result.stderr
    allowed = cli("mine", "rules", baskets, "--support", "0.25", "--max-rules", "1000", "--runs-dir", tmp_path / "runs")
    assert allowed.exit_code == 0, allowed.output


def exploding_baskets(folder: Path) -> Path:
    """Baskets of 30 of 40 items each: at a low support the itemsets run into the billions."""
    import random

    generator = random.Random(0)
    lines = [",".join(generator.sample([f"i{index}" for index in range(40)], 30)) for _ in range(200)]
    return write_baskets(folder, [line.split(",") for line in lines], "explode.csv")


def test_mining_past_memory_budget_is_stopped(mine, tmp_path):
    result, _ = mine("itemsets", exploding_baskets(tmp_path), "--support", "0.05", "--memory-budget", "100")
    assert result.exit_code == 3
    assert "needed more than the memory budget of 100 MB" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_mining_in_c(tmp_path):
    import signal
    import time

    from helpers import read_json, start_mining, strict_json, wait_for_log

    data = exploding_baskets(tmp_path)
    runs = tmp_path / "runs"
    process = start_mining("itemsets", data, runs, "--support", "0.05", "--json")
    wait_for_log(runs, "mining itemsets", poll=0.2)
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 143
    assert read_json(next(runs.iterdir()) / "run.json")["status"] == "interrupted"
    document = strict_json(stdout)
    assert document["status"] == "interrupted"
    assert document["exit_code"] == 143
    assert document["error"]["type"] == "Interrupted"
    assert document["error"]["message"] == "interrupted by SIGTERM"
    assert document["error"]["details"] == []
    assert "hint" in document["error"]


def test_mine_ignore_items_option(mine, tmp_path):
    data = tmp_path / "long.csv"
    data.write_text("order,item\n1,bread\n1,NONE\n2,bread\n2,milk\n3,NONE\n", encoding="utf-8")
    result, folder = mine(
        "itemsets", data, "--layout", "long", "--transaction-column", "order", "--ignore-items", "NONE", "--support", "0.3"
    )
    assert result.exit_code == 0, result.output
    assert frozenset({"NONE"}) not in itemsets_from_run(folder)
    summary = read_json(folder / "data.json")
    assert summary["ignored_items_dropped"] == 2
    assert summary["transactions"] == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--min-threshold", "2"], "2 is above 1, the largest confidence"),
        (["--metric", "support", "--min-threshold", "5"], "5 is above 1, the largest support"),
        (["--metric", "leverage", "--min-threshold", "0.3"], "0.3 is above 0.25, the largest leverage"),
        (["--min-threshold", "nan"], "not a number"),
    ],
)
def test_threshold_above_measure_range_rejected(mine, tmp_path, options, message):
    result, _ = mine("rules", write_baskets(tmp_path, TRANSACTIONS), *options)
    assert result.exit_code == 2
    assert "invalid value for --min-threshold" in result.stderr
    assert message in result.stderr


def test_lift_threshold_has_no_upper_bound(mine, tmp_path):
    result, _ = mine("rules", write_baskets(tmp_path, TRANSACTIONS), "--support", "0.25", "--metric", "lift", "--min-threshold", "50")
    assert result.exit_code == 0, result.output


def test_min_count_run_config_trains_again(mine, cli, tmp_path):
    result, folder = mine("rules", write_baskets(tmp_path, TRANSACTIONS), "--min-count", "2")
    assert result.exit_code == 0, result.output
    saved = (folder / "config.yaml").read_text(encoding="utf-8")
    assert "min_count: 2" in saved
    assert "min_support" not in saved
    again = cli("train", folder / "config.yaml", "--runs-dir", tmp_path / "again", "--quiet")
    assert again.exit_code == 0, again.output


def test_itemsets_run_logged_as_itemsets(mine, tmp_path):
    data = write_baskets(tmp_path, TRANSACTIONS)
    result, folder = mine("itemsets", data, "--support", "0.25")
    assert result.exit_code == 0, result.output
    assert f"started: itemsets on {data}" in (folder / "log.txt").read_text(encoding="utf-8")


def test_console_table_quotes_comma_items(cli, tmp_path):
    from dmrun.trainers.rules_output import itemset_text

    assert itemset_text(["bread", "milk, whole"]) == 'bread, "milk, whole"'
    assert itemset_text(['say "hi"']) == '"say ""hi"""'
    baskets = tmp_path / "baskets.csv"
    baskets.write_text('bread,"milk, whole"\nbread,"milk, whole"\nbread\n', encoding="utf-8")
    result = cli("mine", "itemsets", baskets, "--support", "0.5", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert 'bread, "milk, whole"' in result.stdout


def test_ignored_sigint_stays_ignored(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from helpers import read_json, subprocess_env, wait_for_log

    data = exploding_baskets(tmp_path)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "dmrun", "mine", "itemsets", str(data), "--support", "0.05", "--runs-dir", str(runs), "-q"]
    process = subprocess.Popen(
        command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a shell starts a background job
    )
    wait_for_log(runs, "mining itemsets", poll=0.2)
    process.send_signal(signal.SIGINT)
    time.sleep(1)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 143
    assert read_json(next(runs.iterdir()) / "run.json")["status"] == "interrupted"
