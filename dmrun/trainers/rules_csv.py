"""CSV writing for itemsets and rules: Arrow's writer for large files, plain Python for small ones.

Both paths write the same bytes: strings quoted with ``"`` (doubled inside), integers as
digits, floats in the shortest form that reads back exactly, laid out as Arrow's CSV writer
(pyarrow 26) lays them out, and rows ending in ``\\n``. Importing pyarrow takes about 0.3 s, more
than writing a few thousand rows in Python, so small files skip it.
"""

from __future__ import annotations

import io
import math
import os
from collections import deque
from typing import Any, Iterable

import numpy as np

from dmrun.rundir import atomic_target

# Up to this many float cells the Python writer beats importing pyarrow: formatting a float
# took 2 to 3 us and the import 0.3 to 0.45 s on a loaded 2-core machine (AMD EPYC, Python 3.11).
PYTHON_FLOATS = 120_000
# Rows formatted as one piece by a thread of the Arrow writer: about 2 MB of text for rules.
SLICE_ROWS = 1 << 13


def fits_python_writer(rows: int, float_columns: int) -> bool:
    """Tell whether a CSV of ``rows`` rows is written faster without pyarrow."""
    return rows * float_columns <= PYTHON_FLOATS


def arrow_float(value: float) -> str:
    """Format a float as Arrow's CSV writer does.

    The digits are the shortest that read back exactly (Python's ``repr`` has the same ones).
    Values with 1e-6 <= |value| < 1e10 are written in decimal without a trailing ``.0``; others
    as ``d.ddde+N`` or ``d.ddde-N``. Infinities are ``inf`` and ``-inf``, NaN is ``nan``.
    """
    if 1e-4 <= abs(value) < 1e10:
        # repr writes this range in decimal with the same digits: only a trailing ".0" differs.
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # The value is 0.<digits> x 10**point once leading and trailing zeros are dropped.
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    if -5 <= point <= 10:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{significant}"
        if point >= len(significant):
            return sign + significant + "0" * (point - len(significant))
        return f"{sign}{significant[:point]}.{significant[point:]}"
    power = point - 1
    tail = f".{significant[1:]}" if len(significant) > 1 else ""
    return f"{sign}{significant[0]}{tail}e{'+' if power >= 0 else '-'}{abs(power)}"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def float_cells(values: np.ndarray) -> list[str]:
    """Format a float array as ``arrow_float`` does, value by value, several times faster.

    ``repr`` formats the values in C; only the whole numbers lose their trailing ``.0`` in
    Python, and the values outside ``arrow_float``'s decimal range go through it.
    """
    numbers = values.astype(np.float64, copy=False)
    cells = list(map(repr, numbers.tolist()))
    magnitude = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        decimal = (magnitude >= 1e-4) & (magnitude < 1e10)
        whole = decimal & (numbers == np.trunc(numbers))
    for index in np.flatnonzero(whole).tolist():
        cells[index] = cells[index][:-2]
    for index in np.flatnonzero(~decimal).tolist():
        cells[index] = arrow_float(float(numbers[index]))
    return cells


def _text_column(values: Any) -> list[str]:
    """Return one column of a block as CSV cells."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            return float_cells(values)
        return list(map(str, values.tolist()))
    return list(map(_quoted, values))


def write_python_csv(path, blocks: Iterable[dict[str, Any]]) -> None:
    """Write blocks of columns (NumPy numbers or lists of strings) as one CSV file, atomically."""
    with atomic_target(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as stream:
        header_written = False
        for block in blocks:
            if not header_written:
                stream.write(",".join(map(_quoted, block)) + "\n")
                header_written = True
            columns = [_text_column(values) for values in block.values()]
            stream.writelines(",".join(row) + "\n" for row in zip(*columns))


def arrow_column(values):
    """Wrap a NumPy number array or a list of strings as an Arrow array, sharing or packing buffers.

    Building arrays from buffers keeps pyarrow from importing pandas, which ``pyarrow.array``
    does on first use and which costs about half a second.
    """
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values
    if isinstance(values, np.ndarray):
        array = np.ascontiguousarray(values)
        kind = {"f": pa.float64(), "i": pa.int64()}[array.dtype.kind]
        array = array.astype(kind.to_pandas_dtype(), copy=False)
        return pa.Array.from_buffers(kind, len(array), [None, pa.py_buffer(array)])
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.large_string(), len(encoded), [None, pa.py_buffer(offsets), data])


def formatting_threads() -> int:
    """Return how many threads format CSV text: the CPUs this process may use, at most four."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def write_arrow_csv(path, blocks: Iterable[dict[str, Any]], slice_rows: int = SLICE_ROWS) -> None:
    """Write blocks of columns as one CSV file with Arrow's writer, atomically.

    Arrow formats a table without holding the GIL but on one thread, and formatting floats is
    most of the work. So each block is cut into slices of ``slice_rows`` rows that threads
    format into memory at the same time, and the text is written in order. At most one slice
    per thread waits, which bounds the extra memory to a few MB per thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    def text(table, header: bool) -> bytes:
        # In one measurement on chess.dat, a BytesIO sink peaked about 15 MB lower than Arrow's own
        # buffers, at the same speed.
        sink = io.BytesIO()
        arrow_csv.write_csv(table, sink, arrow_csv.WriteOptions(include_header=header))
        return sink.getvalue()

    threads = formatting_threads()
    with atomic_target(path) as temporary, open(temporary, "wb") as stream, ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        first = True
        for block in blocks:
            table = pa.Table.from_arrays([arrow_column(values) for values in block.values()], names=list(block))
            # The first slice carries the header, even when the table has no rows.
            for start in range(0, max(table.num_rows, first), slice_rows):
                pending.append(pool.submit(text, table.slice(start, slice_rows), first))
                first = False
                while len(pending) > threads:
                    stream.write(pending.popleft().result())
        while pending:
            stream.write(pending.popleft().result())
