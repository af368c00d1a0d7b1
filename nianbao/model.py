"""The one document model every reader produces.

A ``Document`` is an ordered list of blocks: ``TextBlock`` (a line or paragraph of prose)
and ``Grid`` (a table as cells with row/column spans). Every block and cell carries an
``Origin`` (page, line and bounding box where known). Segmentation and template mapping
work on this model only and never care which format it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SourceFormat = Literal["text", "markdown", "html", "pdf", "docx", "doc"]


@dataclass(frozen=True)
class Origin:
    """Where a piece of content came from: 1-based page and line, bbox (x0, top, x1, bottom) in points."""

    page: int | None = None
    line: int | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Cell:
    """One printed table cell at grid position (row, col), covering rowspan x colspan positions."""

    text: str
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    origin: Origin = Origin()


@dataclass
class Grid:
    """A table as cells. ``positional`` is True when column positions are reliable (HTML, PDF, DOCX)
    and False for text extracts whose label columns shift."""

    cells: list[Cell]
    origin: Origin = Origin()
    positional: bool = True

    @property
    def n_rows(self) -> int:
        return max((c.row + c.rowspan for c in self.cells), default=0)

    @property
    def n_cols(self) -> int:
        return max((c.col + c.colspan for c in self.cells), default=0)

    def row_cells(self) -> list[list[Cell]]:
        """Return, per grid row, the distinct cells that *start* in that row or span into it, left to right.

        A cell spanning several rows is listed in each of them (it is the same object), so a
        caller can deduplicate by identity when counting values.
        """
        rows: list[list[Cell]] = [[] for _ in range(self.n_rows)]
        for c in self.cells:
            for r in range(c.row, c.row + c.rowspan):
                rows[r].append(c)
        for row in rows:
            row.sort(key=lambda c: c.col)
        return rows


@dataclass(frozen=True)
class TextBlock:
    text: str
    origin: Origin = Origin()


Block = TextBlock | Grid


@dataclass
class Document:
    """A report read into the document model, with problems the reader noticed (e.g. pages needing OCR)."""

    blocks: list[Block]
    source_format: SourceFormat
    title_hint: str | None = None  # e.g. HTML <title> or a crawler's 标题 line
    date_hint: str | None = None  # e.g. 发布时间 of a crawler dump
    problems: list[ReaderProblem] = field(default_factory=list)
    page_count: int | None = None
    ocr: bool = False  # the text was read from page images by OCR (digits may be misread)
    # Every reading of each OCR'd table cell (page, bbox), for the OCR gate's agreement rule.
    ocr_reads: list[OcrRead] = field(default_factory=list)
    # Areas read by OCR: (page, bbox in points); a whole scanned page or the picture of a table.
    ocr_regions: list[tuple[int, tuple[float, float, float, float]]] = field(default_factory=list)

    def text_lines(self) -> list[tuple[int, TextBlock]]:
        """Return (block index, block) for every text block."""
        return [(i, b) for i, b in enumerate(self.blocks) if isinstance(b, TextBlock)]


@dataclass(frozen=True)
class OcrRead:
    """The independent readings of one table cell read by OCR (bbox in points, like the cell's origin):
    ``primary`` (RapidOCR, what the cell's text is), ``second`` (tesseract, digits only; None when it did
    not run), ``rescaled`` (RapidOCR on the crop at another scale; only where the two engines differ),
    ``ink`` (ink pixels inside the cell, rules excluded: 0 means nothing is printed there), ``retry``
    (tesseract again on the cleaned crop, only where the two engines differ: the reading equal to
    ``primary`` if one is, else the last; None when not tried), ``minus`` (for a non-zero number: whether the
    pixels show a minus sign before it, None when they cannot tell or were not looked at)."""

    page: int
    bbox: tuple[float, float, float, float]
    primary: str
    second: str | None
    rescaled: str | None
    ink: int
    retry: str | None = None
    minus: bool | None = None


@dataclass(frozen=True)
class ReaderProblem:
    """Something a reader could not read, e.g. a page without a text layer (code ``needs_ocr``)."""

    code: str
    message: str
    page: int | None = None
    # "fatal" means no number of the document can be trusted; "partial" only the named page.
    scope: Literal["fatal", "partial"] = "partial"
