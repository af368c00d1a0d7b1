"""The PDF reader: golden values (real hongze report + generated PDFs), structure, and bad inputs.

Expectations come from the gold files, never from the reader's own output. A failure here can sit
in the reader or in the mapper; the assertion messages list the cells and rows involved.
"""

from __future__ import annotations

import functools
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, FIXTURES

from nianbao.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    NeedsOcrError,
    NianbaoError,
    PageLimitError,
    UnreadableFontError,
)
from nianbao.model import Document, Grid, TextBlock
from nianbao.normalize import normalize_label
from nianbao.pipeline import process_bytes
from nianbao.read.pdf import read_pdf
from nianbao.results import CellValue
from nianbao.segment import section_grids, segment

HONGZE = CORPUS / "real-hongze-2023.pdf"
GENERATED_DIR = FIXTURES / "generated"
GENERATED = sorted(GENERATED_DIR.glob("*.pdf"))  # computed at import: an empty folder fails test_generated_present
BAD_DIR = FIXTURES / "bad"
BAD_EXPECTED: dict[str, dict[str, Any]] = (
    json.loads((BAD_DIR / "expected.json").read_text("utf-8")) if (BAD_DIR / "expected.json").exists() else {})


# --------------------------------------------------------------------------------------------
# Scoring: every gold cell, blanks included
# --------------------------------------------------------------------------------------------

Key = tuple[str, str, str]


def _score(cells: list[CellValue], gold: dict[str, Any]) -> tuple[int, int, int, list[str]]:
    """Return (correct, wrong, gold cells, mistakes). A gold number must come out as that number; a gold
    blank (null) as a blank cell, or a not-applicable cell where the gold's raw is "/". Every published
    cell must be right (precision); recall counts every gold cell."""
    want: dict[Key, dict[str, Any]] = {(g["table"], g["key1"], g["key2"]): g for g in gold["cells"]}
    correct = wrong = 0
    mistakes: list[str] = []
    for c in cells:
        key = (c.table, c.key1, c.key2)
        g = want.get(key)
        if g is None:
            ok = False
        elif g["value"] is None:
            ok = c.value is None and c.kind == ("not_applicable" if g.get("raw") == "/" else "blank")
        else:
            ok = c.kind == "number" and c.value == Decimal(str(g["value"]))
        if ok:
            correct += 1
        else:
            wrong += 1
            mistakes.append(f"{key}: published {c.raw!r} ({c.kind}, {c.derivation}, page {c.origin.page}), "
                            f"gold {None if g is None else g['value']!r}")
    return correct, wrong, len(want), mistakes


@functools.cache
def _run(path: Path) -> tuple[int, int, int, tuple[str, ...], tuple[str, ...]]:
    """Process one PDF through the pipeline; return its score, mistakes and the problems reported."""
    gold = json.loads(path.with_suffix(".json").read_text("utf-8"))
    result = process_bytes(path.read_bytes(), str(path))
    assert result.error is None, f"{path.name}: {result.error}: {result.error_message}"
    correct, wrong, n, mistakes = _score(result.cells, gold)
    problems = tuple(f"{p.check}: {p.message}" for p in result.problems if p.severity == "error")
    return correct, wrong, n, tuple(mistakes), problems


def _headings(doc: Document) -> dict[int, str]:
    return {s.section.number: s.heading_text for s in segment(doc)}


# --------------------------------------------------------------------------------------------
# The real report
# --------------------------------------------------------------------------------------------

@functools.cache
def _hongze() -> Document:
    return read_pdf(HONGZE.read_bytes(), str(HONGZE))


def test_hongze_values_match_gold() -> None:
    correct, wrong, n, mistakes, problems = _run(HONGZE)
    assert wrong == 0, mistakes
    assert correct / n >= 0.99, (correct, n, problems)


def test_hongze_as_printed() -> None:
    """(六) printed as one row (2019 key), the label typo, and review totals printed 0 are kept as printed."""
    result = process_bytes(HONGZE.read_bytes(), str(HONGZE))
    got = {(c.table, c.key1, c.key2): c.value for c in result.cells}
    assert got[("applications", "other_handling", "total")] == 0
    assert got[("applications", "denied_prohibited_by_law", "total")] == 0  # printed 2.其他法律行政止公开
    assert got[("reviews_litigation", "administrative_review", "upheld")] == 10
    assert got[("reviews_litigation", "administrative_review", "total")] == 0
    assert got[("reviews_litigation", "litigation_after_review", "upheld")] == 5
    assert got[("reviews_litigation", "litigation_after_review", "total")] == 0
    assert got[("proactive_disclosure", "fees", "amount")] == Decimal("7730.28")
    assert result.page_count == 5
    assert result.title == "洪泽区人民政府2023年政府信息公开工作年度报告"


def test_hongze_every_cell_and_block_has_page_and_bbox() -> None:
    doc = _hongze()
    assert doc.page_count == 5 and doc.source_format == "pdf" and not doc.problems
    assert doc.title_hint == "洪泽区人民政府2023年政府信息公开工作年度报告"  # UTF-16LE document info
    n_cells = 0
    for b in doc.blocks:
        if isinstance(b, Grid):
            assert b.positional and b.origin.page and b.origin.bbox
            for c in b.cells:
                n_cells += 1
                assert c.origin.page == b.origin.page, c
                x0, top, x1, bottom = c.origin.bbox or (0, 0, 0, 0)
                assert 0 <= x0 < x1 <= 595 and 0 <= top < bottom <= 842, c
        else:
            assert b.origin.page and b.origin.bbox, b
    assert n_cells > 150
    result = process_bytes(HONGZE.read_bytes(), str(HONGZE))
    assert result.cells and all(c.origin.page and c.origin.bbox for c in result.cells)


def test_hongze_structure() -> None:
    doc = _hongze()
    texts = [b.text for b in doc.blocks if isinstance(b, TextBlock)]
    # Page numbers ("- 3 -") are chrome; wrapped prose lines are one paragraph, also across a page break.
    assert not [t for t in texts if re.fullmatch(r"-\s*\d+\s*-", t)]
    assert any(t.startswith("加强区政府门户网站") and t.endswith("一律不准发布。") for t in texts)
    assert sorted(_headings(doc)) == [1, 2, 3, 4, 5, 6]
    spans = {s.section.number: s for s in segment(doc)}
    t2 = section_grids(doc, spans[3])
    assert [g.origin.page for g in t2] == [3, 4]  # one grid per page fragment
    cells = [c for g in t2 for c in g.cells]
    # A merged label cell is one Cell with its span, never repeated; a wrapped label is one cell text.
    group = [c for c in cells if normalize_label(c.text) == normalize_label("三、本年度办理结果")]
    assert len(group) == 1 and group[0].rowspan >= 10 and group[0].colspan == 1
    note = [c for c in cells if "勾稽关系" in c.text]
    assert len(note) == 1 and note[0].rowspan == 3 and note[0].colspan == 3
    partial = [c for c in cells if normalize_label(c.text) == normalize_label(
        "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")]
    assert len(partial) == 1
    assert len([c for c in cells if normalize_label(c.text) == "商业企业"]) == 1
    # The continuation's columns line up with the first fragment's header.
    head = next(c for c in cells if c.text == "总计")
    last_row = [c for c in t2[1].cells if c.row == max(c.row for c in t2[1].cells)]
    assert normalize_label(last_row[0].text) == normalize_label("四、结转下年度继续办理")
    assert max(c.col for c in last_row) == head.col
    # Text inside tables is not emitted again as text blocks.
    assert not [t for t in texts if "本年新收政府信息公开申请数量" in t]


# --------------------------------------------------------------------------------------------
# Generated PDFs (tests/fixtures/generated)
# --------------------------------------------------------------------------------------------

def test_generated_present() -> None:
    assert GENERATED, f"no generated PDFs in {GENERATED_DIR}: run tools/generate_fixtures.py"
    missing = [p.name for p in GENERATED if not p.with_suffix(".json").exists()]
    assert not missing, f"PDFs without gold: {missing}"


# The generated-PDF tests share _run's cache: the module runs on one test worker (make test-fast: --dist loadfile),
# so each PDF is parsed once.
@pytest.mark.parametrize("path", GENERATED, ids=[p.stem for p in GENERATED])
def test_generated_precision(path: Path) -> None:
    correct, wrong, n, mistakes, problems = _run(path)
    assert wrong == 0, (mistakes, problems)
    assert correct / n >= 0.95, (correct, n, problems)


def test_generated_recall_aggregated() -> None:
    assert GENERATED, "no generated PDFs"
    correct = total = 0
    low = []
    for path in GENERATED:
        c, _, n, _, problems = _run(path)
        correct += c
        total += n
        if c < n:
            low.append(f"{path.stem}: {c}/{n} {list(problems)[:3]}")
    assert correct / total >= 0.995, (correct, total, low)


@pytest.mark.parametrize("path", [p for p in GENERATED if "tblheader" in p.stem], ids=lambda p: p.stem)
def test_generated_repeated_header_dropped(path: Path) -> None:
    doc = read_pdf(path.read_bytes(), str(path))
    spans = {s.section.number: s for s in segment(doc)}
    grids = section_grids(doc, spans[3])
    assert len({g.origin.page for g in grids}) >= 2
    assert sum("申请人情况" in c.text for g in grids for c in g.cells) == 1


@pytest.mark.parametrize("path", [p for p in GENERATED if "fakebold" in p.stem], ids=lambda p: p.stem)
def test_generated_fake_bold_deduplicated(path: Path) -> None:
    doc = read_pdf(path.read_bytes(), str(path))
    assert sorted(_headings(doc)) == [1, 2, 3, 4, 5, 6]
    assert not any("总总" in b.text or "情情" in b.text for b in doc.blocks if isinstance(b, TextBlock))


# --------------------------------------------------------------------------------------------
# Small synthetic PDFs (reportlab, built in the test)
# --------------------------------------------------------------------------------------------

def _cjk_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _text_pdf(pages: list[list[str]], *, encrypt: Any = None, image_pages: tuple[int, ...] = (),
              latin: bool = False) -> bytes:
    """A PDF with one line of text per entry; pages listed in image_pages carry only an image (a scan)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    font = "Helvetica" if latin else _cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt, invariant=1)
    for i, lines in enumerate(pages):
        if i in image_pages:
            img = Image.new("L", (200, 280), 230)
            c.drawImage(ImageReader(img), 50, 50, 495, 742)
        c.setFont(font, 12)
        for k, line in enumerate(lines):
            c.drawString(72, 780 - 20 * k, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def _table_pdf(style: str, *, frame: bool = False) -> bytes:
    """A heading, a T1-like table with a merged cell and a wrapped label (style: grid / three_line / none),
    optionally inside a page frame with a boxed title."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _cjk_font()
    body = ParagraphStyle("b", fontName=font, fontSize=12, leading=18, wordWrap="CJK")
    cell = ParagraphStyle("c", fontName=font, fontSize=9, leading=11, wordWrap="CJK")
    data = [
        [Paragraph("第二十条第（一）项", cell), "", "", ""],
        [Paragraph("信息内容", cell), Paragraph("本年制发件数", cell), Paragraph("本年废止件数", cell),
         Paragraph("现行有效件数", cell)],
        [Paragraph("规章", cell), "1", "2", "3"],
        [Paragraph("行政规范性文件", cell), "4", "", "6"],  # wraps in the narrow label column
    ]
    cmds: list[tuple[Any, ...]] = [("SPAN", (0, 0), (3, 0)), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                   ("ALIGN", (1, 1), (-1, -1), "CENTER"), ("FONT", (0, 0), (-1, -1), font, 9)]
    if style == "grid":
        cmds.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
    elif style == "three_line":
        cmds += [("LINEABOVE", (0, 0), (-1, 0), 1.2, colors.black), ("LINEBELOW", (0, 1), (-1, 1), 0.6, colors.black),
                 ("LINEBELOW", (0, -1), (-1, -1), 1.2, colors.black)]
    table = Table(data, colWidths=[46, 90, 90, 90], style=TableStyle(cmds))

    def decorate(canv: Any, _doc: Any) -> None:
        canv.saveState()
        canv.setFont(font, 9)
        canv.drawCentredString(A4[0] / 2, 40, "- 1 -")
        if frame:
            canv.rect(30, 30, A4[0] - 60, A4[1] - 60)  # page frame
            canv.rect(150, 740, A4[0] - 300, 40)  # title box
        canv.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, invariant=1)
    doc.build([Paragraph("某县人民政府2023年政府信息公开工作年度报告", body), Spacer(1, 12),
               Paragraph("二、主动公开政府信息情况", body), table, Spacer(1, 12),
               Paragraph("三、收到和处理政府信息公开申请情况", body)], onFirstPage=decorate)
    return buf.getvalue()


@pytest.mark.parametrize("style, frame", [("grid", False), ("grid", True), ("three_line", False), ("none", False)])
def test_small_table(style: str, frame: bool) -> None:
    doc = read_pdf(_table_pdf(style, frame=frame), "t.pdf")
    grids = [b for b in doc.blocks if isinstance(b, Grid)]
    assert len(grids) == 1, [type(b).__name__ for b in doc.blocks]  # a frame or title box is not a table
    texts = [b.text for b in doc.blocks if isinstance(b, TextBlock)]
    assert texts[0] == "某县人民政府2023年政府信息公开工作年度报告"
    assert "- 1 -" not in texts
    grid = grids[0]
    labels = [c for c in grid.cells if c.text.startswith("行政规范")]
    assert len(labels) == 1 and normalize_label(labels[0].text) == "行政规范性文件", [c.text for c in grid.cells]
    from nianbao.extract.mapping import map_proactive

    spans = {s.section.number: s for s in segment(doc)}
    res = map_proactive(section_grids(doc, spans[2]))
    got = {(c.key1, c.key2): (c.value, c.kind) for c in res.cells}
    assert got[("rules", "issued")] == (Decimal(1), "number")
    assert got[("rules", "in_force")] == (Decimal(3), "number")
    if style == "grid":
        merged = [c for c in grid.cells if "第二十条" in c.text]
        assert len(merged) == 1 and merged[0].colspan == 4
        assert got[("normative_documents", "repealed")] == (None, "blank")  # printed blank, never 0
        assert got[("normative_documents", "in_force")] == (Decimal(6), "number")
    for c in res.cells:  # whatever is published is right
        assert got[(c.key1, c.key2)] in {("rules", "issued"): [(Decimal(1), "number")],
                                         ("rules", "repealed"): [(Decimal(2), "number")],
                                         ("rules", "in_force"): [(Decimal(3), "number")],
                                         ("normative_documents", "issued"): [(Decimal(4), "number")],
                                         ("normative_documents", "repealed"): [(None, "blank")],
                                         ("normative_documents", "in_force"): [(Decimal(6), "number")]}[
            (c.key1, c.key2)]


def test_running_header_watermark_and_page_numbers_are_dropped() -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    headings = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况"]
    for n in range(1, 4):
        c.setFont(font, 10)
        c.drawCentredString(A4[0] / 2, 810, "某县人民政府信息公开专栏")  # running header
        c.drawCentredString(A4[0] / 2, 30, f"第 {n} 页 共 3 页")
        c.saveState()
        c.setFillGray(0.88)  # light-grey watermark
        c.setFont(font, 60)
        c.drawCentredString(A4[0] / 2, 420, "内部资料")
        c.restoreState()
        c.setFont(font, 14)
        c.drawString(90, 700, headings[n - 1])
        c.showPage()
    c.save()
    doc = read_pdf(buf.getvalue(), "chrome.pdf")
    assert [b.text for b in doc.blocks] == headings
    assert [b.origin.page for b in doc.blocks] == [1, 2, 3]


def _raw_pdf(content: bytes, fonts: dict[str, bytes], extra: list[bytes]) -> bytes:
    """A minimal hand-written one-page PDF (objects 1-4 fixed, fonts and extra objects from 5)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"]
    font_refs = b" ".join(b"/" + name.encode() + b" " + ref for name, ref in fonts.items())
    objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << " + font_refs
                + b" >> >> /Contents 4 0 R >>")
    objs.append(b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream")
    objs.extend(extra)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


_TYPE0_NO_TOUNICODE = [
    b"<< /Type /Font /Subtype /Type0 /BaseFont /NoSuchCJKFont /Encoding /Identity-H /DescendantFonts [6 0 R] >>",
    b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NoSuchCJKFont "
    b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]


def _cid_pdf(n_cid: int, latin: str) -> bytes:
    glyphs = "".join(f"{i + 17:04X}" for i in range(n_cid)).encode()
    content = b"BT /F1 12 Tf 72 760 Td <" + glyphs + b"> Tj ET"
    if latin:
        content += b"\nBT /F2 12 Tf 72 700 Td (" + latin.encode() + b") Tj ET"
    return _raw_pdf(content, {"F1": b"5 0 R", "F2": b"7 0 R"}, _TYPE0_NO_TOUNICODE)


def test_unmapped_font_everywhere_raises() -> None:
    with pytest.raises(UnreadableFontError):
        read_pdf(_cid_pdf(30, ""), "cid.pdf")


def test_a_few_unmapped_glyphs_are_replacement_characters() -> None:
    doc = read_pdf(_cid_pdf(2, "Annual report text of the county government 12345 " * 2), "cid2.pdf")
    assert [p.code for p in doc.problems] == ["unreadable_font"] and doc.problems[0].page == 1
    text = " ".join(b.text for b in doc.blocks if isinstance(b, TextBlock))
    assert "\ufffd" in text and "(cid:" not in text and "Annual report" in text


def _encryption(user: str) -> Any:
    from reportlab.lib.pdfencrypt import StandardEncryption

    return StandardEncryption(user, ownerPassword="owner-secret", strength=128)


# reportlab leaves the CIDSystemInfo strings of its built-in CJK fonts unencrypted, so encrypted test
# files use Helvetica.
def test_encrypted_with_user_password() -> None:
    data = _text_pdf([["Annual report 2023"]], encrypt=_encryption("nianbao"), latin=True)
    with pytest.raises(EncryptedPdfError):
        read_pdf(data, "enc.pdf")
    with pytest.raises(EncryptedPdfError):
        read_pdf(data, "enc.pdf", password="wrong")
    doc = read_pdf(data, "enc.pdf", password="nianbao")
    assert [b.text for b in doc.blocks] == ["Annual report 2023"]


def test_encrypted_with_empty_user_password_opens() -> None:
    doc = read_pdf(_text_pdf([["Annual report 2023"]], encrypt=_encryption(""), latin=True), "owner-only.pdf")
    assert [b.text for b in doc.blocks] == ["Annual report 2023"]


def test_scan_page_is_a_problem_and_all_scans_raise() -> None:
    doc = read_pdf(_text_pdf([["一、总体情况", "正文"], []], image_pages=(1,)), "mixed.pdf")
    assert doc.page_count == 2
    assert [(p.code, p.page) for p in doc.problems] == [("needs_ocr", 2)]
    assert all(b.origin.page == 1 for b in doc.blocks)
    with pytest.raises(NeedsOcrError):
        read_pdf(_text_pdf([[], []], image_pages=(0, 1)), "scan.pdf")
    # A scan with a page number stamped as text is still a scan.
    with pytest.raises(NeedsOcrError):
        read_pdf(_text_pdf([["- 1 -"], ["- 2 -"]], image_pages=(0, 1)), "stamped.pdf")
    doc = read_pdf(_text_pdf([["一、总体情况", "正文"], ["- 2 -"]], image_pages=(1,)), "mixed2.pdf")
    assert [(p.code, p.page) for p in doc.problems] == [("needs_ocr", 2)]


def test_page_limit() -> None:
    data = _text_pdf([["第一页"], ["第二页"], ["第三页"]])
    assert read_pdf(data, "p.pdf", max_pages=3).page_count == 3
    with pytest.raises(PageLimitError):
        read_pdf(data, "p.pdf", max_pages=2)


@pytest.mark.parametrize("data, exc", [
    (b"", EmptyFileError),
    (b"This is a text file, not a PDF.\n" * 20, CorruptFileError),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog", CorruptFileError),
], ids=["empty", "not-a-pdf", "header-only"])
def test_unreadable_bytes(data: bytes, exc: type[NianbaoError]) -> None:
    with pytest.raises(exc):
        read_pdf(data, "bad.pdf")


def test_truncated_pdf() -> None:
    data = _text_pdf([["一、总体情况"] * 30] * 3)
    with pytest.raises(CorruptFileError):
        read_pdf(data[: len(data) // 2], "half.pdf")


# --------------------------------------------------------------------------------------------
# Bad inputs from tests/fixtures/bad (when the generator has written them)
# --------------------------------------------------------------------------------------------

_BAD_ERRORS: dict[str, type[NianbaoError]] = {
    "no_text_layer": NeedsOcrError, "encrypted": EncryptedPdfError, "truncated": CorruptFileError,
    "empty": EmptyFileError, "not_a_pdf": CorruptFileError, "no_tounicode": UnreadableFontError,
}


@pytest.mark.parametrize("name", sorted(BAD_EXPECTED), ids=sorted(BAD_EXPECTED))
def test_bad_fixture(name: str) -> None:
    spec = BAD_EXPECTED[name]
    assert spec["problem"] in _BAD_ERRORS, f"unknown bad-input kind {spec['problem']!r}: add it to _BAD_ERRORS"
    data = (BAD_DIR / name).read_bytes()
    with pytest.raises(_BAD_ERRORS[spec["problem"]]):
        read_pdf(data, name)
    if spec.get("user_password"):
        doc = read_pdf(data, name, password=spec["user_password"])
        assert doc.page_count and any(isinstance(b, Grid) for b in doc.blocks)
    # The pipeline turns the error into a failed result (OCR off: a scan is OCR'd otherwise, test_ocr.py).
    result = process_bytes(data, name, ocr=False)
    assert result.status == "failed" and result.error, (result.status, result.error)
    if spec["problem"] != "not_a_pdf":  # without a %PDF header the pipeline does not route it to read_pdf
        assert result.error == _BAD_ERRORS[spec["problem"]].code
