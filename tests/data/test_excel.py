"""Excel workbooks: sheets, header, merged cells, formulas, dates, and the errors around them."""

from __future__ import annotations

import datetime
import sys
import zipfile
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")


def read(path: Path, **options):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    return read_file(path, DatasetConfig(path=str(path), **options))


def write_workbook(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        worksheet = workbook.create_sheet(title)
        for row in rows:
            worksheet.append(row)
        for cell_range in (merges or {}).get(title, []):
            worksheet.merge_cells(cell_range)
    workbook.save(path)
    return path


def cache_formula_values(path: Path, values: dict[str, str]) -> None:
    """Store a computed value for each formula cell, as Excel does when it saves a workbook.

    openpyxl writes formulas without results, so the test adds them to the sheet XML itself.
    """
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    for cell, value in values.items():
        start = sheet.index(f'<c r="{cell}"')
        end = sheet.index("</c>", start)
        formula = sheet[sheet.index("<f>", start) : sheet.index("</f>", start) + 4]
        sheet = sheet[:start] + f'<c r="{cell}">{formula}<v>{value}</v>' + sheet[end:]
    members["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_first_sheet_typed(tmp_path):
    rows = [
        ["name", "size", "when", "ok"],
        ["a", 1.5, datetime.datetime(2024, 1, 2, 3, 4, 5), True],
        ["b", 2, datetime.datetime(2024, 2, 3), False],
        ["NA", None, None, None],
    ]
    path = write_workbook(tmp_path / "book.xlsx", {"data": rows, "other": [["x"], [1]]})
    table = read(path)
    frame = table.frame
    assert list(frame.columns) == ["name", "size", "when", "ok"]
    assert frame.shape == (3, 4)
    assert str(frame["size"].dtype) == "float64"
    assert str(frame["when"].dtype).startswith("datetime64")
    assert frame["when"].iloc[0] == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert frame["name"].isna().sum() == 1  # NA is a missing-value marker
    assert frame["ok"].iloc[0]
    assert table.summary["sheet"] == "data"
    assert table.summary["sheets"] == ["data", "other"]


@pytest.mark.parametrize("sheet", ["second", 1])
def test_sheet_by_name_or_index(tmp_path, sheet):
    path = write_workbook(tmp_path / "book.xlsx", {"first": [["a"], [1]], "second": [["b", "c"], [2, 3], [4, 5]]})
    frame = read(path, sheet=sheet).frame
    assert list(frame.columns) == ["b", "c"]
    assert frame["c"].tolist() == [3, 5]


def test_missing_sheet_named(tmp_path):
    from dmrun.errors import DataError

    path = write_workbook(tmp_path / "book.xlsx", {"first": [["a"], [1]], "results": [["b"], [2]]})
    with pytest.raises(DataError) as caught:
        read(path, sheet="result")
    assert "dataset.sheet: sheet 'result' not found in book.xlsx" in caught.value.message
    assert "results" in caught.value.hint
    with pytest.raises(DataError) as caught:
        read(path, sheet=2)
    assert "has 2 sheet(s), so index 2 is out of range" in caught.value.message


def test_merged_cells_filled(tmp_path):
    rows = [
        ["group", "score", None],
        ["north", 1, 10],
        [None, 2, 20],
        ["south", 3, 30],
    ]
    path = write_workbook(tmp_path / "book.xlsx", {"s": rows}, {"s": ["A2:A3", "B1:C1"]})
    frame = read(path).frame
    assert list(frame.columns) == ["group", "score", "column_3"]  # a merged header is not repeated
    assert frame["group"].tolist() == ["north", "north", "south"]


def test_formula_cells_give_values(tmp_path):
    path = write_workbook(tmp_path / "book.xlsx", {"s": [["a", "b", "total"], [1, 2, "=A2+B2"], [3, 4, "=A3+B3"]]})
    cache_formula_values(path, {"C2": "3", "C3": "7"})
    frame = read(path).frame
    assert frame["total"].tolist() == [3, 7]


def test_header_false_names_columns(tmp_path):
    path = write_workbook(tmp_path / "book.xlsx", {"s": [[1, 2], [3, 4]]})
    frame = read(path, header=False, columns=["x", "y"]).frame
    assert frame["y"].tolist() == [2, 4]


def test_trains_tree_from_xlsx(tmp_path, write_config, cli):
    rows = [["x", "when", "label"]]
    rows += [[index % 7, datetime.datetime(2024, 1, 1) + datetime.timedelta(days=index), "late" if index >= 20 else "early"] for index in range(40)]
    write_workbook(tmp_path / "book.xlsx", {"s": rows})
    config = write_config("name: xl\ndataset: {path: book.xlsx, target: label}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    assert '"accuracy": 1.0' in result.stdout


def test_xls_rejected(tmp_path, write_config, cli):
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    config = write_config("name: xl\ndataset: {path: old.xls, target: y}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "old.xls is an old binary Excel workbook (.xls)" in result.stderr
    assert "save it as .xlsx or CSV" in result.stderr


def test_xlsx_named_npz_described(tmp_path, write_config, cli):
    write_workbook(tmp_path / "book.npz", {"s": [["a"], [1]]})
    config = write_config("name: xl\ndataset: {path: book.npz}\nmodel: {type: kmeans, n_clusters: 1}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "its content is an Excel workbook (.xlsx)" in result.stderr


def test_missing_openpyxl_named(tmp_path, monkeypatch):
    from dmrun.errors import ConfigError

    path = write_workbook(tmp_path / "book.xlsx", {"s": [["a"], [1]]})
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes `import openpyxl` raise ImportError
    with pytest.raises(ConfigError) as caught:
        read(path)
    assert "needs openpyxl, which is not installed" in caught.value.message
    assert "pip install 'dmrun[excel]'" in caught.value.hint
