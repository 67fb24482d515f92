"""CSV and JSON writing of rules: the Python CSV writer must match Arrow's, and JSON written in blocks must match one block."""

from __future__ import annotations

import json
import math

import numpy as np

from dmrun.trainers.rules_csv import arrow_float, float_cells, write_arrow_csv, write_python_csv

EDGE_FLOATS = [
    0.0, -0.0, 1.0, 2.0, 100.0, 0.5, 1 / 3, 1e-4, 9.999e-5, 1e-6, 9.99e-7, 1e-7, 1.5e-7,
    1e9, 9.999999999999999e9, 1e10, 12345678901.0, 1e15, 1e21, 1.2e300, 5e-324,
    1.7976931348623157e308, math.inf, -math.inf, math.nan, -2.5, -1e-9, 262.33919095402626,
]


def random_floats() -> np.ndarray:
    rng = np.random.default_rng(0)
    spread = rng.random(5000) * 10.0 ** rng.integers(-320, 308, 5000)
    ratios = rng.integers(1, 10**6, 5000) / rng.integers(1, 10**6, 5000)
    whole = np.round(rng.random(2000) * 10.0 ** rng.integers(-3, 22, 2000))
    values = np.concatenate([np.array(EDGE_FLOATS), rng.random(5000), spread, ratios, whole])
    return np.concatenate([values, -values])


def test_python_writer_matches_arrow(tmp_path):
    values = random_floats()
    texts = ['a "quoted" item', "x,y", "", "é", "1", "line\nbreak", "plain"]
    block = {
        "name": [texts[index % len(texts)] for index in range(len(values))],
        "count": np.arange(len(values), dtype=np.int64) - 5,
        "value": values,
    }
    write_python_csv(tmp_path / "python.csv", [block, block])
    write_arrow_csv(tmp_path / "arrow.csv", [block, block])
    assert (tmp_path / "python.csv").read_bytes() == (tmp_path / "arrow.csv").read_bytes()


def test_arrow_slices_join_in_order(tmp_path):
    """Slices formatted by several threads make the same file as one slice per block."""
    values = random_floats()
    block = {"name": [f"item {index}" for index in range(len(values))], "value": values}
    blocks = [block, {name: column[:5] for name, column in block.items()}, {"name": [], "value": np.array([])}]
    write_arrow_csv(tmp_path / "whole.csv", blocks, slice_rows=10**9)
    write_arrow_csv(tmp_path / "sliced.csv", blocks, slice_rows=7)
    write_python_csv(tmp_path / "python.csv", blocks)
    assert (tmp_path / "sliced.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "sliced.csv").read_bytes() == (tmp_path / "python.csv").read_bytes()


def test_arrow_header_without_rows(tmp_path):
    write_arrow_csv(tmp_path / "empty.csv", [{"name": [], "value": np.array([])}], slice_rows=7)
    write_python_csv(tmp_path / "python.csv", [{"name": [], "value": np.array([])}])
    assert (tmp_path / "empty.csv").read_bytes() == b'"name","value"\n'
    assert (tmp_path / "python.csv").read_bytes() == b'"name","value"\n'


def test_float_cells_match_arrow_float():
    values = random_floats()
    assert float_cells(values) == list(map(arrow_float, values.tolist()))
    single = values[~(np.abs(values) > 1e38)].astype(np.float32)
    assert float_cells(single) == list(map(arrow_float, single.tolist()))


def test_arrow_float_forms():
    assert arrow_float(1.0) == "1"
    assert arrow_float(1e-6) == "0.000001"
    assert arrow_float(1e-7) == "1e-7"
    assert arrow_float(1e10) == "1e+10"
    assert arrow_float(-math.inf) == "-inf"


def test_json_blocks_match_one_block(tmp_path):
    from dmrun.trainers.rules_output import write_json_records

    measures = np.array([0.5, math.inf, math.nan, 1 / 3, -0.0, 2.0, 1e-7])
    columns = {"items": [["a"], ["b", "é"], [], ["x"], ["y"], ["z"], ["w"]], "count": np.arange(7), "lift": measures}
    blocks = [{name: values[start:start + 3] for name, values in columns.items()} for start in (0, 3, 6)]
    write_json_records(tmp_path / "one.json", [columns])
    write_json_records(tmp_path / "blocks.json", blocks)
    text = (tmp_path / "blocks.json").read_text(encoding="utf-8")
    assert text == (tmp_path / "one.json").read_text(encoding="utf-8")
    records = json.loads(text)
    assert [record["lift"] for record in records] == [0.5, None, None, 1 / 3, -0.0, 2.0, 1e-7]
    assert records[1]["items"] == ["b", "é"]
    lines = text.splitlines()
    assert lines[0] == "["
    assert lines[-1] == "]"
    assert len(lines) == 9  # one line per record between the brackets


def test_json_without_records(tmp_path):
    from dmrun.trainers.rules_output import write_json_records

    write_json_records(tmp_path / "empty.json", [])
    write_json_records(tmp_path / "empty-block.json", [{"items": [], "lift": np.array([])}])
    assert json.loads((tmp_path / "empty.json").read_text(encoding="utf-8")) == []
    assert (tmp_path / "empty-block.json").read_bytes() == (tmp_path / "empty.json").read_bytes()
