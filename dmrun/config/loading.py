"""Load a config file into an ``ExperimentConfig``, reporting every problem with its position."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dmrun.config.overrides import apply_overrides
from dmrun.config.schema import ExperimentConfig
from dmrun.config.yaml_source import YamlDocument, _caret, dotted_path, parse_yaml, redact_secrets
from dmrun.errors import ConfigError
from dmrun.suggest import closest_hint

MAX_CONFIG_BYTES = 1_000_000

# Top-level keys that users bring from other experiment tools, and where dmrun keeps them.
KEYS_FROM_OTHER_TOOLS = {
    "experiment": "name",
    "experiment_name": "name",
    "random_state": "seed",
    "data": "dataset",
    "preprocessing": "preprocess",
    "algorithm": "model",
    "trainer": "train",
    "training": "train",
    "optimizer": "train.optimizer",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
}


@dataclass
class LoadedConfig:
    """A validated config and where it came from."""

    config: ExperimentConfig
    path: Path | None
    base_dir: Path
    overrides: list[str] = field(default_factory=list)

    def resolve_path(self, relative: str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate)


def load_config(path: str | Path, overrides: list[str] | None = None) -> LoadedConfig:
    """Read, parse and validate one config file, after applying ``--set`` overrides.

    Raises:
        ConfigError: when the file is missing or unreadable, or the YAML or any value is invalid.
            All validation problems of the file are listed in ``details``.
    """
    path = Path(path)
    text = _read_text(path)
    document = parse_yaml(text, str(path))
    data = document.data
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of sections (name, dataset, model, ...), "
            f"got {type(data).__name__}"
        )
    applied = apply_overrides(document, overrides or [])
    if "name" not in data:
        data = {"name": default_name(path), **data}
    config = validate_data(data, document)
    return LoadedConfig(config=config, path=path, base_dir=path.resolve().parent, overrides=applied)


def default_name(path: Path) -> str:
    """Derive a valid run name from a config file name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")
    return (name or "experiment")[:64]


def _read_text(path: Path) -> str:
    if not path.exists():
        raise ConfigError(f"config file not found: {path}", hint="check the path; it is relative to the current folder")
    if path.is_dir():
        raise ConfigError(f"config path is a folder, not a file: {path}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file is {len(raw)} bytes; the limit is {MAX_CONFIG_BYTES}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: config is not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})",
            hint="save the config file as UTF-8",
        ) from None


def validate_data(data: dict[str, Any], document: YamlDocument) -> ExperimentConfig:
    """Validate parsed data against the schema, rendering every error with its position."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        rendered = [_render_error(error, data, document) for error in err.errors(include_url=False)]
        details = [text for _, text in sorted(rendered, key=lambda item: item[0])]
        count = len(details)
        noun = "problem" if count == 1 else "problems"
        raise ConfigError(f"{document.filename}: invalid config ({count} {noun})", details=details) from None


# --- error rendering -------------------------------------------------------------------------


def _render_error(
    error: dict[str, Any], data: dict[str, Any], document: YamlDocument
) -> tuple[tuple[int, int], str]:
    """Render one pydantic error; return its (line, column) for sorting and the text."""
    path, node = _data_path(error["loc"], data)
    kind = error["type"]
    message, hint = _describe(error, path, node, data)
    if kind == "union_tag_invalid":
        path = path + (str(error.get("ctx", {}).get("discriminator", "type")).strip("'"),)
    if kind == "value_error" and not path:
        named = [key for key in re.findall(r"`(\w+)`", str(error["msg"])) if key in data]
        path = (named[0],) if named else path
    position = document.position(path)
    if kind == "missing":
        position = document.positions.get(path[:-1]) if len(path) > 1 else None
    location = document.filename
    caret = ""
    option = document.override_for(path)
    if option is not None:
        location = f"--set {redact_secrets(option)}"
    elif position is not None:
        location += f":{position[0]}:{position[1]}"
        caret = "\n" + _caret(document.line_text(position[0]), position[1])
    # A missing key is reported on its parent section, which is where it has to be added.
    dotted = dotted_path(path[:-1] if kind == "missing" else path)
    text = f"{location}: {dotted + ': ' if dotted else ''}{message}{caret}"
    if hint:
        text += f"\n    hint: {hint}"
    return position or (0, 0), text


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[tuple[Any, ...], Any]:
    """Map a pydantic error location onto the user's data, dropping union tags.

    Pydantic puts the discriminator value into the location of errors inside a tagged union
    (``('model', 'cnn', 'channels')``); the user wrote ``model.channels``.
    """
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            if part in (node.get("type"), node.get("step")):
                continue
            if isinstance(part, str) and part.startswith(("function-", "tagged-union")):
                continue
            path.append(part)
            node = None
            continue
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
            continue
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        path.append(part)
        node = None
    return tuple(path), node


def _describe(error: dict[str, Any], path: tuple[Any, ...], node: Any, data: dict[str, Any]) -> tuple[str, str | None]:
    """Return the message and the hint for one pydantic error, in the user's terms."""
    kind = error["type"]
    context = error.get("ctx", {})
    value = error.get("input")

    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1], data)
        key = str(path[-1])
        if len(path) == 1 and key in KEYS_FROM_OTHER_TOOLS:
            return f"unknown key '{key}'", f"dmrun calls this `{KEYS_FROM_OTHER_TOOLS[key]}`"
        return f"unknown key '{key}'", _suggest(key, allowed, "valid keys")
    if kind == "missing":
        return f"missing required key '{path[-1]}'", None

    if kind in ("union_tag_invalid", "literal_error"):
        expected = re.findall(r"'([^']*)'", context.get("expected_tags") or context.get("expected", ""))
        tag = context.get("tag", value)
        return f"invalid value {_show(tag)}", _suggest(str(tag), expected, "expected one of")
    if kind == "union_tag_not_found":
        discriminator = context.get("discriminator", "").strip("'")
        options = _tag_values(path, discriminator)
        hint = f"{discriminator}: " + ", ".join(options) if options else None
        return f"missing required key '{discriminator}'", hint

    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, "), None
    if kind == "string_pattern_mismatch" and path == ("name",):
        return (
            f"invalid value {_show(value)}: a run name uses letters, digits, '.', '_' and '-' "
            "and starts with a letter or digit",
            None,
        )

    message = str(error["msg"]).replace("Input should", "should")
    hint = support_hint(value) if path and path[-1] == "min_support" else None
    if kind == "bool_type" and isinstance(value, str):
        hint = "write true or false (YAML 1.2 reads yes, no, on and off as text)"
    return f"invalid value {_show(value)}: {message}", hint


def _tag_values(path: tuple[Any, ...], discriminator: str) -> list[str]:
    """List the values the discriminator ``type`` or ``step`` accepts at ``path``."""
    from dmrun.config import schema

    union = schema.PreprocessStep if discriminator == "step" else schema.ModelConfig
    members = typing.get_args(typing.get_args(union)[0])
    return [value for member in members for value in typing.get_args(member.model_fields[discriminator].annotation)]


def support_hint(value: Any, count_option: str = "model.min_count: {count}") -> str | None:
    """Explain a support value given as a count, as a percentage, or not above 0.

    ``count_option`` spells the count setting for where the value came from (config or flag).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value <= 0:
        return "support is a fraction of transactions in (0, 1], such as 0.01 for 1% of them"
    if value <= 1:
        return None
    if float(value).is_integer():
        count = f"if {value:g} is a number of transactions, use {count_option.format(count=f'{value:g}')}"
        if value <= 100:
            return f"support is a fraction in (0, 1]: if {value:g} is a percentage, use {value / 100:g}; {count}"
        return f"support is a fraction in (0, 1]; {count}"
    return "support is a fraction of transactions in (0, 1]"


def _show(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(given: str, options: list[str], label: str) -> str | None:
    return closest_hint(given, options, label) if options else None


def _allowed_keys(path: tuple[Any, ...], data: dict[str, Any]) -> list[str]:
    """List the field names valid at ``path``, following tagged unions through the data."""
    model: Any = ExperimentConfig
    node: Any = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        model = _unwrap(model, node)
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = model.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
    model = _unwrap(model, node)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any, node: Any) -> Any:
    """Strip Optional, Annotated, list and tagged unions down to one model class."""
    for _ in range(8):
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = _pick_member(members, node)
        else:
            return annotation
    return annotation


def _pick_member(members: list[Any], node: Any) -> Any:
    if len(members) == 1:
        return members[0]
    tag = None
    if isinstance(node, dict):
        tag = node.get("type", node.get("step"))
    for member in members:
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for field_name in ("type", "step"):
            field = member.model_fields.get(field_name)
            if field is not None and tag in typing.get_args(field.annotation):
                return member
    return members[0]
