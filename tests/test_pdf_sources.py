"""The two libraries that can read a PDF's pages (setting ``pdf_text_source``: pdfplumber, pdfium) publish the
same thing, cell by cell: every PDF of the test corpora and benchmarks (tests/fixtures/**, which holds
tools/generate_fixtures.py's outputs, and ../shared/corpus where it exists) is run through the whole
per-report pipeline with each source, and everything a report publishes is compared: status, error, year,
sections, problems and every cell with its value, kind, printed text, page and bbox.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from test_reliability import SMALL_PDF, encrypted_pdf, many_pages_pdf, truncated_pdf

from nianbao.errors import SettingsError
from nianbao.pipeline import process_bytes
from nianbao.read import pdfium as pdfium_source
from nianbao.results import ReportResult
from nianbao.settings import Settings

SHARED = ROOT.parent / "shared" / "corpus" / "reports"
PDFS = sorted((ROOT / "tests" / "fixtures").rglob("*.pdf")) + (sorted(SHARED.glob("*.pdf")) if SHARED.is_dir() else [])


def _classes(path: Path) -> set[str]:
    """A generated PDF's producer, table layout and template year (``gen-017-rl-emb-split-2019``: rl-emb, split,
    2019); every other PDF is a class of its own (each is a different hand-made case)."""
    parts = path.stem.split("-")
    if parts[0] != "gen" or len(parts) < 5:
        return {path.name}
    return {"-".join(parts[2:4]), "-".join(parts[4:-1]) or "plain", parts[-1]}


def _in_fast(paths: list[Path]) -> set[Path]:
    """The PDFs ``make test-fast`` compares: each one that brings a class not seen before (every hand-made case,
    the first generated file of each producer, layout and year). ``make test`` compares all of them."""
    seen: set[str] = set()
    fast = set()
    for p in paths:
        if not _classes(p) <= seen:
            fast.add(p)
            seen |= _classes(p)
    return fast


FAST = _in_fast(PDFS)


def published(r: ReportResult) -> dict[str, Any]:
    """Everything of a result that reaches the published datasets (timings aside)."""
    return {
        "status": r.status, "error": r.error, "message": r.error_message, "year": r.report_year, "title": r.title,
        "agency": r.agency, "template": r.template, "pages": r.page_count,
        "sections": [(s.number, s.heading, s.text, s.page) for s in r.sections],
        "cells": sorted((c.table, c.key1, c.key2, str(c.value), c.kind, c.raw, c.origin.page, c.origin.bbox,
                         c.derivation, c.unit) for c in r.cells),
        "problems": sorted(repr(dataclasses.astuple(p)) for p in r.problems),
    }


def read_both(data: bytes, name: str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[ReportResult, ReportResult, int]:
    """The result with each source, and how many pages pdfium read (0 would mean it fell back)."""
    pages = 0
    content = pdfium_source.PdfiumPages.content

    def counted(self: pdfium_source.PdfiumPages, k: int) -> Any:
        nonlocal pages
        pages += 1
        return content(self, k)

    monkeypatch.setattr(pdfium_source.PdfiumPages, "content", counted)
    a = process_bytes(data, name, ocr=False, pdf_text_source="pdfplumber", **kw)
    assert pages == 0
    b = process_bytes(data, name, ocr=False, pdf_text_source="pdfium", **kw)
    return a, b, pages


@pytest.mark.parametrize("path", [p if p in FAST else pytest.param(p, marks=pytest.mark.slow) for p in PDFS],
                         ids=lambda p: p.name)
def test_pdfium_publishes_exactly_what_pdfplumber_publishes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, pages = read_both(path.read_bytes(), path.name, monkeypatch)
    assert published(b) == published(a)
    if a.page_count:  # the file was read page by page: pdfium read every page itself
        assert pages == a.page_count


def test_the_corpora_hold_the_pdfs_the_comparison_is_about() -> None:
    names = {p.name for p in PDFS}
    assert len([n for n in names if n.startswith("gen-")]) >= 30  # generated: LibreOffice and reportlab variants
    # test-fast compares each producer (LibreOffice, reportlab embedded and CID fonts), layout and year at least once
    fast = set().union(*(_classes(p) for p in FAST))
    assert {"lo-pdf", "rl-emb", "rl-cid", "grid", "threeline", "split", "norules", "fakebold", "tblheader", "2019",
            "2021"} <= fast
    assert {"real-hongze-2023.pdf", "small-report.pdf", "no-tounicode.pdf", "encrypted-user-password.pdf",
            "truncated-half.pdf", "scanned-image-only.pdf"} <= names


def test_a_one_hundredth_of_a_point_in_a_glyph_box_shows_in_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is sharp: pdfium glyph boxes moved by 0.01 pt change a published bbox."""
    path = ROOT / "tests" / "fixtures" / "generated" / "gen-007-rl-emb-threeline-2019.pdf"
    glyphs = pdfium_source.PdfiumPages._glyphs

    def shifted(*args: Any) -> Any:
        out = glyphs(*args)
        for g in out:
            g.x1 += 0.01
        return out

    monkeypatch.setattr(pdfium_source.PdfiumPages, "_glyphs", staticmethod(shifted))
    a, b, _ = read_both(path.read_bytes(), path.name, monkeypatch)
    assert published(b) != published(a)
    assert [c[:6] for c in published(b)["cells"]] == [c[:6] for c in published(a)["cells"]]


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_pdfium_reads_a_copy_protected_pdf_like_the_plain_file(algorithm: str, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    plain = process_bytes(SMALL_PDF.read_bytes(), "plain.pdf", pdf_text_source="pdfplumber")
    a, b, pages = read_both(encrypted_pdf("", algorithm), "copy-protected.pdf", monkeypatch)
    assert pages == 3 and b.status == "ok"
    assert published(b)["cells"] == published(a)["cells"] == published(plain)["cells"]


@pytest.mark.parametrize(("make", "error"), [(lambda: encrypted_pdf("secret"), "encrypted"),
                                             (truncated_pdf, "corrupt"),
                                             (lambda: SMALL_PDF.read_bytes()[: len(SMALL_PDF.read_bytes()) * 99 // 100],
                                              "corrupt")],
                         ids=["user-password", "truncated-half", "cut-at-99%"])
def test_pdfium_fails_a_bad_pdf_as_pdfplumber_does(make: Any, error: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pdfium repairs files pdfminer rejects; pdfplumber still opens every file, so a truncated report is
    never read as a whole one."""
    a, b, pages = read_both(make(), "bad.pdf", monkeypatch)
    assert (b.status, b.error) == (a.status, a.error) == ("failed", error)
    assert not b.cells and pages == 0


@pytest.mark.slow  # opens a generated 3000-page PDF with each source
def test_pdfium_keeps_the_page_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, pages = read_both(many_pages_pdf(3000), "big.pdf", monkeypatch)
    assert b.error == a.error == "page_limit" and pages == 0


def test_pdf_text_source_is_a_setting_with_two_values() -> None:
    assert Settings().with_overrides(pdf_text_source="pdfium").pdf_text_source == "pdfium"
    with pytest.raises(SettingsError, match="pdfplumber, pdfium"):
        Settings().with_overrides(pdf_text_source="poppler")
    r = process_bytes(SMALL_PDF.read_bytes(), "s.pdf", pdf_text_source="poppler")
    assert r.status == "failed" and "pdfplumber, pdfium" in (r.error_message or "")


def test_overprinted_duplicates_are_removed_by_pdfplumbers_rule() -> None:
    """``_dedupe`` (both sources) keeps what pdfplumber's ``dedupe_chars`` keeps, on random pages of glyphs
    alike in text, font and size at positions that chain within the 1 pt tolerance (fake bold drawn twice or
    three times, repeated digits on a row, a row just over 1 pt lower); positions on a 0.25 pt grid, where
    both clusterings compute exactly."""
    import random

    from pdfplumber.utils import dedupe_chars

    from nianbao.read.pdfpage import Glyph, _dedupe

    rnd = random.Random(16)
    removed = 0
    for _ in range(3000):
        glyphs = []
        for _ in range(rnd.randint(0, 25)):
            y = rnd.choice([0.0, 0.5, 1.0, 1.25, 2.5, 10.0]) + rnd.choice([0.0, 0.0, 0.75])
            x = rnd.choice([0.0, 0.5, 1.0, 2.0, 3.25, 9.0]) + rnd.choice([0.0, 0.0, 0.25])
            glyphs.append(Glyph(rnd.choice("0零a"), x, x + 5, y, y + 9, y, rnd.choice([9.0, 10.5]), rnd.choice("fg"),
                                rnd.random() < 0.9))
        dicts = [{"upright": g.upright, "text": g.text, "fontname": g.font, "size": g.size, "doctop": g.doctop,
                  "x0": g.x0, "k": k} for k, g in enumerate(glyphs)]
        want = [d["k"] for d in dedupe_chars(dicts)]
        got = _dedupe(glyphs)
        assert [next(k for k, h in enumerate(glyphs) if h is g) for g in got] == want
        removed += len(glyphs) - len(got)
    assert removed > 1000  # the cases did overprint
