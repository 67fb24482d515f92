"""Dataset loading: built-in datasets and file readers."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmrun.data.builtin import BUILTIN_DATASETS
from dmrun.data.types import Baskets, Table
from dmrun.errors import ConfigError, DataError
from dmrun.suggest import closest_hint

if TYPE_CHECKING:
    from dmrun.config.schema import DatasetConfig

BASKET_SUFFIXES = (".dat", ".basket", ".baskets")


def load_dataset(config: DatasetConfig, base_dir: Path, seed: int = 0) -> Table | Baskets:
    """Load the dataset a config names, from the built-in table or from a file.

    ``seed`` draws the row sample that ``config.sample`` asks for.

    Raises:
        ConfigError: for an unknown built-in name or a missing file.
        DataError: for a file that cannot be read or parsed.
    """
    if config.name is not None:
        dataset = load_builtin(config.name)
        if isinstance(dataset, Table):
            from dmrun.data import options

            dataset = options.apply(dataset, config, seed)
        return dataset
    return read_file(resolve_file(config, base_dir), config, base_dir, seed)


def check_reference(config: DatasetConfig, base_dir: Path) -> None:
    """Check that the built-in dataset exists or the data file is present, without reading it.

    Raises:
        ConfigError: for an unknown built-in name or a missing file.
    """
    check_encoding(config.encoding, "dataset.encoding")
    if config.name is not None:
        builtin_entry(config.name)
    else:
        resolve_file(config, base_dir)
        if config.labels is not None:
            resolve_file(config.model_copy(update={"path": config.labels}), base_dir, "dataset.labels")


# Dataset options that only some formats read: (option, command-line flag, default, the formats
# that read it). Any other format would ignore the option without a word.
FORMAT_OPTIONS = (
    ("skip_rows", "--skip-rows", 0, ("csv", "tsv", "basket")),
    ("delimiter", "--delimiter", None, ("csv", "tsv", "basket")),
    ("decimal", "--decimal", ".", ("csv", "tsv", "basket")),
    ("header", None, True, ("csv", "tsv", "basket", "xlsx")),
    ("encoding", "--encoding", "utf-8", ("csv", "tsv", "basket", "jsonl", "arff")),
)
FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "xlsx": "Excel", "jsonl": "JSON Lines", "arff": "ARFF"}


def _unread_options(config: DatasetConfig, kind: str | None) -> list[tuple[str, str | None, object, str]]:
    """Return the options that ``kind`` files (any file for None) do not read but the config changes.

    Each is given as (name, flag, default, the formats that read it).
    """
    unread = []
    for option, flag, default, kinds in FORMAT_OPTIONS:
        value = getattr(config, option)
        changed = codecs.lookup(value).name != default if option == "encoding" else value != default
        if changed and (kind is None or kind not in kinds):
            names = [FORMAT_NAMES.get(name, name) for name in kinds]
            unread.append((option, flag, default, f"{', '.join(names[:-1])} or {names[-1]}"))
    return unread


def check_format_options(config: DatasetConfig, kind: str, path: Path) -> None:
    """Reject a dataset option that the file's format does not read, such as a delimiter for Parquet."""
    unread = _unread_options(config, kind)
    if not unread:
        return
    option, flag, _, readers = unread[0]
    where = f"dataset.{option} from the config" + (f" (or {flag} from the command line)" if flag else "")
    raise ConfigError(f"{option} applies to {readers} files, and {path.name} is read as {kind}", hint=f"remove {where}")


def reset_unread_options(config: DatasetConfig, kind: str | None, keep: set[str]) -> DatasetConfig:
    """Return ``config`` with the options that ``kind`` files do not read set back to their defaults.

    With ``kind`` None, every such option is reset. Options named in ``keep`` stay, so that
    ``check_format_options`` can reject them. ``dmrun predict`` uses this for the options it
    inherits from the training file, which may be of another format.
    """
    update = {option: default for option, _, default, _ in _unread_options(config, kind) if option not in keep}
    if "header" in update:
        update["columns"] = None
    return config.model_copy(update=update) if update else config


def check_header_columns(config: DatasetConfig, base_dir: Path) -> None:
    """Check the column names a CSV or TSV config uses against the file's header line.

    Only the first line is read, so this suits ``dmrun validate``; other formats and
    headerless files are not checked here.

    Raises:
        ConfigError: naming a column the header does not have, with the closest one.
    """
    import csv

    from dmrun.data.formats import check_signature
    from dmrun.data.readers import check_first_lines, decode, detect_delimiter
    from dmrun.suggest import closest_hint

    if config.name is not None:
        return
    path = resolve_file(config, base_dir)
    kind = file_format(path, config)
    check_format_options(config, kind, path)
    if not config.header or kind not in ("csv", "tsv") or path.name.lower().endswith(".gz"):
        return
    check_signature(path, kind)  # a Parquet file named .csv, or an empty file, is named as train names it
    if config.skip_rows:
        from dmrun.data.readers import head_after

        try:
            sample = head_after(path, config.encoding, config.skip_rows)
        except (OSError, UnicodeDecodeError, DataError):
            return  # reading errors are reported when the data is read
        if not sample.strip():
            return  # reading the data reports that no lines are left
    else:
        try:
            with open(path, "rb") as stream:
                head = stream.read(20000)
                if stream.read(1):
                    head = head[: head.rfind(b"\n") + 1] or head  # never cut a character in two
        except OSError:
            return  # reading errors are reported when the data is read
        sample = decode(head, config.encoding, path)
    first = sample.split("\n", 1)[0]
    if not sample.strip():
        raise DataError(f"{path.name} is empty: it has no header line", hint="check that the file was written completely")
    delimiter = config.delimiter or ("\t" if file_format(path, config) == "tsv" else detect_delimiter(sample))
    check_first_lines(sample, delimiter, path.name, config.skip_rows)
    header = [name.strip() for name in next(csv.reader([first], delimiter=delimiter), [])]
    named = [("dataset.target", config.target)] + [
        (f"dataset.{setting}", column)
        for setting in ("features", "exclude", "drop_columns")
        for column in (getattr(config, setting, None) or [])
    ]
    for setting, column in named:
        if column is not None and column not in header:
            raise ConfigError(
                f"{setting}: column '{column}' not found in the header of {path.name}",
                hint=closest_hint(column, header, "columns"),
            )


def mining_dataset_config(config: DatasetConfig) -> DatasetConfig:
    """Return the dataset section rule mining reads: text files and basket layouts as baskets.

    With ``format: auto``, .csv, .tsv and basket files are read as one transaction per line, and
    any file with a ``baskets.layout`` or ``transaction_column`` in that layout. Other formats
    (and a format set explicitly to a table format) are read as tables and mined row by row.
    """
    if config.path is None or config.format != "auto":
        return config
    layout_set = config.baskets.layout != "auto" or config.baskets.transaction_column is not None
    if layout_set or file_format(Path(config.path), config) in ("csv", "tsv", "basket"):
        return config.model_copy(update={"format": "basket"})
    return config


def check_encoding(encoding: str, setting: str) -> None:
    """Raise a ``ConfigError`` naming ``setting`` when Python has no codec called ``encoding``."""
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(
            f"{setting}: unknown encoding '{encoding}'",
            hint="use a Python codec name such as utf-8, gbk, gb18030, latin-1 or cp1252",
        ) from None


def resolve_file(config: DatasetConfig, base_dir: Path, setting: str = "dataset.path") -> Path:
    path = Path(config.path).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise ConfigError(
            f"{setting} '{config.path}' not found (looked for {path})",
            hint="paths in a config are relative to the config file's folder",
        )
    if path.is_dir():
        raise ConfigError(f"{setting} '{config.path}' is a folder, not a file")
    return path


def load_builtin(name: str) -> Table | Baskets:
    return builtin_entry(name).loader()


def builtin_entry(name: str):
    entry = BUILTIN_DATASETS.get(name)
    if entry is None:
        hint = closest_hint(name, sorted(BUILTIN_DATASETS), "built-in datasets")
        raise ConfigError(f"dataset.name: unknown built-in dataset '{name}'", hint=hint)
    return entry


# File name endings (after an optional .gz) and the format each one means.
SUFFIX_FORMATS = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".arff": "arff",
    ".npy": "npy",
    ".npz": "npz",
    "-ubyte": "idx",
    ".idx": "idx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}


def file_format(path: Path, config: DatasetConfig) -> str:
    """Return the configured format, or infer it from the file name."""
    if config.format != "auto":
        return config.format
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".xls"):
        raise DataError(
            f"{path.name} is an old binary Excel workbook (.xls), which dmrun does not read",
            hint="open it in Excel or LibreOffice and save it as .xlsx or CSV",
        )
    if name.endswith(BASKET_SUFFIXES):
        return "basket"
    for suffix, kind in SUFFIX_FORMATS.items():
        if name.endswith(suffix):
            return kind
    return "csv"


def read_file(path: Path, config: DatasetConfig, base_dir: Path | None = None, seed: int | None = None) -> Table | Baskets:
    """Read a data file in the format the config names or the file name implies.

    Tables then get the dataset options: ``drop_columns``, ``features``, ``exclude`` and, unless
    ``seed`` is None, ``sample``. Every reader's own facts go into ``Table.summary``.
    """
    from dmrun.data import options

    kind = file_format(path, config)
    if kind == "basket":
        baskets = read_basket_file(path, config, base_dir)
        if seed is not None and config.sample is not None:
            baskets = options.sample_baskets(baskets, config.sample, seed)
        return baskets
    table = read_table_file(path, config, kind, base_dir)
    return options.apply(table, config, seed)


def read_table_file(path: Path, config: DatasetConfig, kind: str, base_dir: Path | None) -> Table:
    from dmrun.data import formats, readers

    check_format_options(config, kind, path)
    if kind == "parquet":
        return formats.read_parquet(path, config)
    if kind == "jsonl":
        return formats.read_jsonl(path, config)
    if kind == "arff":
        from dmrun.data.arff import read_arff

        return read_arff(path, config)
    if kind == "npy":
        return formats.read_npy(path, config, base_dir)
    if kind == "npz":
        return formats.read_npz(path, config)
    if kind == "idx":
        return formats.read_idx(path, config, base_dir)
    if kind == "xlsx":
        from dmrun.data.excel import read_xlsx

        return read_xlsx(path, config)
    formats.check_signature(path, kind)
    delimiter = "\t" if kind == "tsv" and config.delimiter is None else config.delimiter
    return readers.read_table(path, config, delimiter)


def basket_reading_options(config: DatasetConfig) -> dict[str, Any]:
    """Return the keyword arguments of ``readers.read_baskets`` for a file of one basket per line."""
    return {
        "encoding": config.encoding,
        "delimiter": config.delimiter,
        "ignore_items": config.baskets.ignore_items,
        "skip_rows": config.skip_rows,
        "reject_tables": config.baskets.layout == "auto",
    }


def read_basket_file(path: Path, config: DatasetConfig, base_dir: Path | None) -> Baskets:
    """Read baskets: one transaction per line, or a long, one-hot or quantity table."""
    from dmrun.data import formats, readers
    from dmrun.data.baskets import read_basket_table

    layout = config.baskets.layout
    if layout == "auto":
        layout = "long" if config.baskets.transaction_column is not None else "lines"
    if layout == "lines":
        formats.check_signature(path, "basket")
        from dmrun.data import read_ahead

        options = basket_reading_options(config)
        return read_ahead.take(path, options) or readers.read_baskets(path, **options)
    table_kind = file_format(path, config.model_copy(update={"format": "auto"}))
    if table_kind == "basket":
        table_kind = "csv"
    table_config = config.model_copy(update={"missing_values": [], "target": None})
    table = read_table_file(path, table_config, table_kind, base_dir)
    if config.drop_columns:
        from dmrun.data import options

        table = options.drop_columns(table, config.drop_columns)
    settings = config.baskets.model_copy(update={"layout": layout})
    baskets = read_basket_table(table, config.model_copy(update={"baskets": settings}))
    if "fingerprint" in table.meta:
        baskets.summary["fingerprint"] = table.meta["fingerprint"]
    return baskets
