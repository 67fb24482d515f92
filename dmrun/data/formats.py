"""Readers for binary and structured table formats: Parquet, JSON Lines, NumPy, IDX.

Excel workbooks have their own module, ``dmrun.data.excel``.

Each reader returns a ``Table`` whose ``summary`` records what the reader did (rows read, rows
dropped and why, arrays or columns used). A file whose first bytes belong to another format than
its name implies is rejected with a message naming both, before any parser reads it.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

from dmrun.config.schema import DatasetConfig
from dmrun.data.types import Table
from dmrun.errors import DataError

# Leading bytes of the binary formats dmrun reads, and of gzip.
SIGNATURES = {
    "parquet": b"PAR1",
    "npy": b"\x93NUMPY",
    "npz": b"PK\x03\x04",
    "gzip": b"\x1f\x8b",
}
EMPTY_ZIP = b"PK\x05\x06"
# Old binary Office files (.xls, .doc) are OLE2 compound documents.
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# IDX element types: type code -> big-endian NumPy dtype.
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

NPZ_FEATURE_KEYS = ("X", "x", "data", "features", "x_train", "X_train")
NPZ_LABEL_KEYS = ("y", "labels", "label", "target", "y_train")

FORMAT_HINT = "set dataset.format to the file's real format, or rename the file"
# For a file whose first bytes match its format but whose content does not read.
DAMAGED_HINT = "the file may be truncated or damaged: write or copy it again"


def sniff(head: bytes) -> str:
    """Name the format that the first bytes of a file show: a binary format, ``idx`` or ``text``."""
    if head.startswith(EMPTY_ZIP):
        return "npz"
    for name, signature in SIGNATURES.items():
        if head.startswith(signature):
            return name
    if head.startswith(OLE2):
        return "xls"
    if len(head) >= 4 and head[0] == 0 and head[1] == 0 and head[2] in IDX_TYPES and 1 <= head[3] <= 4:
        return "idx"
    return "text"


def is_xlsx(path: Path) -> bool:
    """Tell whether the ZIP archive at ``path`` is an Excel workbook (it has ``xl/workbook.xml``)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _opens_as_zip(path: Path) -> bool:
    """Tell whether the ZIP archive at ``path`` has a readable directory (a truncated one has none)."""
    import zipfile

    try:
        with zipfile.ZipFile(path):
            return True
    except (OSError, zipfile.BadZipFile):
        return False


def _has_control_bytes(head: bytes) -> bool:
    """Tell whether ``head`` has control bytes that text files do not contain (NUL and tabs aside)."""
    return any(0 < byte < 32 and byte not in (9, 10, 11, 12, 13, 26) for byte in head)


def read_head(path: Path, size: int = 16) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read(size)
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def check_signature(path: Path, expected: str) -> None:
    """Raise a ``DataError`` when the file's first bytes show another format than ``expected``.

    ``expected`` is a format name; text formats (csv, tsv, jsonl, arff, basket) expect ``text``.
    A ``.gz`` file is checked after decompressing its first bytes.
    """
    head = read_head(path)
    if not head:
        raise DataError(f"{path.name} is empty (0 bytes)", hint="check that the file was written completely")
    if path.name.lower().endswith(".gz"):
        if sniff(head) != "gzip":
            raise DataError(f"{path.name} is not a gzip file although its name ends in .gz", hint="rename the file")
        try:
            with gzip.open(path, "rb") as stream:
                head = stream.read(16)
        except (OSError, EOFError) as err:
            raise DataError(f"{path.name} is not a valid gzip file: {err}") from None
    found = sniff(head)
    if found == "npz" and expected == "xlsx" and not _opens_as_zip(path):
        raise DataError(
            f"{path.name} starts like an Excel workbook (a ZIP archive), but the archive cannot be opened",
            hint=DAMAGED_HINT,
        )
    if found == "npz" and is_xlsx(path):
        found = "xlsx"
    wanted = expected if expected in ("parquet", "npy", "npz", "idx", "xlsx") else "text"
    if found == wanted:
        return
    described = {
        "text": "a text file",
        "gzip": "a gzip file",
        "npz": "a ZIP archive (such as .npz)",
        "xlsx": "an Excel workbook (.xlsx)",
        "xls": "an old binary Office file, such as an Excel .xls workbook",
    }.get(found, f"a {found} file")
    if found == "text" and _has_control_bytes(head):
        described = "binary data of no known format"
    raise DataError(
        f"{path.name} is read as {expected}, but its content is {described} (first bytes {head[:8]!r})",
        hint=FORMAT_HINT,
    )


def _describe(frame) -> dict[str, Any]:
    return {"rows_read": int(len(frame)), "columns_read": int(frame.shape[1])}


def _require_rows(frame, path: Path) -> None:
    if len(frame) == 0:
        columns = ", ".join(map(str, frame.columns[:10])) or "none"
        raise DataError(f"dataset has 0 rows: {path.name} contains no data rows (columns: {columns})")


# --- Parquet ---------------------------------------------------------------------------------


def read_parquet(path: Path, config: DatasetConfig) -> Table:
    """Read a Parquet file with pyarrow; a stored pandas index never becomes a feature.

    pandas writes a filtered frame's index as a column such as ``__index_level_0__`` and records
    it in the file's pandas metadata; those columns are dropped and counted.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    check_signature(path, "parquet")
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        table = parquet.read()
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"cannot read {path.name} as Parquet: {err}", hint=DAMAGED_HINT) from None
    index_columns: list[str] = []
    metadata = schema.metadata or {}
    if b"pandas" in metadata:
        try:
            pandas_meta = json.loads(metadata[b"pandas"])
            index_columns = [name for name in pandas_meta.get("index_columns", []) if isinstance(name, str)]
        except ValueError:
            index_columns = []
    index_columns += [
        name for name in table.column_names if name.startswith("__index_level_") and name not in index_columns
    ]
    kept = [name for name in table.column_names if name not in index_columns]
    frame = table.select(kept).to_pandas(ignore_metadata=True)
    summary = _describe(frame)
    if index_columns:
        summary["index_columns_dropped"] = index_columns
    _require_rows(frame, path)
    return Table(frame=frame, target=config.target, source=str(path), summary=summary)


# --- JSON Lines ------------------------------------------------------------------------------


def read_jsonl(path: Path, config: DatasetConfig) -> Table:
    """Read one JSON object per line; a line that is not an object is an error naming its number."""
    import json

    import pandas as pd

    from dmrun.data.readers import decode, read_bytes

    check_signature(path, "jsonl")
    text = decode(read_bytes(path), config.encoding, path)
    records = []
    blank = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            blank += 1
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            raise DataError(
                f"{path.name} line {number}: invalid JSON ({err.msg} at column {err.colno})",
                hint="JSON Lines needs one complete JSON object per line",
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path.name} line {number}: expected a JSON object, got {type(record).__name__}",
                hint='write each row as an object such as {"x": 1, "y": "a"}',
            )
        records.append(record)
    if not records:
        raise DataError(f"{path.name} is empty: it contains no JSON objects")
    nested = sorted({key for record in records[:1000] for key, value in record.items() if isinstance(value, (dict, list))})
    if nested:
        raise DataError(
            f"{path.name}: field(s) {', '.join(nested)} hold nested objects or lists, which are not table cells",
            hint="flatten the records so that every field holds a number, text, true/false or null",
        )
    frame = _plain_dtypes(pd.DataFrame.from_records(records).convert_dtypes(dtype_backend="numpy_nullable"))
    summary = _describe(frame)
    summary["blank_lines_skipped"] = blank
    return Table(frame=frame, target=config.target, source=str(path), summary=summary)


def _plain_dtypes(frame):
    """Turn pandas' nullable dtypes into NumPy ones: int64 and bool without gaps, float64 with NaN, text as object."""
    import numpy as np
    import pandas as pd

    for column in frame.columns:
        dtype = str(frame[column].dtype)
        complete = not frame[column].isna().any()
        if dtype == "boolean":
            frame[column] = frame[column].astype(bool) if complete else frame[column].astype("float64")
        elif dtype.startswith(("Int", "UInt")):
            frame[column] = frame[column].astype("int64") if complete else frame[column].astype("float64")
        elif dtype == "Float64":
            frame[column] = frame[column].astype("float64")
        elif not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame


# --- NumPy -----------------------------------------------------------------------------------


def _load_numpy(path: Path):
    import zipfile

    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(
                f"{path.name} contains Python objects (an object array), which dmrun does not load because "
                "loading them could run code",
                hint="save numeric or fixed-width text arrays, for example with arr.astype(float)",
            ) from None
        raise DataError(f"cannot read {path.name} as a NumPy file: {err}", hint=DAMAGED_HINT) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path.name} as a NumPy file: {err}", hint=DAMAGED_HINT) from None


def frame_from_arrays(features, labels, path: Path, meta: dict[str, Any]):
    """Build a table from a feature array (rows first) and an optional label vector."""
    import numpy as np
    import pandas as pd

    if features.dtype.names:
        frame = pd.DataFrame({name: features[name] for name in features.dtype.names})
    else:
        if features.ndim == 0:
            raise DataError(f"{path.name} contains a single value, not rows of data")
        if features.ndim == 1:
            features = features.reshape(-1, 1)
        if features.ndim >= 3:
            shape = list(features.shape[1:])
            meta["image_shape"] = [1, *shape] if len(shape) == 2 else shape
            if len(shape) == 2:
                meta["sequence_shape"] = shape
            features = features.reshape(features.shape[0], -1)
            names = [f"pixel{index}" for index in range(features.shape[1])]
        else:
            names = [f"x{index}" for index in range(1, features.shape[1] + 1)]
        frame = pd.DataFrame(features, columns=names, copy=False)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DataError(f"{path.name}: the labels have shape {labels.shape}; expected one label per row")
        if len(labels) != len(frame):
            raise DataError(
                f"{path.name}: {len(frame)} feature rows but {len(labels)} labels",
                hint="the features and labels must have the same number of rows",
            )
        if labels.dtype.kind in "US":
            labels = labels.astype(str).astype(object)
        frame["label"] = labels
    return frame


def read_npy(path: Path, config: DatasetConfig, base_dir: Path | None = None) -> Table:
    """Read a ``.npy`` array as rows of features; ``dataset.labels`` may name a ``.npy`` of labels."""
    check_signature(path, "npy")
    features = _load_numpy(path)
    labels = None
    meta: dict[str, Any] = {}
    summary: dict[str, Any] = {"array_shape": list(features.shape), "array_dtype": str(features.dtype)}
    if config.labels is not None:
        labels_path = resolve_labels(config, path, base_dir)
        check_signature(labels_path, "npy")
        labels = _load_numpy(labels_path)
        summary["labels_file"] = str(labels_path)
    frame = frame_from_arrays(features, labels, path, meta)
    summary.update(_describe(frame))
    _require_rows(frame, path)
    return Table(frame=frame, target=config.target or ("label" if labels is not None else None), source=str(path), meta=meta, summary=summary)


def read_npz(path: Path, config: DatasetConfig) -> Table:
    """Read the feature and label arrays of a ``.npz`` archive.

    ``dataset.arrays`` names them; by default the first present of ``NPZ_FEATURE_KEYS`` and of
    ``NPZ_LABEL_KEYS`` are used, or the only array when the archive has one.
    """
    check_signature(path, "npz")
    archive = _load_numpy(path)
    with archive:
        keys = list(archive.files)
        listed = ", ".join(keys) or "none"
        if config.arrays:
            absent = [key for key in config.arrays if key not in keys]
            if absent:
                raise DataError(
                    f"{path.name} has no array named {', '.join(absent)}; arrays present: {listed}",
                    hint="set dataset.arrays to [features, labels] array names from that list",
                )
            feature_key = config.arrays[0]
            label_key = config.arrays[1] if len(config.arrays) > 1 else None
        elif len(keys) == 1:
            feature_key, label_key = keys[0], None
        else:
            feature_key = next((key for key in NPZ_FEATURE_KEYS if key in keys), None)
            label_key = next((key for key in NPZ_LABEL_KEYS if key in keys), None)
            if feature_key is None:
                raise DataError(
                    f"{path.name}: no feature array found among the arrays present: {listed}",
                    hint="set dataset.arrays: [features_name, labels_name], or name the arrays X and y",
                )
        features = archive[feature_key]
        labels = archive[label_key] if label_key else None
    meta: dict[str, Any] = {}
    frame = frame_from_arrays(features, labels, path, meta)
    summary = {"arrays_present": keys, "features_array": feature_key, "labels_array": label_key, **_describe(frame)}
    _require_rows(frame, path)
    target = config.target or ("label" if label_key else None)
    return Table(frame=frame, target=target, source=str(path), meta=meta, summary=summary)


# --- IDX (MNIST) -----------------------------------------------------------------------------


def read_idx_array(path: Path):
    """Parse one IDX file (optionally gzip-compressed) into a NumPy array.

    The layout is two zero bytes, a type code, the number of dimensions, one big-endian 32-bit
    size per dimension, then the values in row-major order.
    """
    import numpy as np

    check_signature(path, "idx")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path.name}: {err}") from None
    type_code, ndim = raw[2], raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path.name}: the IDX header is cut short ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    payload = len(raw) - header_size
    if payload != expected:
        raise DataError(
            f"{path.name}: the header declares shape {tuple(shape)} ({expected} bytes of {dtype}), "
            f"but {payload} bytes follow",
            hint="the file is truncated or not an IDX file",
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def resolve_labels(config: DatasetConfig, path: Path, base_dir: Path | None) -> Path:
    labels = Path(config.labels).expanduser()
    if not labels.is_absolute():
        labels = (base_dir or path.parent) / labels
    if not labels.is_file():
        raise DataError(
            f"dataset.labels '{config.labels}' not found (looked for {labels})",
            hint="paths in a config are relative to the config file's folder",
        )
    return labels


def read_idx(path: Path, config: DatasetConfig, base_dir: Path | None = None) -> Table:
    """Read an IDX images (or values) file and, with ``dataset.labels``, its labels file."""
    images = read_idx_array(path)
    labels = None
    summary: dict[str, Any] = {"array_shape": list(images.shape), "array_dtype": str(images.dtype)}
    if config.labels is not None:
        labels_path = resolve_labels(config, path, base_dir)
        labels = read_idx_array(labels_path)
        summary["labels_file"] = str(labels_path)
    meta: dict[str, Any] = {}
    frame = frame_from_arrays(images, labels, path, meta)
    summary.update(_describe(frame))
    _require_rows(frame, path)
    target = config.target or ("label" if labels is not None else None)
    return Table(frame=frame, target=target, source=str(path), meta=meta, summary=summary)
