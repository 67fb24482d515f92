"""Bad data ends in a data error (exit 3) that names the file, column or row, the value and the fix."""

from __future__ import annotations

import pytest

from helpers import read_json

GOOD_ROWS = "x,y\n" + "".join(f"{index},{'a' if index % 2 else 'b'}\n" for index in range(20))

CASES = [
    ("empty.csv", b"", "empty.csv is empty (0 bytes)"),
    ("blank.csv", b"\n\n  \n", "blank.csv is empty"),
    ("header.csv", b"x,y\n", "header.csv has a header but 0 data rows"),
    ("target.csv", b"x,z\n1,2\n3,4\n5,6\n", "dataset.target: column 'y' not found"),
    ("single.csv", b"x,y\n1,a\n2,a\n3,a\n4,a\n", "target 'y' has a single class: all 4 rows are 'a'"),
    (
        "text.csv",
        GOOD_ROWS.replace("\n7,", "\nseven,").encode(),
        "feature columns are not numeric: x (column 'x' has 'seven' in data row 8)",
    ),
    ("inf.csv", GOOD_ROWS.replace("\n7,", "\ninf,").encode(), "feature column 'x' has the non-finite value inf"),
    ("gap.csv", GOOD_ROWS.replace("\n7,", "\n,").encode(), "feature columns have missing values in the training split: x (1)"),
]


@pytest.mark.parametrize(("name", "content", "expected"), CASES, ids=[case[0].split(".")[0] for case in CASES])
def test_bad_table_is_data_error(tmp_path, write_config, cli, name, content, expected):
    (tmp_path / name).write_bytes(content)
    config = write_config(f"name: bad\ndataset: {{path: {name}, target: y, split: {{test_size: 0.2}}}}\nmodel: {{type: tree}}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert expected in result.stderr
    assert "Traceback" not in result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    record = read_json(runs[0] / "run.json")
    assert record["status"] == "failed"
    assert expected in record["error"]["message"]


def test_text_value_hint_names_marker(tmp_path, write_config, cli):
    (tmp_path / "dash.csv").write_text(GOOD_ROWS.replace("\n7,", "\n-,"), encoding="utf-8")
    config = write_config("name: bad\ndataset: {path: dash.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "add it to dataset.missing_values" in result.stderr


def test_stray_text_in_numbers_warns(tmp_path, write_config, cli):
    # Even where the config encodes the column on purpose, the data summary explains why it is text.
    rows = GOOD_ROWS.replace("\n7,", "\nunknown,")
    (tmp_path / "stray.csv").write_text(rows, encoding="utf-8")
    config = write_config(
        "name: stray\ndataset: {path: stray.csv, target: y}\npreprocess: [{step: onehot, columns: [x]}]\nmodel: {type: tree}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.stderr
    expected = "column 'x' contains numbers in 19 of 20 rows and text in 1 (such as 'unknown' in data row 8)"
    assert expected in result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert any(expected in warning for warning in read_json(run / "data.json")["warnings"])


def test_word_column_does_not_warn(tmp_path, write_config, cli):
    rows = "x,colour,y\n" + "".join(f"{index},{'red' if index % 3 else '7'},{'a' if index % 2 else 'b'}\n" for index in range(20))
    (tmp_path / "words.csv").write_text(rows, encoding="utf-8")
    config = write_config(
        "name: words\ndataset: {path: words.csv, target: y}\npreprocess: [{step: onehot}]\nmodel: {type: tree}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.stderr
    assert "read as text" not in result.stderr


DECIMAL_ROWS = "x;y\n" + "".join(f"{index},5;{index * 3},25\n" for index in range(1, 21))


def test_decimal_comma_target_is_named(tmp_path, write_config, cli):
    (tmp_path / "comma.csv").write_text(DECIMAL_ROWS, encoding="utf-8")
    config = write_config("name: comma\ndataset: {path: comma.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "column 'y' contains numbers with a decimal comma, such as '3,25'" in result.stderr
    assert "hint: set dataset.decimal: ','" in result.stderr
    assert "class(es)" not in result.stderr  # stopped before the split treats each value as a class


def test_decimal_comma_series_hint(tmp_path, write_config, cli):
    (tmp_path / "series.csv").write_text(DECIMAL_ROWS, encoding="utf-8")
    config = write_config(
        "name: series\ndataset: {path: series.csv, target: y, task: forecasting}\n"
        "model: {type: rnn, window: 3}\ntrain: {epochs: 1}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "series 'y' has a missing or non-numeric value at row 1: '3,25'" in result.stderr
    assert "decimal comma: set dataset.decimal: ','" in result.stderr


def test_default_onehot_leaves_numbers_with_a_word(tmp_path, write_config, cli):
    # Encoding the column would turn every age into a category of its own.
    (tmp_path / "ages.csv").write_text(GOOD_ROWS.replace("\n7,", "\nunknown,"), encoding="utf-8")
    config = write_config("name: ages\ndataset: {path: ages.csv, target: y}\npreprocess: [{step: onehot}]\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "feature columns are not numeric: x (column 'x' has 'unknown' in data row 8)" in result.stderr
    assert "add it to dataset.missing_values" in result.stderr
    listed = write_config(
        "name: ages\ndataset: {path: ages.csv, target: y}\npreprocess: [{step: onehot, columns: [x]}]\nmodel: {type: tree}\n",
        "listed.yaml",
    )
    assert cli("train", listed, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0


def test_decimal_point_read_with_comma_hint(tmp_path, write_config, cli):
    """Numbers with a decimal point, read with dataset.decimal: ',', get the hint to remove that setting."""
    rows = "".join(f"{index}.5,{index % 3}.25,{'ab'[index % 2]}\n" for index in range(12))
    (tmp_path / "dots.csv").write_text("x,z,y\n" + rows, encoding="utf-8")
    config = write_config("name: dots\ndataset: {path: dots.csv, target: y, decimal: ','}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "contains numbers with a decimal point" in result.stderr
    assert "remove dataset.decimal" in result.stderr
    assert "set dataset.decimal: ','" not in result.stderr


def test_wrong_delimiter_target_hint(tmp_path, write_config, cli):
    (tmp_path / "comma.csv").write_text("x,z,y\n" + "".join(f"{index},{index % 3},{'ab'[index % 2]}\n" for index in range(12)), encoding="utf-8")
    config = write_config("name: comma\ndataset: {path: comma.csv, target: y, delimiter: ';'}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "dataset.target: column 'y' not found" in result.stderr
    assert "the file looks ','-separated, but it was read with the delimiter ';'" in result.stderr


@pytest.mark.parametrize(("model", "code"), [("{type: tree}", 0), ("{type: mlp, hidden_sizes: [8]}", 3)], ids=["tree", "mlp"])
def test_missing_held_out_values(tmp_path, write_config, cli, model, code):
    """A value missing only in the test split is a warning for a tree and an error for a network."""
    rows = [f"{index},{index % 7},{index % 5},{'ab'[index % 2]}" for index in range(40)]
    rows[-1] = "39,,3,b"
    (tmp_path / "gaps.csv").write_text("t,x,z,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = write_config(
        "name: gaps\ndataset: {path: gaps.csv, target: y, split: {time_column: t}}\n"
        f"preprocess: [{{step: impute, strategy: median, columns: [z]}}]\nmodel: {model}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == code, result.output
    assert "1 test row(s) have missing feature values after preprocessing, the first in data row 40" in result.stderr
