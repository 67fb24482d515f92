"""A reader for Excel workbooks (.xlsx, .xlsm) through openpyxl, an optional dependency.

The sheet is streamed in openpyxl's read-only mode, so the workbook is never held in memory as
cell objects. Formula cells give the value Excel last computed and saved with the file
(``data_only``), never the formula text. A merged range's value sits in its top-left cell, and
the reader copies it to every cell of the range below the header, so a label merged over several
rows labels each of them. Cells formatted as dates come back as dates.
"""

from __future__ import annotations

import datetime
import numbers
from pathlib import Path
from typing import Any

from dmrun.config.schema import DatasetConfig
from dmrun.data.formats import DAMAGED_HINT
from dmrun.data.types import Table
from dmrun.errors import ConfigError, DataError
from dmrun.suggest import closest_hint

INSTALL_HINT = "pip install 'dmrun[excel]'"
SHEET_NAMESPACE = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def load_workbook(path: Path):
    """Open ``path`` read-only with cached formula values.

    Raises:
        ConfigError: when openpyxl is not installed.
        DataError: when the file is not a readable workbook.
    """
    try:
        import openpyxl
    except ImportError:
        raise ConfigError(
            f"reading the Excel file {path.name} needs openpyxl, which is not installed",
            hint=f"install it with: {INSTALL_HINT}",
        ) from None
    import zipfile

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise DataError(f"cannot read the Excel workbook {path.name}: {err}", hint=DAMAGED_HINT) from None


SHEET_CHOICE = "choose one with dataset.sheet, or with --sheet for dmrun predict"


def choose_sheet(workbook, sheet: int | str | None, path: Path):
    """Return the worksheet that ``dataset.sheet`` names, by 0-based index or name; the first by default."""
    names = list(workbook.sheetnames)
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if sheet >= len(names):
            raise DataError(
                f"dataset.sheet: {path.name} has {len(names)} sheet(s), so index {sheet} is out of range",
                hint="sheets (index from 0): "
                + ", ".join(f"{index} {name!r}" for index, name in enumerate(names))
                + f"; {SHEET_CHOICE}",
            )
        return workbook[names[sheet]]
    if sheet not in names:
        raise DataError(
            f"dataset.sheet: sheet '{sheet}' not found in {path.name}",
            hint=f"{closest_hint(sheet, names, 'sheets')}; {SHEET_CHOICE}",
        )
    return workbook[sheet]


def merged_ranges(worksheet) -> list[tuple[int, int, int, int]]:
    """Return the merged ranges of a read-only worksheet as 1-based (min_row, min_col, max_row, max_col).

    Read-only worksheets do not parse merged ranges, so the sheet's XML is streamed once more and
    only its ``mergeCell`` elements are kept.
    """
    from xml.etree import ElementTree

    from openpyxl.utils.cell import range_boundaries

    ranges = []
    # NOTE: _get_source is openpyxl's private accessor for the sheet XML (checked with openpyxl 3.1.5).
    with worksheet._get_source() as source:
        for _, element in ElementTree.iterparse(source):
            if element.tag == f"{SHEET_NAMESPACE}mergeCell":
                min_col, min_row, max_col, max_row = range_boundaries(element.get("ref"))
                ranges.append((min_row, min_col, max_row, max_col))
            element.clear()
    return ranges


def read_rows(worksheet, header: bool) -> list[list[Any]]:
    """Return the sheet's cell values row by row, padded to one width, with merged ranges filled.

    A range that starts in the header row (the first row that is not empty) is left as it is,
    so its other columns stay unnamed rather than repeat a name.
    """
    rows = [list(values) for values in worksheet.iter_rows(values_only=True)]
    width = max((len(row) for row in rows), default=0)
    for row in rows:
        row.extend([None] * (width - len(row)))
    header_row = next((index + 1 for index, row in enumerate(rows) if not all(_blank(value) for value in row)), 0)
    for min_row, min_col, max_row, max_col in merged_ranges(worksheet):
        if min_row > len(rows) or (header and min_row <= header_row):
            continue
        value = rows[min_row - 1][min_col - 1]
        for row_index in range(min_row, min(max_row, len(rows)) + 1):
            for column_index in range(min_col, max_col + 1):
                rows[row_index - 1][column_index - 1] = value
    return rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def trim_empty(rows: list[list[Any]]) -> tuple[list[list[Any]], int]:
    """Drop empty rows and the empty columns at the right; return the rows and the empty rows dropped."""
    non_empty = [row for row in rows if not all(_blank(value) for value in row)]
    used = [index for index in range(len(non_empty[0]) if non_empty else 0) if any(not _blank(row[index]) for row in non_empty)]
    width = used[-1] + 1 if used else 0
    return [row[:width] for row in non_empty], len(rows) - len(non_empty)


def column_names(header: list[Any], config: DatasetConfig, width: int, path: Path) -> list[str]:
    """Name the columns from the header row, or from ``dataset.columns`` without one.

    Raises:
        DataError: for a duplicate name or a ``columns`` list of the wrong length.
    """
    if not config.header:
        if config.columns is None:
            return [f"column_{index + 1}" for index in range(width)]
        if len(config.columns) != width:
            raise DataError(f"dataset.columns names {len(config.columns)} columns, but the sheet of {path.name} has {width}")
        return list(config.columns)
    names = [f"column_{index + 1}" if _blank(value) else str(value).strip() for index, value in enumerate(header)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(
            f"{path.name}: the header row names column(s) {', '.join(duplicates)} more than once",
            hint="give every column its own name in the first row of the sheet",
        )
    return names


def typed_column(values: list[Any], missing: set[str]):
    """Turn one column of cell values into a pandas column: numbers, booleans, dates or text.

    Text cells listed in ``dataset.missing_values`` are missing. A column that mixes numbers and
    text becomes text, so that the preprocessing checks name it.
    """
    import pandas as pd

    cleaned = [None if _blank(value) or (isinstance(value, str) and value.strip() in missing) else value for value in values]
    present = [value for value in cleaned if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return pd.Series(cleaned, dtype="boolean")
    if all(isinstance(value, numbers.Number) and not isinstance(value, bool) for value in present):
        return pd.Series([float("nan") if value is None else value for value in cleaned]).infer_objects()
    if present and all(isinstance(value, (datetime.datetime, datetime.date)) for value in present):
        return pd.to_datetime(pd.Series(cleaned, dtype=object))
    return pd.Series([None if value is None else _text(value) for value in cleaned], dtype=object)


def _text(value: Any) -> str:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value).strip()


def read_xlsx(path: Path, config: DatasetConfig) -> Table:
    """Read one sheet of an Excel workbook into a typed table.

    Raises:
        ConfigError: when openpyxl is not installed.
        DataError: for a file that is not a workbook, a missing sheet, an empty sheet or
            duplicate header names.
    """
    import pandas as pd

    from dmrun.data.formats import check_signature

    check_signature(path, "xlsx")
    workbook = load_workbook(path)
    try:
        worksheet = choose_sheet(workbook, config.sheet, path)
        rows, empty_rows = trim_empty(read_rows(worksheet, config.header))
        title, sheets = worksheet.title, list(workbook.sheetnames)
    finally:
        workbook.close()
    data_rows = rows[1:] if config.header else rows
    if not data_rows:
        raise DataError(
            f"dataset has 0 rows: sheet '{title}' of {path.name} has no data rows",
            hint="pick another sheet with dataset.sheet" + (f"; sheets: {', '.join(sheets)}" if len(sheets) > 1 else ""),
        )
    width = len(rows[0])
    names = column_names(rows[0], config, width, path)
    missing = set(config.missing_values)
    frame = pd.DataFrame({name: typed_column([row[index] for row in data_rows], missing) for index, name in enumerate(names)})
    summary = {"sheet": title, "sheets": sheets, "rows_read": len(data_rows), "empty_rows_dropped": empty_rows}
    return Table(frame=frame, target=config.target, source=str(path), meta={}, summary=summary)
