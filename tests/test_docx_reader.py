"""DOCX and legacy (.doc via LibreOffice) readers: merged cells, golden values, converter errors."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from nianbao.errors import ConverterMissingError, CorruptFileError, EmptyFileError, EncryptedDocumentError
from nianbao.extract.mapping import map_applications, map_proactive, map_reviews
from nianbao.model import Document, Grid, TextBlock
from nianbao.read.docx import read_docx
from nianbao.read.legacy import convert_with_libreoffice, read_legacy
from nianbao.results import CellValue
from nianbao.segment import section_grids, segment
from nianbao.template import APPLICANTS, TABLES

GENERATED = Path(__file__).parent / "fixtures" / "generated"
GENERATED_DOCX = sorted(GENERATED.glob("*.docx"))

Key = tuple[str, str, str]


# --- helpers ----------------------------------------------------------------------------------

def docx_bytes(d: Any) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def extract(doc: Document) -> dict[Key, CellValue]:
    """Run segmentation and the three table mappers on a document; return its cells by key."""
    spans = {s.section.number: s for s in segment(doc)}
    out: dict[Key, CellValue] = {}
    for number, mapper in ((2, map_proactive), (3, map_applications), (4, map_reviews)):
        grids = section_grids(doc, spans[number]) if number in spans else []
        for c in mapper(grids).cells:
            out[(c.table, c.key1, c.key2)] = c
    return out


def gold_cells(path: Path) -> dict[Key, Any]:
    gold = json.loads(path.with_suffix(".json").read_text("utf-8"))
    return {(c["table"], c["key1"], c["key2"]): c["value"] for c in gold["cells"]}


def same_value(got: CellValue, want: Any) -> bool:
    if want is None:
        return got.value is None
    return got.value is not None and got.value == Decimal(str(want))


def score(got: dict[Key, CellValue], gold: dict[Key, Any]) -> tuple[int, int, int, list[str]]:
    """Return (correct, extracted, gold count, descriptions of the differences)."""
    correct, diffs = 0, []
    for k, cell in got.items():
        if k in gold and same_value(cell, gold[k]):
            correct += 1
        else:
            diffs.append(f"{k}: got {cell.raw!r}, gold {gold.get(k, '<not in gold>')!r}")
    diffs += [f"{k}: missing, gold {v!r}" for k, v in gold.items() if k not in got]
    return correct, len(got), len(gold), diffs


def one_grid(doc: Document) -> Grid:
    grids = [b for b in doc.blocks if isinstance(b, Grid)]
    assert len(grids) == 1
    return grids[0]


# --- the official T2 layout built with cell.merge() ---------------------------------------------

# (group label or None, item label, row key) in the printed order of the 2021 template's outcome rows.
T2_GROUPS: list[tuple[str | None, list[tuple[str, str]]]] = [
    (None, [("（一）予以公开", "granted")]),
    (None, [("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "partially_granted")]),
    ("（三）不予公开", [("1.属于国家秘密", "denied_state_secret"),
                  ("2.其他法律行政法规禁止公开", "denied_prohibited_by_law"),
                  ("3.危及“三安全一稳定”", "denied_security_stability"),
                  ("4.保护第三方合法权益", "denied_third_party_rights"),
                  ("5.属于三类内部事务信息", "denied_internal_affairs"),
                  ("6.属于四类过程性信息", "denied_process_information"),
                  ("7.属于行政执法案卷", "denied_enforcement_files"),
                  ("8.属于行政查询事项", "denied_inquiry_matters")]),
    ("（四）无法提供", [("1.本机关不掌握相关政府信息", "unavailable_not_held"),
                  ("2.没有现成信息需要另行制作", "unavailable_needs_creation"),
                  ("3.补正后申请内容仍不明确", "unavailable_unclear")]),
    ("（五）不予处理", [("1.信访举报投诉类申请", "not_processed_complaint"),
                  ("2.重复申请", "not_processed_duplicate"),
                  ("3.要求提供公开出版物", "not_processed_publication"),
                  ("4.无正当理由大量反复申请", "not_processed_excessive"),
                  ("5.要求行政机关确认或重新出具已获取信息", "not_processed_confirmation")]),
    ("（六）其他处理", [("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "other_no_correction"),
                  ("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "other_no_fee_paid"),
                  ("3.其他", "other_other")]),
    (None, [("（七）总计", "total_handled")]),
]
N_OUTCOME_ROWS = sum(len(items) for _, items in T2_GROUPS)  # 22: 21 handling results + (七)总计


def t2_value(row_index: int, col: int) -> str:
    return str(row_index * 10 + col)


@functools.cache
def build_t2_docx() -> tuple[bytes, dict[tuple[str, str], str]]:
    """Return a DOCX holding section 3 with the 2021 T2 in the official merged layout, and its values by key."""
    d = docx.Document()
    d.add_paragraph("三、收到和处理政府信息公开申请情况")
    n_rows = 3 + 2 + N_OUTCOME_ROWS + 1
    t = d.add_table(rows=n_rows, cols=10)
    t.style = "Table Grid"
    # Cell objects taken once before any merge (Table.cell() re-reads the whole grid on every call).
    # Merged regions never overlap, so each region's corner cells stay valid until it is merged.
    at = [list(row.cells) for row in t.rows]

    def put(r: int, c: int, text: str, rs: int = 1, cs: int = 1) -> None:
        cell = at[r][c]
        if rs > 1 or cs > 1:
            cell = cell.merge(at[r + rs - 1][c + cs - 1])
        cell.text = text

    put(0, 0, "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", rs=3, cs=3)
    put(0, 3, "申请人情况", cs=7)
    put(1, 3, "自然人", rs=2)
    put(1, 4, "法人或其他组织", cs=5)
    put(1, 9, "总计", rs=2)
    for i, h in enumerate(["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]):
        put(2, 4 + i, h)
    values: dict[tuple[str, str], str] = {}

    def row_values(r: int, key: str) -> None:
        for i, col in enumerate(APPLICANTS):
            values[(key, col.key)] = t2_value(r, i)
            put(r, 3 + i, t2_value(r, i))

    put(3, 0, "一、本年新收政府信息公开申请数量", cs=3)
    row_values(3, "new_received")
    put(4, 0, "二、上年结转政府信息公开申请数量", cs=3)
    row_values(4, "carried_over")
    put(5, 0, "三、本年度办理结果", rs=N_OUTCOME_ROWS)
    r = 5
    for group, items in T2_GROUPS:
        if group is None:
            put(r, 1, items[0][0], cs=2)
            row_values(r, items[0][1])
            r += 1
            continue
        put(r, 1, group, rs=len(items))
        for label, key in items:
            put(r, 2, label)
            row_values(r, key)
            r += 1
    put(r, 0, "四、结转下年度继续办理", cs=3)
    row_values(r, "carried_forward")
    assert r == n_rows - 1
    d.add_paragraph("四、政府信息公开行政复议、行政诉讼情况")
    return docx_bytes(d), values


def test_merged_cells_are_one_cell() -> None:
    data, _ = build_t2_docx()
    # The trap this reader avoids: python-docx repeats a merged cell at every grid position.
    row_one = docx.Document(io.BytesIO(data)).tables[0].rows[3]
    assert len(row_one.cells) == 10 and len({id(c._tc) for c in row_one.cells}) == 8

    grid = one_grid(read_docx(data))
    assert grid.positional and grid.n_cols == 10 and grid.n_rows == 3 + 2 + N_OUTCOME_ROWS + 1
    result_cells = [c for c in grid.cells if c.text == "三、本年度办理结果"]
    assert len(result_cells) == 1
    assert (result_cells[0].row, result_cells[0].col, result_cells[0].rowspan, result_cells[0].colspan) == (
        5, 0, N_OUTCOME_ROWS, 1)
    first = [c for c in grid.cells if c.row == 3]
    assert len(first) == 8
    assert (first[0].text, first[0].colspan) == ("一、本年新收政府信息公开申请数量", 3)
    assert [c.col for c in first] == [0, 3, 4, 5, 6, 7, 8, 9]
    # Every text occurs exactly once: no merged cell is repeated.
    texts = [c.text for c in grid.cells if c.text]
    assert len(texts) == len(set(texts))
    corner = next(c for c in grid.cells if c.text.startswith("（本列数据"))
    assert (corner.row, corner.col, corner.rowspan, corner.colspan) == (0, 0, 3, 3)
    group = next(c for c in grid.cells if c.text == "（三）不予公开")
    assert (group.col, group.rowspan, group.colspan) == (1, 8, 1)
    # No two cells overlap.
    covered = [(r, c) for cell in grid.cells for r in range(cell.row, cell.row + cell.rowspan)
               for c in range(cell.col, cell.col + cell.colspan)]
    assert len(covered) == len(set(covered)) == grid.n_rows * grid.n_cols


def test_t2_layout_maps_every_value() -> None:
    data, values = build_t2_docx()
    result = map_applications([one_grid(read_docx(data))])
    assert result.version == "2021"
    assert not [p for p in result.problems if p.severity == "error"], result.problems
    got = {(c.key1, c.key2): c.raw for c in result.cells}
    assert len(got) == len(TABLES[("applications", "2021")].rows) * 7 == 175
    assert got == values


def test_body_order_text_and_nesting() -> None:
    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "页眉文字"
    d.sections[0].footer.paragraphs[0].text = "— 1 —"
    d.add_paragraph("第一段")
    d.add_paragraph("")
    d.add_paragraph("   ")
    p = d.add_paragraph("第")
    p.add_run("二").add_break()
    p.add_run("段")
    t = d.add_table(rows=1, cols=2)
    cell = t.cell(0, 0)
    cell.paragraphs[0].text = "商业"
    cell.add_paragraph("企业")
    inner = t.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "嵌"
    inner.cell(0, 1).text = "套"
    d.add_paragraph("尾段")
    doc = read_docx(docx_bytes(d))
    assert doc.source_format == "docx"
    kinds = [type(b).__name__ for b in doc.blocks]
    assert kinds == ["TextBlock", "TextBlock", "Grid", "TextBlock"]
    texts = [b for b in doc.blocks if isinstance(b, TextBlock)]
    assert [b.text for b in texts] == ["第一段", "第二\n段", "尾段"]
    assert [b.origin.line for b in texts] == [1, 4, 5]
    grid = one_grid(doc)
    assert [c.text for c in grid.cells] == ["商业企业", "嵌套"]
    assert all("页眉" not in b.text and "—" not in b.text for b in texts)


def test_grid_before_after_and_tracked_deletions() -> None:
    d = docx.Document()
    t = d.add_table(rows=2, cols=3)
    for r in range(2):
        for c in range(3):
            t.cell(r, c).text = f"{r}{c}"
    # Row 1 starts one grid column later (w:gridBefore) and has only two cells.
    tr = t.rows[1]._tr
    tr.remove(tr.tc_lst[0])
    tr_pr = tr.get_or_add_trPr()
    before = OxmlElement("w:gridBefore")
    before.set(qn("w:val"), "1")
    tr_pr.append(before)
    # A tracked deletion in cell (0,0) is not printed text.
    p = t.cell(0, 0).paragraphs[0]._p
    deleted = OxmlElement("w:del")
    run = OxmlElement("w:r")
    del_text = OxmlElement("w:delText")
    del_text.text = "XX"
    run.append(del_text)
    deleted.append(run)
    p.append(deleted)
    grid = one_grid(read_docx(docx_bytes(d)))
    assert [(c.text, c.row, c.col) for c in grid.cells] == [
        ("00", 0, 0), ("01", 0, 1), ("02", 0, 2), ("11", 1, 1), ("12", 1, 2)]


@pytest.mark.parametrize("data, exc, words", [
    (b"", EmptyFileError, "empty"),
    (b"not a zip at all", CorruptFileError, "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 600,
     EncryptedDocumentError, "encrypted Office document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1200, CorruptFileError, "legacy"),
])
def test_bad_input(data: bytes, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=words):
        read_docx(data, "bad.docx")


def test_zip_without_document_part() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(CorruptFileError, match="DOCX"):
        read_docx(buf.getvalue(), "x.docx")
    truncated = build_t2_docx()[0][:3000]
    with pytest.raises(CorruptFileError):
        read_docx(truncated, "truncated.docx")


# --- golden: the generated DOCX fixtures -------------------------------------------------------

def test_generated_docx_fixtures_exist() -> None:
    assert GENERATED_DOCX, f"no generated DOCX fixtures in {GENERATED}: run tools/generate_fixtures.py"


@pytest.mark.parametrize("path", GENERATED_DOCX, ids=[p.stem for p in GENERATED_DOCX])
def test_generated_docx_golden(path: Path) -> None:
    correct, extracted, n_gold, diffs = score(extract(read_docx(path.read_bytes(), path.name)), gold_cells(path))
    assert correct == extracted, f"{extracted - correct} wrong cells: {diffs[:10]}"
    assert correct >= 0.995 * n_gold, f"recall {correct}/{n_gold}: {diffs[:10]}"


def test_generated_docx_overall_precision_recall() -> None:
    if not GENERATED_DOCX:
        pytest.fail(f"no generated DOCX fixtures in {GENERATED}")
    correct = extracted = n_gold = 0
    for path in GENERATED_DOCX:
        c, e, g, _ = score(extract(read_docx(path.read_bytes(), path.name)), gold_cells(path))
        correct, extracted, n_gold = correct + c, extracted + e, n_gold + g
    assert extracted and correct / extracted == 1.0, f"precision {correct}/{extracted}"
    assert correct / n_gold >= 0.995, f"recall {correct}/{n_gold}"


# --- legacy formats via LibreOffice --------------------------------------------------------------

def _soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.fail("LibreOffice (soffice) is not on PATH; the setup installs it: "
                    "apt-get install -y --no-install-recommends libreoffice-writer-nogui")
    return exe


@pytest.mark.slow
def test_doc_made_by_libreoffice_reads_back(tmp_path: Path) -> None:
    exe = _soffice()
    if not GENERATED_DOCX:
        pytest.fail(f"no generated DOCX fixtures in {GENERATED}")
    src = GENERATED_DOCX[0]
    shutil.copy(src, tmp_path / "report.docx")
    subprocess.run([exe, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--norestore",
                    "--convert-to", "doc", "--outdir", str(tmp_path), str(tmp_path / "report.docx")],
                   check=True, capture_output=True, timeout=180, env=dict(os.environ, HOME=str(tmp_path)))
    data = (tmp_path / "report.doc").read_bytes()
    assert data.startswith(b"\xd0\xcf\x11\xe0"), "soffice did not write an OLE .doc"
    doc = read_legacy(data, ".doc", "report.doc")
    assert doc.source_format == "doc"
    got = extract(doc)
    from_docx = extract(read_docx(src.read_bytes()))
    assert {k: c.value for k, c in got.items()} == {k: c.value for k, c in from_docx.items()}
    correct, extracted, n_gold, diffs = score(got, gold_cells(src))
    assert correct == extracted == n_gold, diffs[:10]


@pytest.mark.slow
def test_rtf_converts() -> None:
    _soffice()
    rtf = (r"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0 SimSun;}}\f0 "
           r"\u19968?\u12289?\u24635?\u20307?\u24773?\u20917?\par "  # 一、总体情况
           r"\trowd\cellx2000\cellx4000 A1\cell 12\cell\row }")
    doc = read_legacy(rtf.encode("ascii"), ".rtf", "x.rtf")
    assert doc.source_format == "doc"
    assert any(isinstance(b, TextBlock) and b.text == "一、总体情况" for b in doc.blocks)
    assert [c.text for c in one_grid(doc).cells] == ["A1", "12"]


def test_garbage_doc_is_corrupt() -> None:
    with pytest.raises(CorruptFileError, match="OLE"):
        read_legacy(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x07" * 4000, ".doc", "garbage.doc")


@pytest.mark.slow
def test_truncated_doc_is_corrupt(tmp_path: Path) -> None:
    exe = _soffice()
    (tmp_path / "a.rtf").write_text(r"{\rtf1\ansi " + r"\par ".join(f"line {i}" for i in range(400)) + "}")
    subprocess.run([exe, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--norestore",
                    "--convert-to", "doc", "--outdir", str(tmp_path), str(tmp_path / "a.rtf")],
                   check=True, capture_output=True, timeout=180, env=dict(os.environ, HOME=str(tmp_path)))
    data = (tmp_path / "a.doc").read_bytes()
    assert read_legacy(data, ".doc", "a.doc").blocks
    with pytest.raises(CorruptFileError, match="could not convert"):
        convert_with_libreoffice(data[: len(data) // 2], ".doc", "truncated.doc", timeout=90)


def test_converter_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConverterMissingError, match="install LibreOffice"):
        convert_with_libreoffice(b"{\\rtf1 fake}", ".rtf", "x.rtf")
    with pytest.raises(ConverterMissingError):
        read_legacy(b"{\\rtf1 fake}", ".rtf", "x.rtf")


def test_converter_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "soffice"
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CorruptFileError, match="within"):
        convert_with_libreoffice(b"{\\rtf1 fake}", ".rtf", "x.rtf", timeout=0.5)


def test_docx_under_doc_suffix_is_read_directly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no converter needed
    data, _ = build_t2_docx()
    doc = read_legacy(data, ".doc", "misnamed.doc")
    assert doc.source_format == "docx" and one_grid(doc).n_cols == 10


def test_tracked_deleted_row_is_skipped() -> None:
    d = docx.Document()
    t = d.add_table(rows=3, cols=2)
    for r in range(3):
        for c in range(2):
            t.cell(r, c).text = f"{r}{c}"
    t.rows[1]._tr.get_or_add_trPr().append(OxmlElement("w:del"))
    grid = one_grid(read_docx(docx_bytes(d)))
    assert [(c.text, c.row) for c in grid.cells] == [("00", 0), ("01", 0), ("20", 1), ("21", 1)]
