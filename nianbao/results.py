"""The result types every stage hands on: published cells, problems, sections and the per-report result.

They sit below every pipeline stage (read → segment → extract → validate → publish), so any stage can
return them without importing the stage that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from nianbao import PARSER_VERSION
from nianbao.model import Origin
from nianbao.normalize import ValueKind


@dataclass(frozen=True)
class CellValue:
    """One published cell: keys, parsed value, raw text and where it was printed."""

    table: str
    key1: str
    key2: str
    value: Decimal | None
    kind: ValueKind
    raw: str
    origin: Origin = Origin()  # noqa: RUF009 - Origin is frozen, sharing the default is safe
    unit: str = ""
    # "printed", or "identity" when a cell lost by the extract was recovered because the identities
    # leave exactly one possible value (always flagged in validation_issues).
    derivation: str = "printed"


@dataclass(frozen=True)
class Problem:
    """A structural or validation problem: becomes one row of ``validation_issues``."""

    check: str
    severity: str  # "error" | "warning" | "info"
    table: str | None
    message: str
    key1: str | None = None
    key2: str | None = None
    expected: str | None = None
    actual: str | None = None
    page: int | None = None



Status = Literal["ok", "partial", "failed", "skipped"]


@dataclass
class SectionOut:
    number: int
    key: str
    heading: str
    text: str
    block_start: int
    block_end: int
    page: int | None


@dataclass
class ReportResult:
    """Everything nianbao knows about one input, ready to be written."""

    report_id: str
    source_uri: str
    source_format: str | None
    source_bytes: int
    status: Status = "failed"
    error: str | None = None
    error_message: str | None = None
    title: str | None = None
    agency: str | None = None
    report_year: int | None = None
    published: str | None = None
    template: str | None = None
    table_templates: dict[str, str | None] = field(default_factory=dict)
    page_count: int | None = None
    sections: list[SectionOut] = field(default_factory=list)
    cells: list[CellValue] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parser_version: str = PARSER_VERSION
    seconds: float = 0.0
