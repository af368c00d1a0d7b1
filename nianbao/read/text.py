"""Plain-text extracts into the document model.

Three table styles occur in real extracts: tab-separated cells, ``|``-separated cells, and
one cell per line (rows separated by blank lines, vertical header text on its own lines).
Consecutive table-like lines become one ``Grid`` (``positional=False``: label columns
shift in these extracts, so columns are not trusted); everything else is a ``TextBlock``
per line. Page chrome (page numbers) is dropped.
"""

from __future__ import annotations

import re

from nianbao.grammar import is_page_number, starts_numbered
from nianbao.model import Cell, Document, Grid, Origin, TextBlock
from nianbao.read.decode import decode_bytes

_ARTEFACT = re.compile(r"\[bookmark:[^\]]*\]")


def decode_text(data: bytes, source: str = "") -> str:
    """Given the bytes of a text file, return its text (the one decoding rule, ``nianbao.read.decode``)."""
    return decode_bytes(data, source)


def _is_table_line(line: str) -> bool:
    return "\t" in line or " | " in line or line.rstrip().endswith(" |") or line.startswith("| ")


def _fields(line: str) -> list[str]:
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    return [f.strip() for f in line.strip().strip("|").split("|")] if "|" in line else [line.strip()]


def _is_cell_per_line(lines: list[str]) -> bool:
    tabbed = [ln for ln in lines if _is_table_line(ln)]
    single = [ln for ln in tabbed if sum(1 for f in _fields(ln) if f) <= 1]
    return bool(tabbed) and len(single) / len(tabbed) > 0.8


def _grid_from_rows(rows: list[list[tuple[str, int]]]) -> Grid:
    cells = [
        Cell(text=text, row=r, col=c, origin=Origin(line=line_no))
        for r, row in enumerate(rows)
        for c, (text, line_no) in enumerate(row)
    ]
    first = rows[0][0][1] if rows and rows[0] else None
    return Grid(cells=cells, origin=Origin(line=first), positional=False)


def _rows_multi(run: list[tuple[int, str]]) -> list[list[tuple[str, int]]]:
    """One row per non-blank line; blank lines inside the table (page breaks) are skipped."""
    return [[(f, n) for f in _fields(ln)] for n, ln in run if ln.strip()]


def _rows_cell_per_line(run: list[tuple[int, str]]) -> list[list[tuple[str, int]]]:
    """Rows separated by blank lines; a tab-led line is a cell; an untabbed line continues the cell above
    (vertical text such as 自/然/人) or, after a blank line, starts a new cell."""
    rows: list[list[tuple[str, int]]] = []
    row: list[tuple[str, int]] = []
    prev_blank = True
    for n, ln in run:
        if not ln.strip():
            if row and ln == "":
                rows.append(row)
                row = []
            prev_blank = ln == ""
            if ln != "":  # a lone tab: an empty cell
                row.append(("", n))
                prev_blank = False
            continue
        if _is_table_line(ln):
            row.append((ln.strip(), n))
        elif row and not prev_blank:
            text, first_line = row[-1]
            row[-1] = (text + ln.strip(), first_line)
        else:
            row.append((ln.strip(), n))
        prev_blank = False
    if row:
        rows.append(row)
    return rows


_LONG_LINE = 300
_INLINE_BREAK = re.compile(r"\s+|(?=（本列数据的勾稽关系)|(?=第二十条第)")


def _split_long_line(line: str) -> list[str]:
    """Crawler dumps put a whole page on one line with spaces where paragraphs were: split it there."""
    if len(line) <= _LONG_LINE:
        return [line]
    return [part for part in _INLINE_BREAK.split(line) if part and part.strip()]


def read_text(data: bytes, source: str = "") -> Document:
    """Given the bytes of a text extract, return its document model."""
    text = decode_text(data, source)
    text = _ARTEFACT.sub("", text).replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    lines = [part for ln in text.split("\n") for part in _split_long_line(ln)]
    title_hint = date_hint = None
    m = re.search(r"^标题[:：]\s*(.+)$", text, flags=re.MULTILINE)
    if m:
        title_hint = m.group(1).strip()
    m = re.search(r"^发布(?:时间|日期)[:：]\s*(\S+)", text, flags=re.MULTILINE)
    if m:
        date_hint = m.group(1).strip()
    blocks: list[TextBlock | Grid] = []
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        if is_page_number(ln, in_margin=False):
            i += 1
            continue
        if not _is_table_line(ln):
            if ln.strip():
                blocks.append(TextBlock(ln.strip(), Origin(line=i + 1)))
            i += 1
            continue
        # A table run: table lines, blank lines and short continuation lines until prose resumes.
        run: list[tuple[int, str]] = []
        j = i
        while j < n:
            cur = lines[j]
            if is_page_number(cur, in_margin=False):
                j += 1
                continue
            if _is_table_line(cur) or not cur.strip():
                run.append((j + 1, cur))
                j += 1
                continue
            nxt = next((lines[k] for k in range(j + 1, min(n, j + 4)) if lines[k].strip()), "")
            short = (len(cur.strip()) <= 10 and not starts_numbered(cur)) or re.fullmatch(r"[一二三四]、", cur.strip())
            if short and _is_table_line(nxt):
                run.append((j + 1, cur))
                j += 1
                continue
            break
        while run and not run[-1][1].strip():
            run.pop()
        cell_mode = _is_cell_per_line([ln for _, ln in run])
        rows = _rows_cell_per_line(run) if cell_mode else _rows_multi(run)
        rows = [r for r in rows if r]
        if rows:
            blocks.append(_grid_from_rows(rows))
        i = j
    return Document(blocks=blocks, source_format="text", title_hint=title_hint, date_hint=date_hint)
