"""Figure creation and PNG output on matplotlib's non-interactive Agg canvas.

Figures are built as ``matplotlib.figure.Figure`` objects with an Agg canvas attached, without
``pyplot``, so no global backend is selected and nothing needs a display.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from collections.abc import Iterator
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


@functools.cache
def font_family() -> list[str]:
    """Return DejaVu Sans followed by the first installed CJK font, if any."""
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *[name for name in CJK_FONTS if name in installed][:1]]


@contextlib.contextmanager
def plotting() -> Iterator[None]:
    """Apply dmrun's plot style for the duration of the block and hide missing-glyph warnings."""
    import matplotlib

    style = {
        "font.family": "sans-serif",
        "font.sans-serif": font_family(),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.labelsize": 10,
        "figure.titlesize": 13,
        "figure.titleweight": "bold",
    }
    with matplotlib.rc_context(style), warnings.catch_warnings():
        # Without a CJK font matplotlib warns once per missing glyph; the boxes it draws instead are enough.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
        yield


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
