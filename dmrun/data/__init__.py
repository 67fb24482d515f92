"""Dataset loading: built-in datasets and file readers."""

from __future__ import annotations

from pathlib import Path

from dmrun.config.schema import DatasetConfig
from dmrun.data.builtin import BUILTIN_DATASETS
from dmrun.data.types import Baskets, Table
from dmrun.errors import ConfigError
from dmrun.suggest import closest_hint

BASKET_SUFFIXES = (".dat", ".basket", ".baskets")


def load_dataset(config: DatasetConfig, base_dir: Path) -> Table | Baskets:
    """Load the dataset a config names, from the built-in table or from a file.

    Raises:
        ConfigError: for an unknown built-in name or a missing file.
        DataError: for a file that cannot be read or parsed.
    """
    if config.name is not None:
        return load_builtin(config.name)
    return read_file(resolve_file(config, base_dir), config)


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


def resolve_file(config: DatasetConfig, base_dir: Path) -> Path:
    path = Path(config.path).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise ConfigError(
            f"dataset.path '{config.path}' not found (looked for {path})",
            hint="paths in a config are relative to the config file's folder",
        )
    if path.is_dir():
        raise ConfigError(f"dataset.path '{config.path}' is a folder, not a file")
    return path


def load_builtin(name: str) -> Table | Baskets:
    return builtin_entry(name).loader()


def builtin_entry(name: str):
    entry = BUILTIN_DATASETS.get(name)
    if entry is None:
        hint = closest_hint(name, sorted(BUILTIN_DATASETS), "built-in datasets")
        raise ConfigError(f"dataset.name: unknown built-in dataset '{name}'", hint=hint)
    return entry


def file_format(path: Path, config: DatasetConfig) -> str:
    """Return the configured format, or infer it from the file name."""
    if config.format != "auto":
        return config.format
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(BASKET_SUFFIXES):
        return "basket"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    return "csv"


def read_file(path: Path, config: DatasetConfig) -> Table | Baskets:
    from dmrun.data import readers

    kind = file_format(path, config)
    if kind == "basket":
        return readers.read_baskets(path, encoding=config.encoding, delimiter=config.delimiter)
    delimiter = "\t" if kind == "tsv" and config.delimiter is None else config.delimiter
    return readers.read_table(path, config, delimiter)
