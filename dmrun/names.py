"""Run names: what a user may choose, and how a derived name is made safe for a folder name.

A run name becomes part of a folder name under ``runs/``, or the whole folder name with
``--run-name``. So that the folder stays inside ``runs/`` and visible, a name has no path
separator, no ``..``, no control character and no leading dot, and at most
``MAX_NAME_LENGTH`` characters.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 64
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def name_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid run name, or ``None`` when it is valid."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it has {len(name)} characters; the limit is {MAX_NAME_LENGTH}"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "it contains a control character"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if ".." in name:
        return "it contains '..'"
    if not _VALID.fullmatch(name):
        return f"a run name uses {NAME_RULE}"
    return None


def safe_name(text: str, fallback: str = "experiment") -> str:
    """Turn any text (a file name, say) into a valid run name, replacing what is not allowed."""
    name = _UNSAFE_RUN.sub("-", text)
    name = re.sub(r"\.{2,}", ".", name).strip("-._")[:MAX_NAME_LENGTH].rstrip("-._")
    return name or fallback
