"""The "did you mean" hint shared by every error about an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest_hint(given: str, options: Iterable[str], label: str) -> str:
    """Return ``did you mean 'x'? <label>: a, b, c``, or just the listing when nothing is close."""
    choices = [str(option) for option in options]
    close = difflib.get_close_matches(str(given), choices, n=1, cutoff=0.6)
    listing = f"{label}: {', '.join(choices)}"
    return f"did you mean '{close[0]}'? {listing}" if close else listing
