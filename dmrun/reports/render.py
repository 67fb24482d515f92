"""A small document model (sections of tables, text, code and images) and its HTML and Markdown forms.

Every string that comes from a run (column names, item names, config values, error messages) is
escaped here, once, so report content can be built from raw values.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union


@dataclass
class Text:
    text: str


@dataclass
class Table:
    """A table; the rows whose index is in ``marked`` are highlighted."""

    header: list[str]
    rows: list[list[str]]
    marked: set[int] = field(default_factory=set)
    align_numbers: bool = True


@dataclass
class Code:
    text: str


@dataclass
class Image:
    """A PNG image, embedded in HTML and written beside a Markdown file under ``filename``."""

    caption: str
    png: bytes
    filename: str


@dataclass
class Row:
    """Images shown side by side."""

    images: list[Image]


Block = Union[Text, Table, Code, Image, Row]


@dataclass
class Section:
    title: str
    blocks: list[Block]


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2rem; }
.subtitle { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.marked td { background: #fff8c5; font-weight: 600; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 0.8rem; overflow-x: auto; font-size: 0.82rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { color: #59636e; font-size: 0.85rem; }
.row { display: flex; gap: 1rem; align-items: flex-start; }
.row figure { flex: 1 1 0; min-width: 0; }
nav a { margin-right: 0.8rem; }
"""
NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?%?$", re.IGNORECASE)


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(title: str) -> str:
    return "section-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _html_block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{_escape(block.text)}</p>"
    if isinstance(block, Code):
        return f"<pre>{_escape(block.text)}</pre>"
    if isinstance(block, Image):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure><img alt="{_escape(block.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_escape(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Row):
        return '<div class="row">' + "".join(_html_block(image) for image in block.images) + "</div>"
    header = "".join(f"<th>{_escape(cell)}</th>" for cell in block.header)
    rows = []
    for index, row in enumerate(block.rows):
        cells = "".join(
            f'<td class="number">{_escape(cell)}</td>' if block.align_numbers and NUMBER.match(str(cell)) else f"<td>{_escape(cell)}</td>"
            for cell in row
        )
        rows.append(f'<tr class="marked">{cells}</tr>' if index in block.marked else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def to_html(document: Document) -> str:
    """Return ``document`` as one self-contained HTML page: inline CSS, images as data URIs."""
    navigation = "".join(f'<a href="#{_anchor(section.title)}">{_escape(section.title)}</a>' for section in document.sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_escape(document.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_escape(document.title)}</h1>",
        f'<p class="subtitle">{_escape(document.subtitle)}</p>',
        f"<nav>{navigation}</nav>",
    ]
    for section in document.sections:
        parts.append(f'<h2 id="{_anchor(section.title)}">{_escape(section.title)}</h2>')
        parts += [_html_block(block) for block in section.blocks]
    parts.append("</body></html>\n")
    return "\n".join(parts)


# --- Markdown ------------------------------------------------------------------------------------


def _markdown_text(text: object) -> str:
    """Escape text for GitHub Markdown: HTML shows as text, and pipes and emphasis marks stay literal."""
    escaped = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", escaped).replace("\n", " ")


def _markdown_image(image: Image, image_dir: str) -> str:
    from urllib.parse import quote

    return f"![{_markdown_text(image.caption)}]({quote(f'{image_dir}/{image.filename}')})"


def _markdown_block(block: Block, image_dir: str) -> str:
    if isinstance(block, Text):
        return _markdown_text(block.text)
    if isinstance(block, Code):
        fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", block.text)), default=0) + 1)
        return f"{fence}text\n{block.text.rstrip()}\n{fence}"
    if isinstance(block, Image):
        return _markdown_image(block, image_dir)
    if isinstance(block, Row):
        header = " | ".join(_markdown_text(image.caption) for image in block.images)
        cells = " | ".join(_markdown_image(image, image_dir) for image in block.images)
        return f"| {header} |\n|{' --- |' * len(block.images)}\n| {cells} |"
    lines = ["| " + " | ".join(_markdown_text(cell) for cell in block.header) + " |", "|" + " --- |" * len(block.header)]
    for index, row in enumerate(block.rows):
        cells = [_markdown_text(cell) for cell in row]
        if index in block.marked:
            cells = [f"**{cell}**" if cell else cell for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _images(document: Document) -> list[Image]:
    found: list[Image] = []
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Row):
                found += block.images
            elif isinstance(block, Image):
                found.append(block)
    return found


def write_markdown(document: Document, path: Path) -> list[Path]:
    """Write ``document`` as GitHub Markdown to ``path`` and its images into ``<stem>_images/`` beside it.

    Returns the files written. Images are linked by relative path, because GitHub does not
    display ``data:`` image URIs.
    """
    from dmrun.rundir import write_atomic

    image_dir = f"{path.stem}_images"
    parts = [f"# {_markdown_text(document.title)}", "", f"_{_markdown_text(document.subtitle)}_"]
    for section in document.sections:
        parts += ["", f"## {_markdown_text(section.title)}"]
        for block in section.blocks:
            parts += ["", _markdown_block(block, image_dir)]
    written = [path]
    images = _images(document)
    if images:
        folder = path.parent / image_dir
        folder.mkdir(exist_ok=True)
        for image in images:
            write_atomic(folder / image.filename, image.png)
            written.append(folder / image.filename)
    write_atomic(path, "\n".join(parts) + "\n")
    return written
