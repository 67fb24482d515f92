"""Shared by the report tests: quick overrides of the example configs and a PNG header check."""

from __future__ import annotations

import struct
from pathlib import Path

# Overrides that make each example config fast while still drawing every plot it draws.
QUICK = {
    "mlp": ["train.epochs=3"],
    "cnn": ["train.epochs=1", "model.channels=[4]", "model.hidden_size=16"],
    "rnn": ["train.epochs=3"],
    "kmeans": ["model.n_init=2"],
    "tree": [],
    "rules": ["model.min_support=0.3"],
}


def png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) of a PNG file, asserting that it starts like one."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    assert header[12:16] == b"IHDR", f"{path} has no IHDR chunk first"
    return struct.unpack(">II", header[16:24])
