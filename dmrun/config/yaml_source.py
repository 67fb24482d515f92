"""YAML reading with source positions and YAML 1.2 scalar rules.

PyYAML implements YAML 1.1, whose implicit types surprise config authors: ``1e-3`` is a string,
``yes``/``no``/``on``/``off`` are booleans, ``010`` is octal 8, ``1:30`` is the integer 90 and
``2024-01-01`` is a date. This loader resolves plain scalars with the YAML 1.2 core schema
instead. It also rejects duplicate keys, which PyYAML resolves silently by keeping the last one.
It reports tabs in indentation with their position, and it bounds alias expansion so that a
small document cannot expand into a huge structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from dmrun.errors import ConfigError
from dmrun.redact import redact_secrets

# A document whose aliases expand to more nodes than this is rejected (a "billion laughs"
# document reaches millions of nodes from a few lines). Real configs have a few hundred.
MAX_NODES = 100_000

Path = tuple[Any, ...]


class _Yaml12Loader(yaml.SafeLoader):
    """Safe loader whose implicit scalar types follow the YAML 1.2 core schema."""


_Yaml12Loader.yaml_implicit_resolvers = {}

_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
]
for _tag, _pattern, _first in _RESOLVERS:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass
class YamlDocument:
    """Parsed YAML data with the position of every key and value."""

    data: Any
    source: str
    filename: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    overrides: dict[Path, str] = field(default_factory=dict)

    def override_for(self, path: Path) -> str | None:
        """Return the ``--set`` option that set ``path`` or one of its parents, if any."""
        for end in range(len(path), 0, -1):
            found = self.overrides.get(tuple(path[:end]))
            if found is not None:
                return found
        # A key the option added under a new section is reported on that section.
        for option_path, option in self.overrides.items():
            if path and tuple(option_path[: len(path)]) == tuple(path) and path not in self.positions:
                return option
        return None

    def position(self, path: Path) -> tuple[int, int] | None:
        """Return the 1-based (line, column) of the deepest known prefix of ``path``."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def line_text(self, line: int) -> str:
        lines = self.source.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


_SEPARATING_TABS = re.compile(r"(?<=\S)[ \t]*\t[ \t]*(?=#)|(?<=[:,\[{-])[ \t]*\t[ \t]*")


def _untab_separators(text: str) -> str:
    """Turn tabs that separate tokens (after ``:``, ``,``, ``-`` or before ``#``) into spaces.

    YAML 1.2 allows tabs there, but PyYAML rejects them. Tabs inside quoted strings are kept,
    and every replacement keeps its width, so positions in later messages stay correct.
    """
    fixed = []
    for line in text.split("\n"):
        start = len(line) - len(line.lstrip(" \t"))
        rest = line[start:]

        def replace(match: re.Match) -> str:
            before = rest[: match.start()]
            quoted = before.count('"') % 2 == 1 or before.count("'") % 2 == 1
            return match.group(0) if quoted else " " * len(match.group(0))

        fixed.append(line[:start] + _SEPARATING_TABS.sub(replace, rest) if "\t" in line else line)
    return "\n".join(fixed)


def _check_tab_indentation(text: str, filename: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        indent = re.match(r"[ \t]*", line).group(0)
        if "\t" in indent and line.strip():
            column = indent.index("\t") + 1
            raise ConfigError(
                f"{filename}:{number}:{column}: YAML indentation must use spaces (a tab was found)",
                hint="replace the tab at the start of the line with spaces",
                details=[_caret(line, column)],
            )


def _caret(line: str, column: int) -> str:
    shown = redact_secrets(line.replace("\t", " "))
    return f"    {shown}\n    {' ' * (column - 1)}^"


def parse_yaml(text: str, filename: str) -> YamlDocument:
    """Parse one YAML document into plain Python data and key/value positions.

    Raises:
        ConfigError: on a syntax error, a tab in indentation, a duplicate key, a non-text key,
            more than one document or an alias expansion beyond ``MAX_NODES``.
    """
    _check_tab_indentation(text, filename)
    text = _untab_separators(text)
    loader = _Yaml12Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.composer.ComposerError as err:
        if "expected a single document" in str(err):
            raise ConfigError(f"{filename}: contains more than one YAML document", hint="keep one document per config file") from None
        raise _syntax_error(err, text, filename) from None
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err, text, filename) from None
    finally:
        loader.dispose()

    document = YamlDocument(data=None, source=text, filename=filename)
    if root is None:
        document.data = {}
        return document
    builder = _Builder(loader, document)
    document.data = builder.build(root, ())
    if builder.problems:
        raise ConfigError(f"{filename}: invalid YAML", details=builder.problems)
    return document


def _syntax_error(err: yaml.MarkedYAMLError, text: str, filename: str) -> ConfigError:
    mark = err.problem_mark or err.context_mark
    problem = err.problem or "invalid YAML"
    if mark is None:
        return ConfigError(f"{filename}: invalid YAML: {problem}")
    line, column = mark.line + 1, mark.column + 1
    lines = text.splitlines()
    source_line = lines[mark.line] if mark.line < len(lines) else ""
    details = [_caret(source_line, column)]
    opened = err.context_mark
    if err.context and opened is not None and opened is not mark and opened.line < len(lines):
        # An unclosed bracket or quote is found only at the end, so show where it was opened.
        details += [
            f"{filename}:{opened.line + 1}:{opened.column + 1}: {err.context}, which starts here",
            _caret(lines[opened.line], opened.column + 1),
        ]
    return ConfigError(
        f"{filename}:{line}:{column}: invalid YAML: {problem}",
        hint="check the indentation and quoting around this position",
        details=details,
    )


class _Builder:
    """Turn a composed node tree into Python data, recording positions and problems."""

    def __init__(self, loader: _Yaml12Loader, document: YamlDocument) -> None:
        self.loader = loader
        self.document = document
        self.problems: list[str] = []
        self.nodes = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConfigError(
                f"{self.document.filename}: YAML aliases expand to more than {MAX_NODES} nodes",
                hint="a config needs far fewer nodes; remove the nested aliases",
            )
        self.document.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as err:
            self._problem(node, path, f"invalid value: {err.problem}")
            return None

    def _build_mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        self.loader.flatten_mapping(node)
        # flatten_mapping puts the pairs merged in with `<<` first. An explicit key may override
        # one of them, as YAML's merge key specification allows, but not another explicit key.
        merged = len(node.value) - explicit
        result: dict[str, Any] = {}
        from_merge: set[str] = set()
        for position, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, path, "a key must be a plain value, not a list or mapping")
                continue
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in from_merge:
                from_merge.discard(key)
                del result[key]
            if key in result:
                first = self.document.positions.get(path + (key,))
                where = f" (first defined on line {first[0]})" if first else ""
                self._problem(key_node, path + (key,), f"duplicate key '{key}'{where}")
                continue
            self.document.positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, path + (key,))
            if position < merged:
                from_merge.add(key)
        return result

    def _problem(self, node: yaml.Node, path: Path, message: str) -> None:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        dotted = dotted_path(path)
        prefix = f"{self.document.filename}:{line}:{column}: " + (f"{dotted}: " if dotted else "")
        self.problems.append(prefix + message + "\n" + _caret(self.document.line_text(line), column))


def dotted_path(path: Path) -> str:
    """Format ``('preprocess', 0, 'strategy')`` as ``preprocess[0].strategy``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
