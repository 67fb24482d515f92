"""A reader for Weka's ARFF format, dense and sparse.

The header declares the relation and one ``@attribute NAME TYPE`` per column, where TYPE is
``numeric``, ``real``, ``integer``, a nominal list ``{a, b, 'c d'}``, ``string`` or ``date
[format]``, where the format is a Java ``SimpleDateFormat`` pattern and ISO 8601 is the default.
Dates become datetime64 columns, in UTC when the format has a time zone. Names and values may be quoted with ``'`` or ``"``. Lines starting with ``%`` are
comments and ``?`` marks a missing value. After ``@data`` each row lists every value (dense) or
only the non-zero ones as ``{index value, ...}`` (sparse); an omitted sparse value is 0, which
for a nominal attribute is its first value. A trailing ``{weight}`` after a dense row is ignored.
Every error names the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmrun.config.schema import DatasetConfig
from dmrun.data.types import Table
from dmrun.errors import DataError

NUMERIC_TYPES = ("numeric", "real", "integer")


@dataclass
class Attribute:
    name: str
    kind: str  # numeric, nominal, string or date
    values: list[str] = field(default_factory=list)
    date_format: DateFormat | None = None  # None: ISO 8601


def split_values(text: str, path: Path, line_number: int) -> list[str]:
    """Split comma-separated ARFF values, honouring ``'`` and ``"`` quotes and backslash escapes.

    A quoted value is returned without its quotes; unquoted values are stripped. A quoted ``?``
    stays the text ``'?'``, so only an unquoted ``?`` marks a missing value.
    """
    if "'" not in text and '"' not in text:
        return [value.strip() for value in text.split(",")]  # the common case, without a character loop
    values: list[str] = []
    current: list[str] = []
    quote = None
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and index + 1 < len(text):
                current.append(text[index + 1])
                index += 2
                continue
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in "'\"" and not "".join(current).strip():
            quote, quoted = char, True
            current = []
        elif char == ",":
            values.append(_finish_value(current, quoted))
            current, quoted = [], False
        elif not (quoted and char.isspace()):
            current.append(char)
        index += 1
    if quote:
        raise DataError(f"{path.name} line {line_number}: unclosed quote {quote}", hint="close the quoted value")
    values.append(_finish_value(current, quoted))
    return values


def _finish_value(chars: list[str], quoted: bool) -> str:
    value = "".join(chars)
    if quoted:
        return "\0" + value if value == "?" else value
    return value.strip()


def _unquote_name(text: str) -> tuple[str, str]:
    """Split a leading (possibly quoted) name from the rest of an @attribute line."""
    text = text.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        while end > 0 and text[end - 1] == "\\":
            end = text.find(text[0], end + 1)
        if end < 0:
            return "", ""
        return text[1:end].replace("\\" + text[0], text[0]), text[end + 1 :].strip()
    parts = text.split(None, 1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def parse_attribute(rest: str, path: Path, line_number: int) -> Attribute:
    name, spec = _unquote_name(rest)
    if not name or not spec:
        raise DataError(
            f"{path.name} line {line_number}: cannot read the attribute declaration '@attribute {rest.strip()}'",
            hint="write @attribute NAME TYPE; quote names that contain spaces",
        )
    lowered = spec.lower()
    if spec.startswith("{"):
        if not spec.rstrip().endswith("}"):
            raise DataError(f"{path.name} line {line_number}: nominal values of '{name}' lack a closing }}")
        values = [value.lstrip("\0") for value in split_values(spec.strip()[1:-1], path, line_number)]
        return Attribute(name, "nominal", values=[value for value in values if value != ""])
    if lowered.split()[0] in NUMERIC_TYPES:
        return Attribute(name, "numeric")
    if lowered.split()[0] == "string":
        return Attribute(name, "string")
    if lowered.split()[0] == "date":
        pattern = spec.split(None, 1)[1].strip() if len(spec.split(None, 1)) > 1 else None
        if pattern is not None and pattern[:1] in ("'", '"') and pattern.endswith(pattern[0]) and len(pattern) > 1:
            pattern = pattern[1:-1]
        date_format = None
        if pattern:
            try:
                date_format = parse_date_format(pattern)
            except ValueError as err:
                raise DataError(
                    f"{path.name} line {line_number}: attribute '{name}': {err}",
                    hint="supported letters: yyyy yy MM MMM dd HH hh a mm ss SSS E Z X, and 'quoted text'",
                ) from None
        return Attribute(name, "date", date_format=date_format)
    raise DataError(
        f"{path.name} line {line_number}: attribute '{name}' has type '{spec.split()[0]}', which dmrun does not read",
        hint="supported types: numeric, real, integer, {nominal values}, string, date",
    )


# Java SimpleDateFormat letters and the strptime directive each one becomes, by run length.
# A run uses the entry of the longest listed length not above its own (yyyy uses 3, EEE uses 1).
DATE_LETTERS: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y"},
    "M": {1: "%m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%d"},
    "H": {1: "%H"},
    "h": {1: "%I"},
    "a": {1: "%p"},
    "m": {1: "%M"},
    "s": {1: "%S"},
    "S": {1: "%f"},
    "E": {1: "%a", 4: "%A"},
    "Z": {1: "%z"},
    "X": {1: "%z"},
}
ZONE_LETTERS = ("Z", "X")


@dataclass
class DateFormat:
    """A Java date pattern translated for ``pandas.to_datetime``."""

    pattern: str
    strptime: str
    has_zone: bool
    hour_only_zone: bool  # a single X, whose offsets look like +08 and need minutes appended


def parse_date_format(pattern: str) -> DateFormat:
    """Translate a Java ``SimpleDateFormat`` pattern into a strptime format.

    Letters are read in runs (``yyyy``, ``MM``), text in single quotes is literal (``''`` is
    one quote), and other characters are literal.

    Raises:
        ValueError: for a pattern letter that has no strptime equivalent, such as ``z`` or ``D``.
    """
    parts: list[str] = []
    has_zone = hour_only_zone = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            literal, index = _quoted_literal(pattern, index)
            parts.append(literal.replace("%", "%%"))
            continue
        if not char.isalpha():
            parts.append("%%" if char == "%" else char)
            index += 1
            continue
        run = 1
        while index + run < len(pattern) and pattern[index + run] == char:
            run += 1
        if char not in DATE_LETTERS:
            raise ValueError(f"the date format letter {char!r} in {pattern!r} is not supported")
        lengths = DATE_LETTERS[char]
        parts.append(lengths[max(length for length in lengths if length <= run)])
        has_zone = has_zone or char in ZONE_LETTERS
        hour_only_zone = hour_only_zone or (char == "X" and run == 1)
        index += run
    return DateFormat(pattern, "".join(parts), has_zone, hour_only_zone)


def _quoted_literal(pattern: str, start: int) -> tuple[str, int]:
    """Return the text of the quoted section at ``start`` and the index after it; ``''`` is one quote."""
    if pattern.startswith("''", start):
        return "'", start + 2
    text: list[str] = []
    index = start + 1
    while index < len(pattern):
        if pattern[index] != "'":
            text.append(pattern[index])
            index += 1
        elif pattern.startswith("''", index):
            text.append("'")
            index += 2
        else:
            return "".join(text), index + 1
    raise ValueError(f"unclosed quote in the date format {pattern!r}")


def parse_dates(values, date_format: DateFormat | None):
    """Parse date strings into datetime64 values; a value that does not fit the format becomes NaT.

    Without a format the values are ISO 8601. Values with a time zone are converted to UTC.
    """
    import pandas as pd

    series = pd.Series(values, dtype=object)
    if date_format is None:
        try:
            return pd.to_datetime(series, errors="coerce", format="ISO8601")
        except ValueError:  # some values carry an offset and others none, so align them in UTC
            return pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True)
    if date_format.hour_only_zone:
        series = series.str.replace(r"([+-]\d\d)$", r"\g<1>00", regex=True)
    return pd.to_datetime(series, errors="coerce", format=date_format.strptime, utc=date_format.has_zone)


def _is_comment(line: str) -> bool:
    return not line or line.startswith("%")


def parse_header(lines: list[str], path: Path) -> tuple[str | None, list[Attribute], int]:
    """Return the relation name, the attributes and the index of the first line after ``@data``."""
    relation = None
    attributes: list[Attribute] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if _is_comment(line):
            continue
        keyword = line.split(None, 1)[0].lower()
        rest = line.split(None, 1)[1] if " " in line or "\t" in line else ""
        if keyword == "@relation":
            relation = _unquote_name(rest)[0] if rest else ""
        elif keyword == "@attribute":
            attributes.append(parse_attribute(rest, path, index + 1))
        elif keyword == "@data":
            if not attributes:
                raise DataError(f"{path.name} line {index + 1}: @data comes before any @attribute")
            return relation, attributes, index + 1
        elif keyword == "@end":
            continue
        else:
            raise DataError(
                f"{path.name} line {index + 1}: expected @relation, @attribute or @data, found {line[:40]!r}",
                hint="ARFF files start with a header; is this really an ARFF file?",
            )
    raise DataError(f"{path.name} has no @data section", hint="an ARFF file needs @attribute lines and then @data")


def _parse_sparse(line: str, attributes: list[Attribute], path: Path, line_number: int) -> list[str]:
    body = line.strip()[1:]
    if "}" not in body:
        raise DataError(f"{path.name} line {line_number}: sparse row lacks its closing }}")
    body = body[: body.index("}")] if body.count("}") == 1 else body[: body.rindex("}")]
    row = ["0"] * len(attributes)
    for attribute_index, attribute in enumerate(attributes):
        if attribute.kind == "nominal" and attribute.values:
            row[attribute_index] = attribute.values[0]
    if not body.strip():
        return row
    for entry in split_values(body, path, line_number):
        parts = entry.split(None, 1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(
                f"{path.name} line {line_number}: sparse entry {entry.strip()!r} is not 'index value'",
                hint="write sparse rows as {0 1.5, 3 red}",
            )
        position = int(parts[0])
        if position >= len(attributes):
            raise DataError(
                f"{path.name} line {line_number}: sparse index {position} is out of range; "
                f"the header declares {len(attributes)} attributes (0..{len(attributes) - 1})"
            )
        value = parts[1].strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) >= 2:
            value = value[1:-1]
        row[position] = value
    return row


def _convert(raw_columns: list[list[Any]], attributes: list[Attribute], first_lines: list[int], path: Path):
    """Turn the text columns into typed columns; report the first bad value with its line."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for attribute, values in zip(attributes, raw_columns):
        missing = np.array([value is None for value in values], dtype=bool)
        if attribute.kind == "numeric":
            converted = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            bad = np.flatnonzero(converted.isna().to_numpy() & ~missing)
            if len(bad):
                raise DataError(
                    f"{path.name} line {first_lines[bad[0]]}: attribute '{attribute.name}' is numeric, "
                    f"but the value is {values[bad[0]]!r}",
                    hint="fix the value, write ? for a missing value, or declare the attribute as nominal or string",
                )
            data[attribute.name] = converted.astype("float64")
        elif attribute.kind == "nominal":
            allowed = set(attribute.values)
            for index, value in enumerate(values):
                if value is not None and value not in allowed:
                    raise DataError(
                        f"{path.name} line {first_lines[index]}: value {value!r} of attribute '{attribute.name}' "
                        f"is not one of its declared values {{{', '.join(attribute.values)}}}",
                        hint="add it to the @attribute declaration or fix the value",
                    )
            data[attribute.name] = pd.Series(values, dtype=object).where(~missing, np.nan)
        elif attribute.kind == "date":
            parsed = parse_dates(values, attribute.date_format)
            bad = np.flatnonzero(parsed.isna().to_numpy() & ~missing)
            if len(bad):
                expected = attribute.date_format.pattern if attribute.date_format else "ISO 8601 (yyyy-MM-dd'T'HH:mm:ss)"
                raise DataError(
                    f"{path.name} line {first_lines[bad[0]]}: attribute '{attribute.name}' is a date in the format "
                    f"{expected}, but the value is {values[bad[0]]!r}",
                    hint="fix the value or the format in the @attribute line, or write ? for a missing value",
                )
            data[attribute.name] = parsed
        else:
            data[attribute.name] = pd.Series(values, dtype=object).where(~missing, np.nan)
    return pd.DataFrame(data)


def read_arff(path: Path, config: DatasetConfig) -> Table:
    """Read a dense or sparse ARFF file into a typed table.

    Raises:
        DataError: naming the line for a malformed header, a row with the wrong number of
            values, a value outside a nominal attribute's list or text in a numeric attribute.
    """
    from dmrun.data.formats import check_signature
    from dmrun.data.readers import decode, fingerprint, read_bytes

    check_signature(path, "arff")
    raw = read_bytes(path)
    lines = decode(raw, config.encoding, path).split("\n")
    relation, attributes, start = parse_header(lines, path)
    names = [attribute.name for attribute in attributes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path.name}: attribute name(s) declared twice: {', '.join(duplicates)}")
    columns: list[list[Any]] = [[] for _ in attributes]
    line_numbers: list[int] = []
    sparse_rows = 0
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if _is_comment(line):
            continue
        number = index + 1
        if line.startswith("{"):
            values = _parse_sparse(line, attributes, path, number)
            sparse_rows += 1
        else:
            if line.endswith("}") and "{" in line:
                line = line[: line.rindex("{")].rstrip().rstrip(",")  # instance weight
            values = split_values(line, path, number)
        if len(values) != len(attributes):
            raise DataError(
                f"{path.name} line {number}: {len(values)} values, but the header declares {len(attributes)} attributes",
                hint="each data row needs one value per @attribute, in order; write ? for a missing value",
            )
        for column, value in zip(columns, values):
            column.append(None if value == "?" or value == "" else value.lstrip("\0"))
        line_numbers.append(number)
    if not line_numbers:
        raise DataError(f"dataset has 0 rows: {path.name} has a header but no data rows after @data")
    frame = _convert(columns, attributes, line_numbers, path)
    summary = {
        "relation": relation,
        "rows_read": len(line_numbers),
        "sparse_rows": sparse_rows,
        "attribute_types": {attribute.name: attribute.kind for attribute in attributes},
    }
    return Table(
        frame=frame,
        target=config.target,
        source=str(path),
        meta={"fingerprint": fingerprint(raw), "encoding": config.encoding},
        summary=summary,
    )
