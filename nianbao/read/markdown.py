"""Markdown (``.md``, ``.markdown``: the output of PDF/HTML-to-Markdown converters and of many archives)
into the document model.

* ATX headings (``## 三、收到和处理…``) and setext headings become text blocks without their markup; the
  section grammar then reads them like any other line.
* Pipe tables become positional grids: their cells are delimited explicitly, so an empty cell is a blank
  cell, never a shifted column. The delimiter row (``|---|---|``) is dropped.
* Converters break a table row where its label cell had a line break. A DETACHED label row (the label
  alone, ``| 3.其他 |``, its values on the next row with no label) is joined to the values row, the label
  in the first column and the values after it. A label split over two rows (``| 4.保护第 |`` then
  ``| 三方合法权益 | 1 | …``) is left as two rows: template mapping joins a wrapped label.
* HTML tables embedded in the Markdown (``<table>…</table>``) are read by the HTML reader (spans expanded).
* Inline markup (``**``, ``__``, backticks, links, images, ``<br>``) is removed from text and cells.
"""

from __future__ import annotations

import re

from nianbao.model import Block, Cell, Document, Grid, Origin, TextBlock
from nianbao.normalize import parse_value
from nianbao.read.text import decode_text

_ATX = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")
_DELIM_CELL = re.compile(r"^\s*:?-{3,}:?\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|`")
_TAG = re.compile(r"<[^>]{1,200}>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_BULLET = re.compile(r"^\s{0,3}[*+-]\s+")


def _inline(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    return _EMPHASIS.sub("", text).replace("&nbsp;", " ").strip()


def _is_table_line(line: str) -> bool:
    s = line.strip()
    return s.startswith("|") or (s.count("|") >= 2 and not s.startswith("<"))


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    parts = re.split(r"(?<!\\)\|", s)
    return [_inline(p.replace("\\|", "|")) for p in parts]


def _is_delimiter(cells: list[str]) -> bool:
    return bool(cells) and all(_DELIM_CELL.match(c) for c in cells if c.strip()) and any(c.strip() for c in cells)


def _label_only(row: list[str]) -> bool:
    filled = [c for c in row if c.strip()]
    return len(filled) == 1 and bool(row[0].strip()) and parse_value(row[0]).kind == "text"


def _values_only(row: list[str]) -> bool:
    return len(row) >= 2 and all(parse_value(c).kind != "text" for c in row) and any(c.strip() for c in row)


def _pipe_grid(lines: list[tuple[int, str]]) -> Grid:
    rows: list[tuple[int, list[str]]] = []
    for n, ln in lines:
        cells = _cells(ln)
        if _is_delimiter(cells):
            continue
        rows.append((n, cells))
    merged: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(rows):
        n, row = rows[i]
        if i + 1 < len(rows) and _label_only(row) and _values_only(rows[i + 1][1]):
            merged.append((n, [row[0], *rows[i + 1][1]]))  # a detached label row and its values
            i += 2
            continue
        merged.append((n, row))
        i += 1
    grid_cells = [Cell(text=t, row=r, col=c, origin=Origin(line=n))
             for r, (n, row) in enumerate(merged) for c, t in enumerate(row)]
    return Grid(cells=grid_cells, origin=Origin(line=lines[0][0]), positional=True)


def _html_grids(fragment: str, line: int) -> list[Grid]:
    from nianbao.read.html import read_html

    doc = read_html(f'<html><head><meta charset="utf-8"></head><body>{fragment}</body></html>'.encode())
    out = []
    for b in doc.blocks:
        if isinstance(b, Grid):
            out.append(Grid([Cell(c.text, c.row, c.col, c.rowspan, c.colspan, Origin(line=line))
                             for c in b.cells], Origin(line=line), b.positional))
    return out


def read_markdown(data: bytes, source: str = "") -> Document:
    """Given the bytes of a Markdown file, return its document model."""
    text = decode_text(data, source).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    blocks: list[Block] = []
    title_hint: str | None = None
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        stripped = ln.strip()
        if not stripped or _RULE.match(ln) or _SETEXT.match(ln):  # blank, rule, or a setext underline
            i += 1
            continue
        if stripped.lower().startswith("<table"):
            j = i
            while j < n and "</table>" not in lines[j].lower():
                j += 1
            blocks.extend(_html_grids("\n".join(lines[i:j + 1]), i + 1))
            i = j + 1
            continue
        if _is_table_line(ln):
            j = i
            run: list[tuple[int, str]] = []
            while j < n and lines[j].strip() and _is_table_line(lines[j]):
                run.append((j + 1, lines[j]))
                j += 1
            blocks.append(_pipe_grid(run))
            i = j
            continue
        m = _ATX.match(ln)
        if m:
            heading = _inline(m.group(1))
            if heading:
                blocks.append(TextBlock(heading, Origin(line=i + 1)))
                title_hint = title_hint or (heading if ln.lstrip().startswith("# ") else None)
            i += 1
            continue
        body = _inline(_BULLET.sub("", _QUOTE.sub("", ln)))
        if body:
            blocks.append(TextBlock(body, Origin(line=i + 1)))
        i += 1
    return Document(blocks=blocks, source_format="markdown", title_hint=title_hint)
