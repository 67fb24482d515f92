"""Figure creation and PNG output on matplotlib's non-interactive Agg canvas.

Figures are built as ``matplotlib.figure.Figure`` objects with an Agg canvas attached, without
``pyplot``, so no global backend is selected and nothing needs a display.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Fonts that have CJK glyphs, tried in order after DejaVu Sans, so Chinese or Japanese column and
# item names render instead of as empty boxes when one of them is installed.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
)
DPI = 110


# Parts of the file names of those fonts, for fonts installed after matplotlib built its font cache.
CJK_FILES = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback", "uming", "simhei", "msyh")


@functools.cache
def font_family() -> list[str]:
    """Return DejaVu Sans followed by the first installed CJK font, if any."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = [name for name in CJK_FONTS if name in {entry.name for entry in manager.ttflist}]
    if not found:
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name.lower().replace("-", "") for part in CJK_FILES):
                manager.addfont(path)
        found = [name for name in CJK_FONTS if name in {entry.name for entry in manager.ttflist}]
    return ["DejaVu Sans", *found[:1]]


@contextlib.contextmanager
def plotting() -> Iterator[None]:
    """Apply dmrun's plot style for the duration of the block and hide missing-glyph warnings."""
    import matplotlib

    style = {
        # Glyph fallback runs through font.family only; the generic "sans-serif" resolves to one font.
        "font.family": font_family(),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.labelsize": 10,
        "figure.titlesize": 13,
        "figure.titleweight": "bold",
    }
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    # A CJK font without a bold face makes matplotlib log a warning for every bold title.
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(style), warnings.catch_warnings():
            # Without a CJK font matplotlib warns once per missing glyph; the boxes it draws instead are enough.
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
            yield
    finally:
        font_log.setLevel(level)


def new_figure(width: float, height: float, **subplot_options: Any):
    """Return a new figure of ``width`` x ``height`` inches with an Agg canvas attached."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained", **subplot_options)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Any) -> bytes:
    """Render ``figure`` as PNG and return the bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def shorten(text: Any, limit: int = 40) -> str:
    """Return ``text`` as a string of at most ``limit`` characters, ending in an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
