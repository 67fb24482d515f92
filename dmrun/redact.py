"""Redaction of secret-looking values in messages, logs, command lines and saved records.

A key is secret-looking when its name contains token, password, passwd, secret, api key
(``api_key``, ``api-key``, ``apikey``) or credential. Its value is replaced with ``***``
wherever dmrun would otherwise echo it: error output, ``log.txt`` and ``run.json``.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
_SECRET_WORD = r"(?:token|password|passwd|secret|api[ _-]?key|credential)"
_SECRET_KEY = re.compile(rf"[\w.-]*{_SECRET_WORD}[\w.-]*", re.IGNORECASE)
_VALUE = r"""("[^"]*"|'[^']*'|[^,}\]\s#]+)"""
# ``key=value``, where the key may be a dotted path such as ``dataset.api_token``.
_SECRET_ASSIGNMENT = re.compile(
    rf"""((?:^|[\s{{,.(\[])["']?[\w.-]*{_SECRET_WORD}[\w.-]*["']?\s*=\s*){_VALUE}""", re.IGNORECASE
)
# ``key: value`` as YAML and JSON write it. A dotted key is left alone, because error messages
# name config paths that way (``model.password: unknown key``) and YAML keys have no dots.
_SECRET_MAPPING = re.compile(
    rf"""((?:^|[\s{{,(\[])["']?[\w-]*{_SECRET_WORD}[\w-]*["']?\s*:\s*){_VALUE}""", re.IGNORECASE
)


def redact_secrets(text: str) -> str:
    """Replace the values of secret-looking ``key: value`` and ``key=value`` pairs with ``***``."""
    text = _SECRET_ASSIGNMENT.sub(lambda match: match.group(1) + MASK, text)
    return _SECRET_MAPPING.sub(lambda match: match.group(1) + MASK, text)


def is_secret_key(name: str) -> bool:
    """Tell whether an option or key name looks like it names a secret."""
    return bool(_SECRET_KEY.fullmatch(name.lstrip("-")))


def redact_argv(argv: list[str]) -> list[str]:
    """Redact a command line: ``key=secret`` pairs, and the value after a flag such as ``--api-key``."""
    redacted: list[str] = []
    hide_next = False
    for argument in argv:
        if hide_next:
            redacted.append(MASK)
            hide_next = False
            continue
        redacted.append(redact_secrets(argument))
        hide_next = argument.startswith("-") and "=" not in argument and is_secret_key(argument)
    return redacted


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secret-looking values in each record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
