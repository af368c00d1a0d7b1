"""HTML pages (government web sites, CMS exports, LibreOffice/Word "save as HTML") into the document model.

Steps:

1. **Decode** (``decode_html``): BOM, else a valid-UTF-8 body, else the declared charset (``<meta charset>``,
   ``<meta http-equiv content="...charset=...">`` or ``<?xml encoding?>``; GB2312/GBK read as GB18030), else
   UTF-8, else GB18030. A declaration is only trusted if the bytes decode cleanly, so a page that says
   UTF-8 but is GBK still reads right. Nothing decodes → ``DecodeError``.
2. **Parse** with lxml (libxml2's HTML parser: nothing is fetched or executed); ``<script>``, ``<style>``,
   ``<noscript>``, forms and comments are dropped.
3. **Walk** the body once into blocks in document order: one ``TextBlock`` per block-level element, per
   ``<br>``-separated line and per TAB-separated part of a line; one ``Grid`` per innermost data table
   (rowspan/colspan expanded the standard HTML way; a table that holds tables, or has one column, is layout
   and its cells are read as text).
4. **Find the article**: the smallest element containing every report table and every section heading
   (一、总体情况 … 六、其他需要报告的事项), plus the title/date lines just before it; leading breadcrumbs
   and link lists and everything from the site footer on (主办/承办, ICP备, 网站标识码, 上一篇 …) are dropped.
   Without headings or report tables the whole body is kept.

Block ``Origin.line`` is the 1-based ordinal of the block in ``Document.blocks``; cells carry their grid's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree

from nianbao.chrome import ARTICLE_META, BREADCRUMB, PAGE_TOOLS, is_footer_text
from nianbao.errors import CorruptFileError, NianbaoError
from nianbao.grammar import section_of
from nianbao.model import Block, Cell, Document, Grid, Origin, TextBlock
from nianbao.normalize import strip_spaces
from nianbao.read.decode import CONTROL_CHARS, decode_html

# ---------------------------------------------------------------------------------------------------------
# Tree walking

# <embed> is a void element: dropping it would swallow the rest of the page when it is left unclosed.
_DROP = frozenset({
    "head", "title", "script", "style", "noscript", "template", "iframe", "frame", "object", "applet",
    "svg", "math", "canvas", "select", "option", "button", "input", "textarea", "map", "audio", "video",
})
_BLOCK = frozenset({
    "html", "body", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "menu",
    "dir", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre", "address",
    "center", "form", "fieldset", "legend", "figure", "figcaption", "hr", "details", "summary", "hgroup",
    "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col", "frameset", "noframes",
})
_CELL_TAGS = ("td", "th")
_MAX_COLSPAN = 1000
_MAX_ROWSPAN = 65534
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_WS = re.compile(r"\s+")


def _is_wide(ch: str) -> bool:
    """CJK ideographs, radicals, kana, CJK punctuation and full-width forms: text where a line break in the
    source is not a space."""
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFE30 <= o <= 0xFE4F or 0xFF00 <= o <= 0xFFEF \
        or o >= 0x20000


def _clean(raw: str, *, split_tabs: bool) -> list[str]:
    """Collapse whitespace the way a browser shows it, for Chinese text.

    A whitespace run holding a line break is source formatting: dropped between two wide (CJK) characters,
    else one space. With ``split_tabs``, a run holding a TAB but no line break separates two parts (a title
    and its date on one line). Other runs become one space. Returns the stripped non-empty parts.
    """
    raw = raw.translate(_ZERO_WIDTH)
    parts: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _WS.finditer(raw):
        out.append(raw[pos:m.start()])
        run = m.group()
        pos = m.end()
        newline = "\n" in run or "\r" in run
        if split_tabs and "\t" in run and not newline:
            parts.append("".join(out))
            out = []
        elif newline and m.start() > 0 and m.end() < len(raw) and _is_wide(raw[m.start() - 1]) \
                and _is_wide(raw[m.end()]):
            continue
        else:
            out.append(" ")
    out.append(raw[pos:])
    parts.append("".join(out))
    return [p for p in (s.strip() for s in parts) if p]


def _visible_len(text: str) -> int:
    return len(_WS.sub("", text))


def _tag(el: Any) -> str | None:
    """The lower-case tag of an element, or None for comments, processing instructions and entities."""
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else None


def _span(value: str | None, limit: int) -> int:
    """Parse a rowspan/colspan attribute the HTML way: leading digits, else 1; 0 is returned as 0."""
    if not value:
        return 1
    m = re.match(r"\s*\+?(\d+)", value)
    if not m:
        return 1
    digits = m.group(1).lstrip("0")
    if not digits:
        return 0
    return limit if len(digits) > 9 else min(int(digits), limit)


def _cell_text(td: Any) -> str:
    """Text of a cell; ``<br>`` and nested paragraphs join without a separator (labels wrap in cells)."""
    pieces: list[str] = []
    stack: list[tuple[Any, bool]] = [(td, False)]
    while stack:
        el, is_tail = stack.pop()
        if is_tail:
            if el.tail:
                pieces.append(el.tail)
            continue
        if el is not td:
            stack.append((el, True))
            tag = _tag(el)
            if tag is None or tag in _DROP:
                continue
        if el.text:
            pieces.append(el.text)
        for child in reversed(el):
            stack.append((child, False))
    return " ".join(_clean("".join(pieces), split_tabs=False))


def _table_rows(table: Any) -> list[list[Any]]:
    """Rows of a table as lists of its td/th elements; cells outside any ``<tr>`` form implicit rows."""
    rows: list[list[Any]] = []
    row_of: dict[Any, int] = {}
    stray_parent: Any = None
    for el in table.iter("tr", "td", "th"):
        if el.tag == "tr":
            row_of[el] = len(rows)
            rows.append([])
            stray_parent = None
            continue
        parent = el.getparent()
        if parent is not None and parent.tag == "tr":
            if parent in row_of:
                rows[row_of[parent]].append(el)
            continue
        if any(a.tag in _CELL_TAGS for a in _ancestors_until(el, table)):
            continue  # a cell inside a cell (broken markup): its text is part of the outer cell
        if stray_parent is not parent:
            rows.append([])
            stray_parent = parent
        rows[-1].append(el)
    return rows


def _ancestors_until(el: Any, stop: Any) -> Iterator[Any]:
    for a in el.iterancestors():
        if a is stop:
            return
        yield a


@dataclass(frozen=True)
class _GridCell:
    text: str
    row: int
    col: int
    rowspan: int
    colspan: int


def _expand(rows: list[list[Any]]) -> list[_GridCell]:
    """Place cells on the grid: each cell goes to the first column of its row not covered by a rowspan
    from above; rowspan is clamped to the table's rows (0 = to the end), colspan to 1000 (0 = 1)."""
    n_rows = len(rows)
    free_from: list[int] = []  # per column: first row not covered by an earlier cell
    cells: list[_GridCell] = []
    for r, tds in enumerate(rows):
        c = 0
        for td in tds:
            while c < len(free_from) and free_from[c] > r:
                c += 1
            colspan = _span(td.get("colspan"), _MAX_COLSPAN) or 1
            rowspan = _span(td.get("rowspan"), _MAX_ROWSPAN) or (n_rows - r)
            rowspan = max(1, min(rowspan, n_rows - r))
            if len(free_from) < c + colspan:
                free_from.extend([0] * (c + colspan - len(free_from)))
            for k in range(c, c + colspan):
                free_from[k] = max(free_from[k], r + rowspan)
            cells.append(_GridCell(_cell_text(td), r, c, rowspan, colspan))
            c += colspan
    return cells


def _drop_empty_tail(cells: list[_GridCell]) -> list[_GridCell]:
    """Drop trailing rows that no text reaches, e.g. the borderless spacer row Word puts under its tables;
    cells spanning into them are shortened. A blank row with a label (or a label spanning into it) stays."""
    n_rows = max((c.row + c.rowspan for c in cells), default=0)
    last = max((c.row + c.rowspan for c in cells if c.text), default=0)
    if last >= n_rows:
        return cells
    return [
        c if c.row + c.rowspan <= last else _GridCell(c.text, c.row, c.col, last - c.row, c.colspan)
        for c in cells if c.row < last
    ]


@dataclass
class _Raw:
    """A block before the article is chosen: its source element, and how much of its text is link text."""

    element: Any
    text: str = ""
    cells: list[_GridCell] | None = None
    link_chars: int = 0
    chars: int = 0

    @property
    def is_grid(self) -> bool:
        return self.cells is not None

    @property
    def link_dominated(self) -> bool:
        return self.chars > 0 and self.link_chars * 10 >= self.chars * 6


class _Walker:
    """Turns a body into ``_Raw`` blocks in document order (iteratively: pages nest deeply)."""

    def __init__(self) -> None:
        self.blocks: list[_Raw] = []
        self._buf: list[str] = []
        self._buf_el: Any = None
        self._link_chars = 0
        self._chars = 0
        self._in_link = 0
        self._containers: list[Any] = []  # open block-level elements: a line belongs to the innermost

    def _add(self, text: str | None) -> None:
        if not text:
            return
        if self._buf_el is None:
            self._buf_el = self._containers[-1]
        self._buf.append(text)
        n = _visible_len(text)
        self._chars += n
        if self._in_link:
            self._link_chars += n

    def _flush(self) -> None:
        if self._buf:
            for part in _clean("".join(self._buf), split_tabs=True):
                self.blocks.append(_Raw(self._buf_el, text=part, link_chars=self._link_chars, chars=self._chars))
        self._buf, self._buf_el, self._link_chars, self._chars = [], None, 0, 0

    def walk(self, root: Any) -> list[_Raw]:
        # Events: (element, 0) enter, (element, 1) leave, (element, 2) its tail text (in the parent).
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            el, event = stack.pop()
            tag = _tag(el)
            if event == 2:
                self._add(el.tail)
                continue
            if event == 1:
                if tag == "a":
                    self._in_link -= 1
                if tag in _BLOCK or el is root:
                    self._flush()
                    self._containers.pop()
                continue
            if tag is None or tag in _DROP:
                continue
            if tag == "br":
                self._flush()
                continue
            if tag == "table" and self._data_table(el):
                continue
            if tag in _BLOCK or el is root:
                self._flush()
                self._containers.append(el)
            if tag == "a":
                self._in_link += 1
            stack.append((el, 1))
            for child in reversed(el):
                stack.append((child, 2))
                stack.append((child, 0))
            self._add(el.text)
        self._flush()
        return self.blocks

    def _data_table(self, table: Any) -> bool:
        """Emit an innermost table of two or more columns as a grid (after its caption) and return True;
        return False for layout tables, whose content is then walked as text."""
        if any(True for _ in table.iterdescendants("table")):
            return False
        cells = _drop_empty_tail(_expand(_table_rows(table)))
        if not cells:
            return False
        if max(c.col + c.colspan for c in cells) < 2:
            return False
        self._flush()
        for caption in table.iterchildren("caption"):
            for part in _clean(_cell_text(caption), split_tabs=True):
                self.blocks.append(_Raw(caption, text=part, chars=_visible_len(part)))
        self.blocks.append(_Raw(table, cells=cells, chars=sum(_visible_len(c.text) for c in cells)))
        return True


# ---------------------------------------------------------------------------------------------------------
# Finding the article

_REPORT_TABLE = re.compile(r"第二十条|规章|规范性文件|行政许可|行政处罚|申请人|自然人|法人或其他组织|予以公开|行政复议|行政诉讼")
_TITLE = re.compile(r"(?:\d{4}|[〇零一二三四五六七八九]{4})年.{0,40}报告|政府信息公开.{0,20}报告|年报")
_TITLE_SCAN = 12  # how many blocks before the article may hold its title and date


def _is_footer(b: _Raw) -> bool:
    return not b.is_grid and is_footer_text(strip_spaces(b.text))


def _is_chrome(b: _Raw) -> bool:
    t = strip_spaces(b.text)
    return b.link_dominated or _is_footer(b) or bool(BREADCRUMB.search(t)) or (len(t) <= 40 and bool(PAGE_TOOLS.search(t)))


def _title_or_meta(b: _Raw) -> str | None:
    """"title" for a report title line, "meta" for a date/source line, else None."""
    if b.is_grid or b.link_dominated:
        return None
    t = strip_spaces(b.text)
    if BREADCRUMB.search(t):
        return None
    if len(t) <= 80 and _TITLE.search(t):
        return "title"
    return "meta" if len(t) <= 150 and ARTICLE_META.search(t) else None


def _within(el: Any, container: Any) -> bool:
    return el is container or any(a is container for a in el.iterancestors())


def _article(raw: list[_Raw], body: Any) -> list[_Raw]:
    """Choose the report's blocks among all blocks of the body (see the module docstring)."""
    headings = [(i, s) for i, b in enumerate(raw) if not b.is_grid and not b.link_dominated
                and (s := section_of(b.text)) is not None]
    tables = [i for i, b in enumerate(raw) if b.cells is not None
              and _REPORT_TABLE.search(strip_spaces("".join(c.text for c in b.cells)))]
    anchors = sorted({i for i, _ in headings} | set(tables))
    if not anchors:
        return raw
    sections = {s for _, s in headings}

    container = body
    first = raw[anchors[0]].element
    for cand in first.iterancestors():  # a heading's or table's own element is never the article
        if all(_within(raw[i].element, cand) for i in tables) and \
                {s for i, s in headings if _within(raw[i].element, cand)} == sections:
            container = cand
            break
    inside = [i for i, b in enumerate(raw) if _within(b.element, container)]
    first_anchor, last_anchor = anchors[0], anchors[-1]

    # Title and date lines just before the container (outside it, only strict title/meta lines count).
    before: list[int] = []
    start = inside[0] if inside else first_anchor
    seen_title = False
    for i in range(start - 1, max(-1, start - 1 - _TITLE_SCAN), -1):
        kind = _title_or_meta(raw[i])
        if kind == "title" or (kind == "meta" and not seen_title):
            before.append(i)  # meta lines sit between the title and the text; above the title only more title
            seen_title = seen_title or kind == "title"
        elif seen_title or raw[i].is_grid or not _is_chrome(raw[i]):
            break
    keep = sorted(before)

    # Inside the container: before the first anchor, drop everything up to the last breadcrumb and any chrome.
    lead = [i for i in inside if i < first_anchor]
    crumbs = [i for i in lead if not raw[i].is_grid and BREADCRUMB.search(strip_spaces(raw[i].text))]
    if crumbs:
        lead = [i for i in lead if i > crumbs[-1]]
    keep += [i for i in lead if raw[i].is_grid or not _is_chrome(raw[i])]
    keep += [i for i in inside if first_anchor <= i <= last_anchor]
    # After the last anchor: stop at the site footer (or 上一篇/相关链接 …) or at a run of three link lines.
    links = 0
    for i in (i for i in inside if i > last_anchor):
        b = raw[i]
        if _is_footer(b):
            break
        links = links + 1 if b.link_dominated else 0
        if links >= 3:
            keep = keep[:len(keep) - 2]
            break
        keep.append(i)
    return [raw[i] for i in keep]


# ---------------------------------------------------------------------------------------------------------
# Entry point

_PARSER_OPTIONS = {"encoding": "utf-8", "remove_comments": True, "remove_pis": True, "no_network": True,
                   "huge_tree": True}
_DATE_META = frozenset({"pubdate", "publishdate", "firstpublishedtime", "article:published_time", "dc.date",
                        "dcterms.issued"})


def _head_hints(root: Any) -> tuple[str | None, str | None]:
    title: str | None = None
    for el in root.iter("title"):
        title = " ".join(_clean(_cell_text(el), split_tabs=False)) or None
        break
    date: str | None = None
    for meta in root.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if name in _DATE_META and content:
            date = content[:64]
            break
    return title, date


def _to_blocks(raw: list[_Raw]) -> list[Block]:
    blocks: list[Block] = []
    for n, b in enumerate(raw, start=1):
        origin = Origin(line=n)
        if b.cells is None:
            blocks.append(TextBlock(b.text, origin))
        else:
            blocks.append(Grid(
                cells=[Cell(c.text, c.row, c.col, c.rowspan, c.colspan, origin) for c in b.cells],
                origin=origin,
                positional=True,
            ))
    return blocks


def read_html(data: bytes, source: str = "") -> Document:
    """Given the bytes of an HTML page, return the report it holds as a ``Document``.

    Raises ``DecodeError`` when no encoding fits and ``CorruptFileError`` when the markup cannot be parsed
    at all; a page without any text gives a ``Document`` without blocks.
    """
    text = CONTROL_CHARS.sub("", decode_html(data, source))
    empty = Document(blocks=[], source_format="html")
    if not text.strip():
        return empty
    try:
        parser = lxml.html.HTMLParser(**_PARSER_OPTIONS)
        try:
            root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
        except etree.ParserError:  # "Document is empty": only markup, comments or whitespace
            return empty
        if root is None:
            return empty
        title, date = _head_hints(root)
        body = root.find("body")
        if body is None:
            body = root
        raw = _Walker().walk(body)
        blocks = _to_blocks(_article(raw, body))
    except NianbaoError:
        raise
    except (etree.LxmlError, ValueError, RecursionError, MemoryError) as exc:
        raise CorruptFileError(f"the HTML could not be parsed: {exc}", source=source) from exc
    return Document(blocks=blocks, source_format="html", title_hint=title, date_hint=date)


__all__ = ["decode_html", "read_html", "section_of"]
