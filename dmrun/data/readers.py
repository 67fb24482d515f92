"""File readers for tables (CSV, TSV) and basket files.

Every file is decoded with an explicit encoding, never the OS locale. A UTF-8 byte-order mark
is removed. A decoding failure is an error that names the byte offset, because a silent
fallback to another encoding would garble the text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import itertools
import logging
import re
from collections import Counter, defaultdict
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from dmrun.data.types import Baskets, Table
from dmrun.errors import DataError
from dmrun.gctools import collector_paused, release_free_memory

if TYPE_CHECKING:
    from dmrun.config.schema import DatasetConfig

logger = logging.getLogger(__name__)

DELIMITER_CANDIDATES = ",;\t|"


def read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"{path} is not a valid gzip file: {err}") from None
    return raw


def decode(raw: bytes, encoding: str, path: Path) -> str:
    """Decode file bytes, dropping a UTF-8 byte-order mark and normalising line endings."""
    from dmrun.data import check_encoding

    check_encoding(encoding, "dataset.encoding")
    codec = codecs.lookup(encoding)
    if codec.name == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        hint = "set the file's encoding: dataset.encoding in a config, --encoding on the command line"
        if codec.name == "utf-8":
            hint = (
                "files saved by Excel on Chinese Windows are often GBK: set dataset.encoding: gbk in a config "
                "or --encoding gbk on the command line; other common choices are cp1252 and latin-1"
            )
        raise DataError(
            f"{path.name} is not {codec.name.upper()} (byte 0x{raw[err.start]:02x} at offset {err.start})",
            hint=hint,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Bytes read per step when hashing a file and checking its encoding.
READ_BLOCK = 1 << 20


def open_stream(path: Path):
    """Open a file for reading bytes, decompressing it on the fly when its name ends in .gz.

    Raises:
        DataError: when the file cannot be opened.
    """
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def head_after(path: Path, encoding: str, skip_rows: int, limit: int = 20000) -> str:
    """Return up to ``limit`` characters of the file that follow its first ``skip_rows`` lines.

    Lines are read one at a time, so skipping deep into a large file keeps one line in memory;
    line ends are normalised to ``\\n``. Returns "" when the file has no more lines.
    """
    import io

    codec_name = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with open_stream(path) as stream, io.TextIOWrapper(stream, encoding=codec_name, newline=None) as text:
        for _ in itertools.islice(text, skip_rows):
            pass
        return text.read(limit)


def scan_file(path: Path, encoding: str) -> tuple[str, str, str]:
    """Hash a file and check that all of it decodes, one block at a time.

    Neither the bytes nor the decoded text of the whole file are kept, so a large file costs
    only a block of memory here. A .gz file is hashed and decoded after decompression.

    Returns the normalised text of the first block (for delimiter detection), the codec name
    to parse with (``utf-8-sig`` for UTF-8, so a byte-order mark is removed) and the file's
    fingerprint, as ``fingerprint`` computes it from the same bytes.

    Raises:
        DataError: for a file that cannot be read, an invalid gzip file, or an undecodable
            byte (naming its offset, as ``decode`` does).
    """
    from dmrun.data import check_encoding

    check_encoding(encoding, "dataset.encoding")
    codec_name = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    decoder = codecs.getincrementaldecoder(codec_name)()
    digest = hashlib.sha256()
    head = None
    with open_stream(path) as stream:
        while True:
            block = _read_block(stream, path)
            digest.update(block)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError:
                decode(read_bytes(path), encoding, path)  # raises the error with the exact byte offset
                raise
            if head is None:
                head = text.replace("\r\n", "\n").replace("\r", "\n")
            if not block:
                break
    return head, codec_name, "sha256:" + digest.hexdigest()


def _read_block(stream, path: Path) -> bytes:
    try:
        return stream.read(READ_BLOCK)
    except (OSError, EOFError) as err:
        if path.name.lower().endswith(".gz"):
            raise DataError(f"{path} is not a valid gzip file: {err}") from None
        raise DataError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None


def fingerprint(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    return [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]


def _usual_count(counts: list[int]) -> tuple[int, int]:
    """Return the most common field count of at least 2 in ``counts`` and how many lines have it."""
    tally = Counter(count for count in counts if count >= 2)
    if not tally:
        return 0, 0
    count, lines = max(tally.items(), key=lambda pair: (pair[1], pair[0]))
    return count, lines


def detect_delimiter(sample: str) -> str:
    """Pick the candidate delimiter that splits the first lines into the most consistent columns.

    Each candidate is scored by how many lines share its most common field count, so a title
    line above the table (such as ``|1x3 Cross validator``) does not decide the delimiter.
    """
    lines = [line for line in sample.split("\n")[:50] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for candidate in DELIMITER_CANDIDATES:
        count, consistent = _usual_count(_field_counts(lines, candidate))
        score = (consistent, count)
        if score > best_score:
            best, best_score = candidate, score
    return best


def check_first_lines(sample: str, delimiter: str, name: str, skipped: int = 0) -> None:
    """Reject a file whose first lines have fewer fields than the lines after them.

    pandas would read such a line as the header and then fail on the next line with
    "Expected 1 fields in line 2, saw 15", which names neither the cause nor the fix.
    ``skipped`` is the number of lines already skipped before ``sample``.
    """
    from dmrun.reports.figures import shorten

    entries = [(index, line) for index, line in enumerate(sample.split("\n")[:200]) if line.strip()][:50]
    counts = _field_counts([line for _, line in entries], delimiter)
    usual, _ = _usual_count(counts[1:])
    if not usual or counts[0] >= usual:
        return
    # The first line with the usual count starts the table. One exists, because usual comes from counts[1:].
    short = counts.index(usual)
    where = "first line" if not skipped else f"first line after the {skipped} skipped"
    if short == 1:
        rows = [next(csv.reader([line], delimiter=delimiter)) for _, line in entries[1:]]
        if all(not any(field.strip() for field in row[counts[0] :]) for row in rows if len(row) == usual):
            raise DataError(
                f"{name}: the {where} has {counts[0]} field(s) and the lines after it {usual}, "
                f"the last {usual - counts[0]} of them empty",
                hint="the lines seem to end with an extra delimiter; remove it, or name those columns in the first line",
            )
        if counts[0] == usual - 1:
            # R's write.csv leaves the row-name column out of the header, and pandas reads it as the index.
            return
    skip = skipped + entries[short][0]
    raise DataError(
        f"{name}: the {where} has {counts[0]} field(s) but the lines after it have {usual}, "
        f"so it does not start the table: {shorten(entries[0][1], 60)!r}",
        hint=f"if the file starts with title or comment lines, skip them with dataset.skip_rows: {skip} "
        f"(--skip-rows {skip} for dmrun predict and dmrun mine)",
    )


def nothing_after_skip(name: str, skip_rows: int) -> DataError:
    """Return the error for a ``skip_rows`` that leaves no lines to read."""
    return DataError(
        f"{name} has no lines after the {skip_rows} skipped (skip_rows)",
        hint="lower skip_rows (dataset.skip_rows or --skip-rows)",
    )


def read_table(path: Path, config: DatasetConfig, delimiter: str | None) -> Table:
    """Read a delimited table into a DataFrame, with declared missing-value markers.

    Text columns become pandas ``category`` columns (categories sorted, values trimmed), which
    take a small code per row in place of a string. Integer columns get the smallest of int8,
    int16, int32 and int64 that fits their values. Other numbers keep the dtypes pandas infers.

    Raises:
        DataError: for an undecodable, empty or malformed file, or a column count that does not match `columns`.
    """
    import pandas as pd

    head, codec_name, file_fingerprint = scan_file(path, config.encoding)
    if not head.strip():
        raise DataError(f"{path.name} is empty")
    if config.skip_rows:
        head = head_after(path, config.encoding, config.skip_rows)
        if not head.strip():
            raise nothing_after_skip(path.name, config.skip_rows)
    delimiter = delimiter or detect_delimiter(head[:20000])
    check_first_lines(head[:20000], delimiter, path.name, config.skip_rows)
    header_row = 0 if config.header else None
    options = dict(
        skiprows=config.skip_rows,
        encoding=codec_name,
        compression="gzip" if path.name.lower().endswith(".gz") else None,
        sep=delimiter,
        header=header_row,
        decimal=config.decimal,
        na_values=[*config.missing_values, ""],
        keep_default_na=False,
        skipinitialspace=True,
    )
    try:
        frame = _parse_in_chunks(path, options, _rows_per_chunk(head, delimiter))
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(
            f"cannot parse {path.name} as a table with delimiter {delimiter!r}: {err}",
            hint="check the quotes and the number of fields on that row, or set dataset.delimiter",
        ) from None
    if config.header:
        frame.columns = [str(column).strip() for column in frame.columns]
        _check_columns(frame, path)
    else:
        frame.columns = _headerless_names(frame.shape[1], config.columns, path)
    rows_read = len(frame)
    frame = _drop_empty_rows(frame)
    if frame.empty:
        raise DataError(f"{path.name} has a header but 0 data rows")
    # A delimiter at the end of the header and of every row makes a column with no name and no
    # values ("Unnamed: 4"). Such a column carries nothing, so it is dropped, not imputed.
    empty_columns = []
    if config.header:
        empty_columns = [column for column in frame.columns if column.startswith("Unnamed: ") and frame[column].isna().all()]
    if empty_columns:
        frame = frame.drop(columns=empty_columns)
        logger.warning(
            "%s: dropped %d column(s) with no name and no values (%s); the lines probably end with a delimiter",
            path.name, len(empty_columns), ", ".join(empty_columns),
        )
    for position, dtype in enumerate(frame.dtypes.tolist()):
        if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            continue  # nothing to strip, so the column need not be taken out of the frame
        values = frame.iloc[:, position]
        if isinstance(values.dtype, pd.CategoricalDtype):
            frame.isetitem(position, _strip_categories(values))
        elif not pd.api.types.is_numeric_dtype(values):
            frame.isetitem(position, values.map(lambda value: value.strip() if isinstance(value, str) else value))
    return Table(
        frame=frame,
        target=config.target,
        source=str(path),
        meta={"fingerprint": file_fingerprint, "delimiter": delimiter, "encoding": config.encoding},
        task=None,
        summary={
            "rows_read": rows_read,
            "empty_rows_dropped": rows_read - len(frame),
            **({"empty_columns_dropped": empty_columns} if empty_columns else {}),
        },
    )


def _drop_empty_rows(frame):
    """Return ``frame`` without the rows whose cells are all missing, and ``frame`` itself when there are none.

    ``DataFrame.dropna(how="all")`` built a mask of every cell and then copied the whole frame
    even when no row was empty: about 160 MB more for a 200 MB CSV of 785 integer columns. Here the
    mask is one column wide, and the scan stops at the first column without missing values.
    """
    import numpy as np

    empty = np.ones(len(frame), dtype=bool)
    for position in range(frame.shape[1]):
        empty &= frame.iloc[:, position].isna().to_numpy()
        if not empty.any():
            return frame
    return frame.loc[~empty]


# Cells parsed per chunk of rows. pandas keeps a chunk's text as strings until it becomes
# a category column, so this bounds that memory (about 2 million cells, tens of MB).
CELLS_PER_CHUNK = 1 << 21


def _rows_per_chunk(head: str, delimiter: str) -> int:
    """Return how many rows to parse at a time, from the field count of the first line."""
    first_line = head.split("\n", 1)[0]
    fields = len(next(csv.reader([first_line], delimiter=delimiter), [])) or 1
    return max(1000, CELLS_PER_CHUNK // fields)


def _parse_in_chunks(path: Path, options: dict, rows_per_chunk: int):
    """Parse the file a chunk of rows at a time, turning each chunk's text columns into categories.

    The chunks are then joined into one frame whose row labels run from 0 as in a single read.
    """
    import pandas as pd

    chunks = []
    with pd.read_csv(path, chunksize=rows_per_chunk, **options) as reader:
        for chunk in reader:
            _text_to_categories(chunk)
            chunk = _shrink_integers(chunk)
            chunks.append(chunk)
    if len(chunks) == 1:
        return chunks[0]
    # Only columns that some chunk read as text or as integers in part need work. Skipping the
    # others spares an .iloc per column and chunk, which adds up on wide frames such as MNIST's 785.
    chunk_dtypes = [chunk.dtypes.tolist() for chunk in chunks]
    for position in range(chunks[0].shape[1]):
        dtypes = [chunk_dtype[position] for chunk_dtype in chunk_dtypes]
        integer = [getattr(dtype, "kind", "") == "i" for dtype in dtypes]
        if any(integer) and not all(integer):
            _widen_mixed_integers(chunks, position)
        if any(isinstance(dtype, pd.CategoricalDtype) for dtype in dtypes):
            _align_categories(chunks, position)
    frame = pd.concat(chunks)
    chunks.clear()
    release_free_memory()
    # A column read as numbers in some chunks and text in others can concatenate to text.
    _text_to_categories(frame)
    return frame


def _text_to_categories(frame) -> None:
    """Turn the columns of ``frame`` that contain only strings (and missing values) into categories."""
    import pandas as pd

    for position, dtype in enumerate(frame.dtypes.tolist()):
        if not pd.api.types.is_string_dtype(dtype):
            continue  # numbers, so the column need not be taken out of the frame
        values = frame.iloc[:, position]
        if pd.api.types.is_string_dtype(values):
            frame.isetitem(position, values.astype("category"))


# Integer dtypes tried for an int64 column, smallest first.
SMALL_INTEGER_DTYPES = ("int8", "int16", "int32")


def _shrink_integers(frame):
    """Return ``frame`` with each int64 column in the smallest signed integer dtype that fits its values.

    The six integer columns of UCI Adult take 13 bytes a row in place of 48. Chunks shrunk to
    different dtypes concatenate to the widest of them, which fits every value.
    """
    import numpy as np

    dtypes = frame.dtypes.tolist()
    positions = [position for position, dtype in enumerate(dtypes) if dtype == np.int64]
    if not positions or frame.empty:
        return frame
    # The minimum and maximum of one 2-D array take a third of the time of pandas' reductions
    # column by column on wide frames (785 columns for MNIST).
    block = (frame if len(positions) == frame.shape[1] else frame.iloc[:, positions]).to_numpy()
    lows, highs = block.min(axis=0).tolist(), block.max(axis=0).tolist()
    targets = {}
    for position, low, high in zip(positions, lows, highs):
        for dtype in SMALL_INTEGER_DTYPES:
            limits = np.iinfo(dtype)
            if limits.min <= low and high <= limits.max:
                targets[position] = dtype
                break
    return with_column_dtypes(frame, targets)


def with_column_dtypes(frame, targets: dict[int, str]):
    """Return ``frame`` with the columns at the positions in ``targets`` converted to those dtypes.

    Columns of one target dtype are converted together as one 2-D array, and the result has a
    block per dtype. Converting 785 MNIST columns one Series at a time took about 0.3 s and left
    785 blocks, which made every later row selection several times slower.
    """
    import numpy as np
    import pandas as pd

    if not targets:
        return frame
    groups: dict[str, list[int]] = {}
    for position, dtype in targets.items():
        groups.setdefault(dtype, []).append(position)
    unchanged = [position for position in range(frame.shape[1]) if position not in targets]
    parts = [frame.iloc[:, unchanged]] if unchanged else []
    order = list(unchanged)
    for dtype, positions in groups.items():
        values = frame.iloc[:, positions].to_numpy(dtype=dtype)
        parts.append(pd.DataFrame(values, index=frame.index, columns=frame.columns[positions]))
        order += positions
    joined = pd.concat(parts, axis=1)
    return joined.iloc[:, np.argsort(order, kind="stable")]


def _widen_mixed_integers(chunks: list, position: int) -> None:
    """Give column ``position`` back the int64 dtype where other chunks read it as something else.

    Such a column concatenates to floats, text or objects, and it then gets the values it would
    get from int64 chunks.
    """
    import numpy as np

    parts = [chunk.iloc[:, position] for chunk in chunks]
    integer = [part.dtype.kind == "i" for part in parts]
    if all(integer) or not any(integer):
        return
    for chunk, part, is_integer in zip(chunks, parts, integer):
        if is_integer and part.dtype != np.int64:
            chunk.isetitem(position, part.astype(np.int64))


def _align_categories(chunks: list, position: int) -> None:
    """Give column ``position`` one dtype in every chunk, so the chunks concatenate like one read.

    A text column gets the sorted union of the chunks' categories, also in chunks where the
    column is empty (all missing, which pandas reads as float). When some chunks contain
    numbers and others text, the text goes back to strings, and pandas concatenates the chunks
    as its own reader concatenates its internal chunks: to strings, or to an object column of
    numbers and strings.

    NOTE: which cells of such a mixed column are numbers depends on where the chunks fall, as
    it does within a single pandas read.
    """
    import pandas as pd

    parts = [chunk.iloc[:, position] for chunk in chunks]
    text = [part for part in parts if isinstance(part.dtype, pd.CategoricalDtype)]
    if not text:
        return
    others = [part for part in parts if not isinstance(part.dtype, pd.CategoricalDtype)]
    if all(part.isna().all() for part in others):
        categories = text[0].cat.categories
        for part in text[1:]:
            categories = categories.union(part.cat.categories)
        dtype = pd.CategoricalDtype(categories)
    else:
        dtype = text[0].cat.categories.dtype
    for chunk, part in zip(chunks, parts):
        if part.dtype != dtype:
            chunk.isetitem(position, part.astype(dtype))


def _strip_categories(values):
    """Remove surrounding spaces from the categories, merging those that become equal."""
    import numpy as np
    import pandas as pd

    categories = values.cat.categories
    stripped = categories.str.strip()
    if stripped.equals(categories):
        return values
    merged = pd.Index(sorted(set(stripped)), dtype=categories.dtype)
    recode = merged.get_indexer(stripped)
    codes = values.cat.codes.to_numpy()
    new_codes = np.where(codes >= 0, recode[codes], -1)
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=merged), index=values.index, name=values.name)


def _headerless_names(count: int, names: list[str] | None, path: Path) -> list[str]:
    if names is None:
        return [f"column_{index}" for index in range(1, count + 1)]
    if len(names) != count:
        listed = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise DataError(
            f"dataset.columns names {len(names)} columns ({listed}), but {path.name} has {count}",
            hint=f"list exactly {count} names in dataset.columns, or give a file with the {len(names)} columns it names",
        )
    return list(names)


def _looks_like_data(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


HEADERLESS_HINT = (
    "if the file has no header line, set dataset.header: false (and optionally dataset.columns: [names]); "
    "columns are then called column_1, column_2, ..."
)


def header_looks_like_data(names: list[str]) -> bool:
    """Tell whether most column names are numbers, as when the first data row was read as a header."""
    numeric_names = sum(_looks_like_data(re.sub(r"\.\d+$", "", name)) for name in names)
    return bool(names) and numeric_names >= max(2, len(names) // 2)


def _check_columns(frame, path: Path) -> None:
    names = list(frame.columns)
    if header_looks_like_data(names):
        logger.warning(
            "%s: the first line looks like data, not column names (%s); %s",
            path.name,
            ", ".join(names[:6]),
            HEADERLESS_HINT,
        )
        return
    duplicates = sorted({name for name in names if re.fullmatch(r".+\.\d+", name) and name.rsplit(".", 1)[0] in names})
    if duplicates:
        logger.warning("%s: pandas renamed duplicate column names: %s", path.name, ", ".join(duplicates))
    unnamed = [name for name in names if name.startswith("Unnamed: ")]
    if unnamed and len(unnamed) == len(names):
        raise DataError(f"{path.name} has no header row", hint="add a header line naming the columns")


def read_baskets(
    path: Path,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    ignore_items: list[str] | None = None,
    skip_rows: int = 0,
    reject_tables: bool = False,
    coded: bool = False,
) -> Baskets:
    """Read one transaction per line, after the first ``skip_rows`` lines.

    Items are separated by ``delimiter``. When it is not set, they are separated by commas if any
    of the first lines has one (with CSV quoting), and otherwise by runs of whitespace, as in the
    FIMI ``.dat`` files. Items are trimmed, duplicates within a basket are collapsed, and blank
    items, the items in ``ignore_items`` and empty baskets are dropped and counted in the summary.
    With ``reject_tables`` (the layout was not chosen), a file whose first lines look like a
    table with a header row is rejected, because its header and numbers would be mined as items.
    ``coded`` gives the items as int codes, as ``build_baskets`` describes.
    """
    raw = read_bytes(path)
    text = decode(raw, encoding, path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last basket; it is not an empty one
    del lines[:skip_rows]
    if skip_rows and not lines:
        raise nothing_after_skip(path.name, skip_rows)
    if delimiter is None:
        delimiter = "," if any("," in line for line in lines[:1000]) else "whitespace"
    # str.split() already trims and never yields blank items, so build_baskets can skip both.
    trimmed = delimiter == "whitespace"
    if reject_tables and not trimmed:
        check_not_table(list(csv.reader(lines[:TABLE_SAMPLE_LINES], delimiter=delimiter)), path.name)
    rows = (line.split() for line in lines) if trimmed else _one_line_rows(lines, delimiter, path.name, skip_rows)
    counts = {"ignored_items_dropped": 0}
    if ignore_items:
        from dmrun.data.baskets import drop_ignored

        rows = drop_ignored(rows, set(ignore_items), counts)
    baskets = build_baskets(rows, str(path), fingerprint(raw), delimiter, trimmed_rows=trimmed, coded=coded)
    summary = baskets.summary
    summary.update(counts, rows_read=summary["transactions"] + summary["empty_baskets_dropped"])
    return baskets


def _one_line_rows(lines: list[str], delimiter: str, name: str, skip_rows: int):
    """Yield the CSV rows of ``lines``, raising ``DataError`` where a quoted item runs past its line.

    The csv module joins the lines of a quoted field that does not close, so one stray quote
    would silently merge every line after it into one basket.
    """
    reader = csv.reader(lines, delimiter=delimiter)
    consumed = 0
    for row in reader:
        if reader.line_num - consumed > 1:
            number = skip_rows + consumed + 1
            raise DataError(
                f"{name}: line {number:,} opens a quoted item that does not close on that line, which would join "
                f"lines {number:,} to {skip_rows + reader.line_num:,} into one basket: {lines[consumed][:80]!r}",
                hint='close the quote, or remove it: an item needs quotes only when it contains the delimiter, written "a,b"',
            )
        consumed = reader.line_num
        yield row


# Lines of a basket file looked at to tell a table with a header row from one basket per line.
TABLE_SAMPLE_LINES = 1000


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def delimiter_in_name(present: list[str], expected: list[str]) -> str | None:
    """Return the delimiter that splits a lone column name into parts that include ``expected``, if one does.

    A file read with the wrong delimiter has one column whose name is the whole header line.
    """
    if len(present) != 1:
        return None
    for delimiter in (",", ";", "\t", "|"):
        parts = [part.strip() for part in present[0].split(delimiter)]
        if len(parts) > 1 and set(expected) <= set(parts):
            return delimiter
    return None


# Cell values of one-hot tables written as words, compared in lower case.
FLAG_WORDS = {"true", "false", "yes", "no"}


def check_not_table(rows: list[list[str]], name: str) -> None:
    """Reject lines that look like a table with a header row rather than one basket per line.

    A table has lines of equal width and a first line of distinct names that are not numbers.
    No cell below a name repeats it, and at least one column contains numbers (transaction ids,
    quantities, 0/1 flags) or true/false words. Read as baskets, its header would be one more
    basket and its values would become items.
    """
    if len(rows) < 3:
        return
    header, body = [cell.strip() for cell in rows[0]], [[cell.strip() for cell in row] for row in rows[1:]]
    width = len(header)
    if width < 2 or any(len(row) != width for row in body):
        return
    if len(set(header)) < width or any(not cell or _is_number(cell) for cell in header):
        return
    columns = [[row[position] for row in body if row[position]] for position in range(width)]
    if any(header[position] in columns[position] for position in range(width)):
        return  # a name that recurs below it is an item, so the first line is a basket too
    numeric = [position for position, cells in enumerate(columns) if cells and all(map(_is_number, cells))]
    flags = [position for position, cells in enumerate(columns) if cells and {cell.lower() for cell in cells} <= FLAG_WORDS]
    if not numeric and not flags:
        return
    text = [position for position in range(width) if position not in numeric and position not in flags]
    first = columns[0]
    # A transaction id differs in every row of a one-hot or quantity table.
    id_column = header[0] if 0 in numeric and len(set(first)) == len(first) == len(body) else None
    if text and numeric:  # one row per item: a transaction id column and an item column
        item = header[text[0]] if len(text) == 1 else f"NAME (one of {', '.join(header[position] for position in text)})"
        option = f"--layout long --transaction-column {header[numeric[0]]} --item-column {item}"
    elif text:
        return  # words and true/false words with no id column: no table layout fits, so mine the lines
    else:  # one column per item, holding 0/1 flags, true/false words or quantities
        items = [column for position, column in enumerate(columns) if header[position] != id_column]
        binary = all(cell in ("0", "1") or cell.lower() in FLAG_WORDS for column in items for cell in column)
        option = f"--layout {'onehot' if binary else 'quantity'}"
        if id_column is not None:
            option += f" --transaction-column {id_column}"
    typed = header[(numeric or flags)[0]]
    kind = "numbers" if numeric else "true/false values"
    raise DataError(
        f"{name} looks like a table, not one basket per line: its first {len(rows)} lines all have {width} fields, "
        f"the first names columns ({', '.join(header[:4])}{', ...' if width > 4 else ''}) and column "
        f"'{typed}' holds {kind}. Read as baskets, its header and values would be mined as items",
        hint=f"read it as a table with {option} (dataset.baskets.layout and transaction_column), "
        "or set --layout lines to mine every line as a basket",
    )


def build_baskets(
    rows,
    source: str,
    fingerprint_value: str | None = None,
    delimiter: str | None = None,
    trimmed_rows: bool = False,
    coded: bool = False,
) -> Baskets:
    """Clean raw rows of item strings into baskets and count what was dropped.

    ``trimmed_rows`` says that no item has surrounding spaces and none is blank, which lets
    large whitespace-separated files skip the per-item checks. With ``coded``, each item is
    replaced by an int code, numbered in order of first appearance, and ``Baskets.item_names``
    gives the name of each code. pyfim mines int items 10 to 20 percent faster than strings
    (measured with pyfim 6.28 on the FIMI retail and T10I4D100K files, on a 2-core machine).
    ``item_counts`` stay keyed by name.
    """
    transactions: list[list[str]] = []
    trimmed = blank_items = duplicates = empty = 0
    if coded:
        codes: dict[str, int] = defaultdict(itertools.count().__next__)
        code = codes.__getitem__
    else:
        # Every occurrence of an item shares one string object, which saves about 50 bytes per item
        # in a basket, computes each hash once, and leaves far fewer objects for a forked miner to touch.
        shared: dict[str, str] = {}
        share = shared.setdefault
    with collector_paused():
        for row in rows:
            items = row
            if not trimmed_rows:
                items = [cell.strip() for cell in row]
                if items != row:
                    trimmed += sum(cell != item for cell, item in zip(row, items))
                if "" in items:
                    blank_items += items.count("")
                    items = [item for item in items if item]
            items = list(map(code, items)) if coded else list(map(share, items, items))
            # A set is several times cheaper than building a new list, and most baskets have no duplicates.
            basket = items if len(set(items)) == len(items) else list(dict.fromkeys(items))
            duplicates += len(items) - len(basket)
            if basket:
                transactions.append(basket)
            else:
                empty += 1
        if not transactions:
            detail = f"all {empty:,} of its rows are empty once blank and ignored items are dropped" if empty else "it has no rows"
            raise DataError(
                f"{source} contains no transactions: {detail}",
                hint="a transaction needs at least one item that is not blank or ignored; "
                "check the file's content and dataset.delimiter (--delimiter)",
            )
        counts = Counter(chain.from_iterable(transactions))
    names = None
    if coded:
        names = list(codes)
        counts = Counter({names[item]: number for item, number in counts.items()})
    summary = {
        "transactions": len(transactions),
        "distinct_items": len(counts),
        "items_total": sum(counts.values()),
        "max_basket_size": max(map(len, transactions)),
        "empty_baskets_dropped": empty,
        "blank_items_dropped": blank_items,
        "items_trimmed": trimmed,
        "duplicate_items_collapsed": duplicates,
    }
    if delimiter is not None:
        summary["delimiter"] = delimiter
    if fingerprint_value:
        summary["fingerprint"] = fingerprint_value
    return Baskets(transactions=transactions, source=source, summary=summary, item_counts=counts, item_names=names)
