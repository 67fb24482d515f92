"""``--set key.path=value`` overrides, applied to the parsed YAML before validation.

Values are parsed as YAML 1.2 flow values, so ``--set train.optimizer.lr=1e-3`` gives a float
and ``--set model.hidden_sizes=[64,32]`` a list. An override can add a key the file leaves out
(``train.epochs`` when the file has no ``train`` section). Validation then rejects any key the
schema does not know, so a typo is never silently added.
"""

from __future__ import annotations

import re
from typing import Any

from dmrun.config.yaml_source import Path, YamlDocument, parse_yaml
from dmrun.errors import ConfigError

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_key(key: str, option: str) -> Path:
    """Split ``preprocess[0].strategy`` (or ``preprocess.0.strategy``) into path parts."""
    if not key or key.startswith(".") or key.endswith(".") or ".." in key:
        raise ConfigError(f"invalid --set key in '{option}'", hint="write --set section.key=value, such as train.epochs=5")
    parts: list[Any] = []
    position = 0
    for match in _PART.finditer(key):
        if match.start() != position and key[position:match.start()] != ".":
            raise ConfigError(f"invalid --set key in '{option}'", hint="write --set section.key=value")
        name, index = match.groups()
        if index is not None:
            parts.append(int(index))
        elif name.isdigit():
            parts.append(int(name))
        else:
            parts.append(name)
        position = match.end()
    if position != len(key):
        raise ConfigError(f"invalid --set key in '{option}'", hint="write --set section.key=value")
    return tuple(parts)


def parse_override(option: str) -> tuple[Path, Any]:
    if "=" not in option:
        raise ConfigError(
            f"invalid --set value '{option}': expected key=value",
            hint="for example --set train.epochs=5 or --set model.hidden_sizes=[64,32]",
        )
    key, raw = option.split("=", 1)
    path = parse_key(key.strip(), option)
    document = parse_yaml(f"value: {raw}" if raw.strip() else "value: ''", f"--set {option}")
    return path, document.data["value"]


def apply_overrides(document: YamlDocument, options: list[str]) -> list[str]:
    """Apply each ``key=value`` to ``document.data`` in order; return the options as applied.

    The document remembers which paths came from the command line, so validation errors on
    them are reported as ``--set key=value`` instead of a file position.

    Raises:
        ConfigError: for a malformed option or a key that walks into a value that is not a
            section or list.
    """
    for option in options:
        path, value = parse_override(option)
        node = document.data
        for depth, part in enumerate(path[:-1]):
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    size = len(node) if isinstance(node, list) else 0
                    raise ConfigError(
                        f"--set {option}: index {part} is out of range ({'.'.join(map(str, path[:depth]))} has {size} items)"
                    )
                node = node[part]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {option}: '{part}' is inside a value that is not a section")
            node = node.setdefault(part, {})
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ConfigError(
                    f"--set {option}: index {last} is out of range ({'.'.join(map(str, path[:-1]))} has {size} items)"
                )
            node[last] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"--set {option}: '{last}' is inside a value that is not a section")
        document.overrides[path] = option
    return list(options)
