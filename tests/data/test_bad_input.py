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
