"""Reliability (issue 5): every bad input is accounted for — published, or recorded as a failed report
with an error code and a message that says what to do — and the batch goes on.

Each bad-input test runs a small batch (two good reports around the bad one) through the pure core —
``sources.read_item`` → ``process_bytes`` → ``drop_duplicates``/``assign_years`` → ``build_frames`` →
``validate_frames`` → ``write_partitions`` — and checks the published ``reports`` row of the bad input and
that the good ones are published. The builders of the bad inputs are reused by tests/test_mixed_batch.py.
The table in docs/reliability.md maps each case to its test.

The kill-during-publish loop and concurrent runs are tested in tests/test_publish.py, not here.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from conftest import CORPUS, FIXTURES, ROOT

from nianbao import errors
from nianbao.batch.plan import assign_years, drop_duplicates, summarize, summary_markdown
from nianbao.errors import NianbaoError
from nianbao.ingest.sources import RefusedSourceError, SourceItem, expand_sources, read_item, read_local, read_manifest
from nianbao.pipeline import fail, process_bytes
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, validate_frames, write_partitions
from nianbao.results import ReportResult
from nianbao.settings import Settings

RELIABILITY = FIXTURES / "reliability"
SAMPLES = ROOT / "data" / "samples"
GOOD_A = CORPUS / "seed-000-mulan-liuhe-2022.txt"
GOOD_B = CORPUS / "seed-001-nuomin-2022.txt"
OTHER_YEAR = CORPUS / "seed-002-youyi-xinzhen-2021.txt"
HTML_REPORT = CORPUS / "real-shanghai-office-2019.html"
SMALL_PDF = RELIABILITY / "small-report.pdf"  # seed-002 typeset by make_fixtures.py (3 pages, 2021)
REAL_PDF = SAMPLES / "real-hongze-2023.pdf"
MB = 1 << 20


# =========================================================================================================
# The pure batch: what the flow does, without Prefect (same functions, same order)
# =========================================================================================================

def failed_input(uri: str, exc: Exception) -> ReportResult:
    """The failed result of an input whose bytes were not read (refused, too large, unreadable)."""
    result = ReportResult(report_id=hashlib.sha256(f"unfetched:{uri}".encode()).hexdigest(), source_uri=uri,
                          source_format=None, source_bytes=0)
    return fail(result, exc)


def process_item(item: SourceItem, settings: Settings) -> ReportResult:
    try:
        data = read_item(item, settings.max_file_bytes)
    except (NianbaoError, OSError) as exc:
        return failed_input(item.uri, exc)
    return process_bytes(data, item.uri, max_file_bytes=settings.max_file_bytes, max_pages=settings.max_pages)


@dataclass
class Batch:
    results: list[ReportResult]
    out: Path

    def dataset(self, name: str) -> pl.DataFrame:
        return read_dataset(self.out, name)

    def report(self, uri: str | Path) -> dict:
        rows = self.dataset("reports").filter(pl.col("source_uri") == str(uri)).to_dicts()
        if not rows:  # held back (a report of another year, or of unknown year): in no partition, on its result
            held = [r for r in self.results if r.source_uri == str(uri)]
            assert len(held) == 1, f"{uri} is not accounted for exactly once: {held}"
            r = held[0]
            return {"report_id": r.report_id, "report_year": None, "status": r.status, "error": r.error,
                    "error_message": r.error_message, "n_cells": len(r.cells), "held_back": True}
        assert len(rows) == 1, f"{uri} is not accounted for exactly once: {rows}"
        return rows[0]


def run_batch(items: list[SourceItem] | list[Path], out: Path, *, year: int | None = 2022,
              settings: Settings | None = None, batch_id: str = "b1") -> Batch:
    """Process inputs with the pure core and publish them; return the results and where they went."""
    cfg = settings or Settings()
    items = [it if isinstance(it, SourceItem) else SourceItem(str(it), year=year) for it in items]
    results = drop_duplicates([process_item(it, cfg) for it in items])
    plan = assign_years(results, year)
    lin = Lineage(batch_id, None)
    frames = validate_frames(build_frames(results, plan.year_of, lin), lin, "test")
    write_partitions(frames, out, plan.years, batch_id)
    return Batch(results, out)


def inbox_with(tmp_path: Path, bad: dict[str, bytes]) -> tuple[Path, list[Path]]:
    """An inbox holding the two good reports and the given bad files; return it and the file list."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    files = [inbox / "good-a.txt"]
    shutil.copy(GOOD_A, files[0])
    for name, data in bad.items():
        (inbox / name).write_bytes(data)
        files.append(inbox / name)
    files.append(inbox / "good-b.txt")
    shutil.copy(GOOD_B, files[-1])
    return inbox, files


def assert_goes_on(batch: Batch, inbox: Path) -> None:
    """The two good reports around the bad input were published with their cells."""
    for name in ("good-a.txt", "good-b.txt"):
        row = batch.report(inbox / name)
        assert row["status"] == "ok" and row["error"] is None and row["n_cells"] > 100, row
        assert batch.dataset("applications").filter(pl.col("report_id") == row["report_id"]).height > 0


def assert_recorded(row: dict, code: str, *advice: str) -> None:
    """A failed report with its code, and a message that says which report and what to do."""
    assert row["status"] == "failed", row
    assert row["error"] == code, (row["error"], row["error_message"])
    msg = row["error_message"] or ""
    assert msg, row
    for words in advice:
        assert words in msg, f"{words!r} not in {msg!r}"
    assert row["n_cells"] == 0


def bad_case(tmp_path: Path, name: str, data: bytes, code: str, *advice: str, year: int | None = 2022,
             settings: Settings | None = None) -> dict:
    inbox, files = inbox_with(tmp_path, {name: data})
    batch = run_batch(files, tmp_path / "out", year=year, settings=settings)
    assert_goes_on(batch, inbox)
    row = batch.report(inbox / name)
    assert_recorded(row, code, *advice)
    return row


def cells_of(result: ReportResult) -> list[tuple[str, str, str, object, str]]:
    return sorted((c.table, c.key1, c.key2, c.value, c.kind) for c in result.cells)


# =========================================================================================================
# Builders of bad inputs (also used by test_mixed_batch.py)
# =========================================================================================================

def zero_byte() -> bytes:
    return b""


def truncated_pdf() -> bytes:
    data = REAL_PDF.read_bytes()
    return data[: len(data) // 2]


def garbage_pdf() -> bytes:
    rng = random.Random(5)
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(rng.randrange(256) for _ in range(20000))


def broken_page_tree_pdf() -> bytes:
    """Found by the PDF fuzzer: 19 bytes cut from the page dictionary of small-report.pdf leave pages
    without a MediaBox; pdfplumber's ``close()`` then re-raises while the reader handles the error."""
    data = bytearray(SMALL_PDF.read_bytes())
    del data[247:266]
    return bytes(data)


def encrypted_pdf(user_password: str, algorithm: str = "AES-128", source: Path = SMALL_PDF) -> bytes:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(source.read_bytes())))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm,
                   permissions_flag=-3904)  # print only, no copying: what most sites set
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@cache
def many_pages_pdf(pages: int = 3000) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(72, 72), invariant=1)
    for i in range(pages):
        c.drawString(8, 30, str(i + 1))
        c.showPage()
    c.save()
    return buf.getvalue()


def spinning_pdf(depth: int = 40, fanout: int = 4) -> bytes:
    """An 8 KB PDF whose one page never finishes in pdfminer: form XObject ``X0`` draws ``X1`` four times,
    which draws ``X2`` four times … ``4**39`` text draws. pdfminer interprets every one (no memo, no cap):
    a "billion laughs" in PDF. Nothing here is a test hook; any pdfminer-based reader spins on it."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> /XObject << /X0 6 0 R >> >> >>"]
    page = b"BT /F1 12 Tf 10 10 Td (report) Tj ET /X0 Do"
    objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(page), page))
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(depth):
        if i + 1 < depth:
            body, res = b" ".join([b"/X Do"] * fanout), b"/XObject << /X %d 0 R >>" % (7 + i)
        else:
            body, res = b"BT /F1 1 Tf (x) Tj ET", b"/Font << /F1 5 0 R >>"
        objs.append(b"<< /Type /XObject /Subtype /Form /BBox [0 0 200 200] /Resources << %s >> /Length %d >>\n"
                    b"stream\n%s\nendstream" % (res, len(body), body))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and would take long to read)."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def zip_archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def wrap_html(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html>\n<html><head>{head}<title>年度报告</title></head><body>\n{body}\n</body></html>\n"


NOT_REPORTS = {
    "government-work-report-2023.txt": RELIABILITY / "government-work-report-2023.txt",
    "notice-2023.txt": RELIABILITY / "notice-2023.txt",
    "disclosure-guide.html": RELIABILITY / "disclosure-guide.html",
}


# =========================================================================================================
# 1. Bad input
# =========================================================================================================

@pytest.mark.parametrize("data", [b"", b"   \r\n\t\n", b"\xef\xbb\xbf\n"],
                         ids=["zero-byte", "blank", "bom-only"])
def test_zero_byte_file_is_recorded_empty_and_the_batch_goes_on(tmp_path: Path, data: bytes) -> None:
    bad_case(tmp_path, "empty.pdf", data, "empty_file", "re-download")


def test_truncated_pdf_is_recorded_corrupt(tmp_path: Path) -> None:
    bad_case(tmp_path, "truncated.pdf", truncated_pdf(), "corrupt", "truncated or damaged", "re-download")


@pytest.mark.parametrize("cut", [0.01, 0.25, 0.75, 0.99])
def test_a_pdf_cut_anywhere_is_never_read_as_a_whole_report(cut: float) -> None:
    data = REAL_PDF.read_bytes()
    r = process_bytes(data[: int(len(data) * cut)], "cut.pdf")
    assert r.status == "failed" and r.error == "corrupt" and not r.cells


def test_garbage_pdf_is_recorded_corrupt(tmp_path: Path) -> None:
    bad_case(tmp_path, "garbage.pdf", garbage_pdf(), "corrupt", "re-download")


def test_pdf_with_an_unreadable_page_tree_is_recorded_corrupt_not_internal_error() -> None:
    """Regression for a fuzzer finding (see ``broken_page_tree_pdf``)."""
    r = process_bytes(broken_page_tree_pdf(), "broken-tree.pdf")
    assert (r.status, r.error) == ("failed", "corrupt"), r.error_message


def test_encrypted_pdf_with_a_user_password_is_recorded_encrypted(tmp_path: Path) -> None:
    bad_case(tmp_path, "encrypted.pdf", encrypted_pdf("nianbao"), "encrypted", "password", "unencrypted copy")


def test_encrypted_pdf_made_by_reportlab_is_recorded_encrypted() -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt=StandardEncryption("secret", ownerPassword="owner", canPrint=1, canCopy=0))
    c.drawString(72, 720, "2022 report")
    c.showPage()
    c.save()
    r = process_bytes(buf.getvalue(), "rl-encrypted.pdf")
    assert (r.status, r.error) == ("failed", "encrypted")


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_encrypted_pdf_with_an_empty_user_password_is_read_normally(algorithm: str) -> None:
    """Most "encrypted" PDFs on government sites only restrict copying (owner password, empty user
    password): they open without a password and must be read like the unencrypted file."""
    plain = process_bytes(SMALL_PDF.read_bytes(), "plain.pdf")
    assert plain.status == "ok" and len(plain.cells) > 150
    r = process_bytes(encrypted_pdf("", algorithm), "copy-protected.pdf")
    assert (r.status, r.error) == ("ok", None), r.error_message
    assert cells_of(r) == cells_of(plain)
    assert r.report_year == plain.report_year == 2021


def test_pdf_with_thousands_of_pages_hits_the_page_limit_quickly(tmp_path: Path) -> None:
    data = many_pages_pdf(3000)
    started = time.perf_counter()
    row = bad_case(tmp_path, "3000-pages.pdf", data, "page_limit", "3000 pages", "max_pages")
    assert time.perf_counter() - started < 60
    assert row["source_format"] == "pdf"


def test_page_limit_is_configurable() -> None:
    assert process_bytes(SMALL_PDF.read_bytes(), "s.pdf", max_pages=2).error == "page_limit"
    assert process_bytes(SMALL_PDF.read_bytes(), "s.pdf", max_pages=3).status == "ok"


@pytest.mark.slow  # reads all 3000 pages
def test_page_limit_can_be_raised_above_the_default() -> None:
    assert process_bytes(many_pages_pdf(3000), "big.pdf", max_pages=5000).error != "page_limit"


@pytest.mark.slow
def test_a_page_that_makes_pdfminer_spin_is_cut_off_by_the_time_limit(tmp_path: Path) -> None:
    """The real spinning page (``spinning_pdf``) in the flow's per-report isolation: the child is killed
    after ``report_timeout_seconds`` and the report recorded as ``timeout``; the next report is parsed."""
    from nianbao.runtime.isolation import process_isolated

    path = tmp_path / "spinning.pdf"
    path.write_bytes(spinning_pdf())
    started = time.perf_counter()
    r = process_isolated(str(path), str(path), report_id="x" * 64, size=path.stat().st_size,
                         max_file_bytes=Settings().max_file_bytes, max_pages=500, timeout=4.0)
    elapsed = time.perf_counter() - started
    assert (r.status, r.error, r.source_format) == ("failed", "timeout", "pdf")
    assert "report_timeout_seconds" in r.error_message and str(path) in r.error_message
    assert elapsed < 30
    good = tmp_path / "good.txt"
    shutil.copy(GOOD_A, good)
    after = process_isolated(str(good), str(good), report_id="y" * 64, size=good.stat().st_size,
                             max_file_bytes=Settings().max_file_bytes, max_pages=500, timeout=60.0)
    assert after.status == "ok" and after.cells


@pytest.mark.slow
def test_the_spinning_page_really_spins_without_a_limit(tmp_path: Path) -> None:
    """The shallow version of the same structure finishes: it is the depth, not a broken file, that spins."""
    shallow = process_bytes(spinning_pdf(depth=4), "shallow.pdf")
    assert shallow.error == "not_a_report"  # read fine; just not a report
    code = ("import sys; sys.path.insert(0, %r); from nianbao.pipeline import process_bytes; "
            "process_bytes(open(%r, 'rb').read(), 'deep.pdf')")
    path = tmp_path / "deep.pdf"
    path.write_bytes(spinning_pdf())
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code % (str(ROOT), str(path))], timeout=8, capture_output=True)


def test_huge_file_is_refused_by_size_without_being_read(tmp_path: Path) -> None:
    huge = sparse_file(tmp_path / "huge.pdf", 8 << 30)  # 8 GiB, no disk space used
    cfg = Settings(max_file_bytes=4 * MB)
    started = time.perf_counter()
    with pytest.raises(errors.FileTooLargeError) as exc:
        read_local(str(huge), cfg.max_file_bytes)
    assert time.perf_counter() - started < 1.0
    assert exc.value.code == "too_large" and "max_file_bytes" in str(exc.value)
    inbox, files = inbox_with(tmp_path, {})
    shutil.move(huge, inbox / "huge.pdf")
    batch = run_batch([files[0], inbox / "huge.pdf", files[1]], tmp_path / "out", settings=cfg)
    assert_goes_on(batch, inbox)
    assert_recorded(batch.report(inbox / "huge.pdf"), "too_large", "8589934592 bytes", "max_file_bytes")
    assert time.perf_counter() - started < 30


def test_huge_file_is_refused_at_ingest_in_the_flow_without_being_read(tmp_path: Path) -> None:
    from nianbao.runtime.report import ingest_item

    huge = sparse_file(tmp_path / "huge.txt", 8 << 30)
    started = time.perf_counter()
    ing = ingest_item(SourceItem(str(huge)), Settings(max_file_bytes=4 * MB))
    assert time.perf_counter() - started < 1.0
    assert (ing.how, ing.error, ing.sha256) == ("failed", "too_large", None)
    assert "max_file_bytes" in (ing.error_message or "")


def test_bytes_over_the_limit_are_refused_by_process_bytes() -> None:
    r = process_bytes(GOOD_A.read_bytes(), "a.txt", max_file_bytes=1000)
    assert (r.status, r.error) == ("failed", "too_large") and "max_file_bytes" in r.error_message


@pytest.mark.parametrize(("declared", "encoding"), [
    ("utf-8", "gb18030"),        # says UTF-8, is GBK: the common CMS mistake
    ("gb2312", "utf-8"),         # says GB2312, is UTF-8
    ("iso-8859-1", "gb18030"),   # says Latin-1 (decodes anything), is GBK
    ("big5", "gb18030"),         # says Big5, is GBK
    (None, "gb18030"),           # says nothing
])
def test_html_with_a_wrong_declared_charset_is_read_correctly(tmp_path: Path, declared: str | None,
                                                              encoding: str) -> None:
    body = HTML_REPORT.read_text(encoding="utf-8")
    head = f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">' if declared else ""
    reference = process_bytes(wrap_html(body, '<meta charset="utf-8">').encode("utf-8"), "ref.html")
    assert reference.status == "ok" and len(reference.cells) > 100
    data = wrap_html(body, head).encode(encoding)
    inbox, files = inbox_with(tmp_path, {"page.html": data})
    batch = run_batch(files, tmp_path / "out", year=None)
    assert_goes_on(batch, inbox)
    r = next(r for r in batch.results if r.source_uri == str(inbox / "page.html"))
    assert r.status == "ok", r.error_message
    assert cells_of(r) == cells_of(reference)
    assert r.title == reference.title and "上海市人民政府办公厅" in (r.title or "")


@pytest.mark.parametrize(("source", "name", "fmt"), [
    (SMALL_PDF, "report.txt", "pdf"),
    (SMALL_PDF, "report", "pdf"),
    (HTML_REPORT, "report.pdf", "html"),
    (GOOD_A, "report.docx", "text"),
    (GOOD_A, "report.html", "text"),
])
def test_a_file_with_the_wrong_extension_is_sniffed_and_read(tmp_path: Path, source: Path, name: str,
                                                             fmt: str) -> None:
    right = process_bytes(source.read_bytes(), source.name)
    assert right.status == "ok"
    path = tmp_path / name
    shutil.copy(source, path)
    r = process_bytes(path.read_bytes(), str(path))
    assert (r.status, r.source_format) == ("ok", fmt), r.error_message
    assert cells_of(r) == cells_of(right)


@pytest.mark.parametrize("name", sorted(NOT_REPORTS))
def test_a_document_that_is_not_an_annual_report_is_recorded_not_a_report(tmp_path: Path, name: str) -> None:
    bad_case(tmp_path, name, NOT_REPORTS[name].read_bytes(), "not_a_report", "政府信息公开工作年度报告")


def test_a_notice_that_lists_the_six_section_headings_is_not_a_report(tmp_path: Path) -> None:
    """A notice asking agencies to publish their reports quotes the template's outline. It has the six
    headings (as a bare list) but no table and no section content: it must not be published as a report."""
    data = (RELIABILITY / "notice-about-annual-reports.txt").read_bytes()
    bad_case(tmp_path, "notice-about-annual-reports.txt", data, "not_a_report", "政府信息公开工作年度报告")


def test_a_report_of_another_year_in_a_year_batch_is_held_back(tmp_path: Path) -> None:
    """Documented choice: in a year batch a report about another year is held back: recorded failed
    (year_mismatch) on its result and in the batch manifest, published under no year (one report, one
    year), so a 2022 batch never writes into (or replaces) 2021."""
    row = bad_case(tmp_path, "2021-report.txt", OTHER_YEAR.read_bytes(), "year_mismatch",
                   "about 2021", "run it in the 2021 batch", year=2022)
    out = tmp_path / "out"
    assert row["held_back"] and row["report_year"] is None
    assert not (out / "applications" / "report_year=2021").exists()
    for name in ("reports", "validation_issues", "applications"):
        assert read_dataset(out, name).filter(pl.col("report_id") == row["report_id"]).height == 0


def test_without_a_batch_year_each_report_is_published_under_its_own_year(tmp_path: Path) -> None:
    inbox, files = inbox_with(tmp_path, {"2021-report.txt": OTHER_YEAR.read_bytes()})
    batch = run_batch(files, tmp_path / "out", year=None)
    row = batch.report(inbox / "2021-report.txt")
    assert (row["status"], row["report_year"]) == ("ok", 2021)
    assert set(batch.dataset("reports")["report_year"]) == {2021, 2022}


def test_the_same_bytes_twice_make_one_report_and_the_duplicate_is_listed(tmp_path: Path) -> None:
    inbox, files = inbox_with(tmp_path, {"copy of good-a.txt": GOOD_A.read_bytes()})
    batch = run_batch(files, tmp_path / "out")
    reports = batch.dataset("reports")
    assert reports.height == 2  # good-a (once) and good-b
    kept = batch.report(inbox / "good-a.txt")
    assert reports.filter(pl.col("source_uri") == str(inbox / "copy of good-a.txt")).height == 0
    issues = batch.dataset("validation_issues").filter(pl.col("check") == "duplicate_input")
    assert issues.select("report_id", "severity", "actual").rows() == [
        (kept["report_id"], "info", str(inbox / "copy of good-a.txt"))]
    apps = batch.dataset("applications")
    assert apps.filter(pl.col("report_id") == kept["report_id"]).height == apps.filter(
        pl.col("report_id") == kept["report_id"]).unique(["row", "applicant"]).height


# --- HTML with scripts and entities ---------------------------------------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    """A local HTTP server that records every request (nothing may be fetched while reading a page)."""
    _Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _entity_digits(html: str) -> str:
    """Every digit in the text of a table cell written as a numeric character reference (&#49; for 1)."""
    def cell(m: re.Match[str]) -> str:
        parts = re.split(r"(<[^>]*>)", m.group(2))
        text = "".join(p if p.startswith("<") else re.sub(r"\d", lambda d: f"&#{ord(d.group())};", p)
                       for p in parts)
        return m.group(1) + text + m.group(3)

    return re.sub(r"(<td[^>]*>)(.*?)(</td>)", cell, html, flags=re.S)


def test_html_with_scripts_and_entities_is_read_and_nothing_is_executed_or_fetched(tmp_path: Path,
                                                                                    listener: str) -> None:
    pwned = tmp_path / "pwned"
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-DO-NOT-READ", encoding="utf-8")
    hostile = f"""
<script>require('fs').writeFileSync({str(pwned)!r}, 'x'); document.write('<p>一、总体情况</p>');</script>
<script type="text/python">open({str(pwned)!r}, 'w').write('x')</script>
<?php file_put_contents('{pwned}', 'x'); ?>
<!--#exec cmd="touch {pwned}" -->
<img src="{listener}/img" onerror="fetch('{listener}/onerror')">
<link rel="stylesheet" href="{listener}/css"><iframe src="{listener}/frame"></iframe>
<object data="file://{secret}"></object><embed src="file://{secret}"></embed>
<svg onload="alert(1)"><text>三、收到和处理政府信息公开申请情况</text></svg>
<style>@import url("{listener}/import"); body {{ background: url("{listener}/bg") }}</style>
<p>&lt;script&gt;alert("not code, text")&lt;/script&gt; &amp;nbsp; &#x4E00;&#20108;&#19977; &bogus; &#0; &#xD800;</p>
"""
    body = HTML_REPORT.read_text(encoding="utf-8")
    reference = process_bytes(wrap_html(body, '<meta charset="utf-8">').encode("utf-8"), "ref.html")
    doctype = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    page = wrap_html(hostile + _entity_digits(body) + "<p>&xxe;</p>" + hostile, '<meta charset="utf-8">')
    page = page.replace("<!DOCTYPE html>", doctype)
    inbox, files = inbox_with(tmp_path, {"hostile.html": page.encode("utf-8")})
    batch = run_batch(files, tmp_path / "out", year=None)
    assert_goes_on(batch, inbox)
    r = next(r for r in batch.results if r.source_uri == str(inbox / "hostile.html"))
    assert r.status == "ok", r.error_message
    assert cells_of(r) == cells_of(reference)  # the entity-written digits read as the same numbers
    assert not pwned.exists()
    time.sleep(0.2)
    assert _Recorder.hits == []
    published = pl.concat([batch.dataset("sections").select(pl.col("text").alias("t")),
                           batch.dataset("reports").select(pl.col("title").alias("t"))]).drop_nulls()
    assert not published.filter(pl.col("t").str.contains("SECRET-DO-NOT-READ")).height
    assert not published.filter(pl.col("t").str.contains("writeFileSync|file_put_contents")).height


@pytest.mark.parametrize("embed", ['<embed src="/flash/banner.swf" width="600">',
                                   '<embed src="report.pdf" type="application/pdf">'])
def test_html_with_an_unclosed_embed_keeps_the_report(embed: str) -> None:
    """``<embed>`` is a void element (no end tag) — old government pages embed Flash banners and PDFs this
    way — but libxml2's HTML 4 parser nests everything after it inside the ``embed``, which the reader drops
    with its content: the whole report vanished (not_a_report)."""
    body = HTML_REPORT.read_text(encoding="utf-8")
    reference = process_bytes(wrap_html(body, '<meta charset="utf-8">').encode("utf-8"), "ref.html")
    r = process_bytes(wrap_html(embed + body, '<meta charset="utf-8">').encode("utf-8"), "embed.html")
    assert (r.status, r.error) == ("ok", None), r.error_message
    assert cells_of(r) == cells_of(reference)


@pytest.mark.parametrize("path", sorted((FIXTURES / "html").glob("*.html")), ids=lambda p: p.name)
def test_every_html_fixture_gives_a_result_never_a_crash(path: Path) -> None:
    r = process_bytes(path.read_bytes(), path.name)
    assert r.status in ("ok", "partial") or (r.error and r.error != "internal_error"), r.error_message


def _minimal_docx(document_xml: bytes) -> bytes:
    ct = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
          b'"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
          b'document.main+xml"/></Types>')
    rels = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    return zip_archive({"[Content_Types].xml": ct, "_rels/.rels": rels, "word/document.xml": document_xml})


W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _w_para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_with_an_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-DO-NOT-READ", encoding="utf-8")
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           f'<w:document {W_NS}><w:body>{_w_para("一、总体情况")}{_w_para("&xxe;")}</w:body></w:document>')
    r = process_bytes(_minimal_docx(xml.encode()), "xxe.docx")
    assert r.error != "internal_error"
    assert "SECRET" not in repr(r)


def test_docx_with_an_entity_expansion_bomb_is_recorded_corrupt() -> None:
    ents = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [{ents}]><w:document {W_NS}><w:body>'
           f'{_w_para("一、总体情况")}{_w_para("&a9;")}</w:body></w:document>')
    started = time.perf_counter()
    r = process_bytes(_minimal_docx(xml.encode()), "lol.docx")
    assert (r.status, r.error) == ("failed", "corrupt") and time.perf_counter() - started < 10


def test_docx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """A 300 KB .docx whose word/document.xml unpacks to 100 MB of tiny paragraphs (ratio ~700:1). Read in a
    child limited to 1.5 GB of address space: it must be refused from the zip directory (sizes and ratio) in
    seconds, not unpacked and parsed (unlimited, 50 MB of it took 229 s and 1.2 GB here)."""
    p = b"<w:p><w:r><w:t>0</w:t></w:r></w:p>"
    xml = (f'<?xml version="1.0"?><w:document {W_NS}><w:body>{_w_para("一、总体情况")}'.encode()
           + p * (100 * MB // len(p)) + b"</w:body></w:document>")
    path = tmp_path / "bomb.docx"
    path.write_bytes(_minimal_docx(xml))
    assert path.stat().st_size < 1 * MB
    code = ("import resource, sys, time; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20)); "
            "sys.path.insert(0, %r); from nianbao.pipeline import process_bytes; t = time.perf_counter(); "
            "r = process_bytes(open(%r, 'rb').read(), 'bomb.docx'); "
            "print(r.status, r.error, round(time.perf_counter() - t, 1)); print(r.error_message)")
    try:
        run = subprocess.run([sys.executable, "-c", code % (str(ROOT), str(path))], timeout=60,
                             capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail("the DOCX zip bomb was unpacked and parsed (still running after 60 s)")
    status, code_, seconds = (run.stdout.split("\n", 1)[0].split() + ["", "", "0"])[:3]
    # Without a check it is unpacked and parsed until memory runs out, and lxml's failure reads "corrupt":
    # only a refusal from the zip directory (FileTooLargeError, "too_large") is the wanted outcome.
    assert (status, code_) == ("failed", "too_large") and float(seconds) < 5, run.stdout + run.stderr[-500:]


# --- path traversal and odd names -----------------------------------------------------------------------

def test_manifest_entries_that_leave_the_manifest_folder_are_refused_not_read(tmp_path: Path) -> None:
    tmp_path = tmp_path.resolve()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(GOOD_B.read_bytes())  # a readable report: if it were read, it would be published
    base = tmp_path / "a" / "b" / "inbox"
    (base / "sub").mkdir(parents=True)
    shutil.copy(GOOD_A, base / "sub" / "good.txt")
    rows = ["../../../secret.txt", "sub/../../../../secret.txt", "..\\..\\..\\secret.txt", "./../inbox/../../x",
            "ftp://example.org/r.pdf", "s3://bucket/r.pdf", "file://otherhost/etc/passwd", "bad\x1bname.txt",
            "sub/good.txt", "./sub/./good.txt", str(base / "sub" / "good.txt"), f"file://{base}/sub/good.txt",
            "sub/../sub/good.txt", "https://example.org/年报 2022.pdf"]
    manifest = base / "manifest.csv"
    pl.DataFrame({"uri": rows, "year": ["2022"] * len(rows)}).write_csv(manifest)
    items = read_manifest(manifest)
    assert len(items) == len(rows)  # every row accounted for
    refused = {it.uri: it.refused for it in items if it.refused}
    assert len(refused) == 8, refused
    for uri, why in refused.items():
        assert uri.startswith("refused:") and "manifest.csv, row" in why, (uri, why)
    assert sum("path traversal" in why for why in refused.values()) == 4
    good = str((base / "sub" / "good.txt").resolve())
    assert [it.uri for it in items if not it.refused][:5] == [good] * 5
    with pytest.raises(RefusedSourceError) as exc:
        read_item(next(it for it in items if it.refused), MB)
    assert exc.value.code == "refused_source" and "manifest" in str(exc.value)
    # Through the batch: the refused rows are failed reports, the good file published once, the secret never.
    batch = run_batch([it for it in items if not it.uri.startswith("http")], tmp_path / "out")
    reports = batch.dataset("reports")
    assert reports.filter(pl.col("status") == "ok")["source_uri"].to_list() == [good]
    failed = reports.filter(pl.col("status") == "failed")
    assert set(failed["error"]) == {"refused_source"} and failed.height == 8
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert digest not in reports["report_id"].to_list()


def test_refused_manifest_entries_are_never_read_by_the_flow_ingest(tmp_path: Path) -> None:
    from nianbao.runtime.report import ingest_item

    (tmp_path / "secret.txt").write_bytes(GOOD_B.read_bytes())
    (tmp_path / "inbox").mkdir()
    manifest = tmp_path / "inbox" / "m.csv"
    pl.DataFrame({"uri": ["../secret.txt"]}).write_csv(manifest)
    (item,) = read_manifest(manifest)
    ing = ingest_item(item, Settings())
    assert (ing.how, ing.sha256, ing.path, ing.error) == ("failed", None, None, "refused_source")
    assert "path traversal" in (ing.error_message or "") and "fix the entry in the manifest" in ing.error_message


def test_manifest_rows_without_uri_or_with_a_bad_year_are_accounted_for(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes(GOOD_A.read_bytes())
    manifest = tmp_path / "m.csv"
    manifest.write_text("uri,year,agency\nr.txt,2022年, 木兰县 \n,2022,x\nr.txt,twenty,y\nr.txt,2022.0,z\n",
                        encoding="utf-8")
    items = read_manifest(manifest)
    assert [(it.year, bool(it.refused)) for it in items] == [(2022, False), (2022, True), (None, True),
                                                            (2022, False)]
    assert items[0].agency == "木兰县"
    assert "no uri" in items[1].refused and "row 3" in items[1].refused
    assert "not a year" in items[2].refused


ODD_NAMES = [
    "report with spaces.txt",
    "report\nwith\nnewlines.txt",
    "报告 2022 📄✅.txt",
    "-leading-dash.txt",
    "pipe|and*star?.txt",
    "quote'\"and;semicolon.txt",
    "tab\tand\\backslash.txt",
    "政府信息公开工作年度报告" * 6 + ".txt",  # 220 bytes: near the 255-byte limit
    "ｆｕｌｌｗｉｄｔｈ．ｔｘｔ",
    "e\u0301-combining.txt",
]


def test_files_with_odd_names_are_read_and_keep_their_names(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    texts = [GOOD_A.read_text(encoding="utf-8"), GOOD_B.read_text(encoding="utf-8")]
    for i, name in enumerate(ODD_NAMES):
        assert len(name.encode()) <= 255
        # distinct bytes per file (else they would be duplicates of each other)
        (inbox / name).write_text(texts[i % 2] + "\n" * (i + 1), encoding="utf-8")
    items = expand_sources([str(tmp_path / "inbox")], 2022)
    assert sorted(Path(it.uri).name for it in items) == sorted(ODD_NAMES)
    batch = run_batch(items, tmp_path / "out")
    reports = batch.dataset("reports")
    assert sorted(reports["source_uri"]) == sorted(str(inbox / n) for n in ODD_NAMES)
    assert set(reports["status"]) == {"ok"}
    summary = summarize(batch.results, str(tmp_path / "out"), 1.0, [2022])
    md = summary_markdown(summary, batch.results)
    assert md.count("\n| ") >= len(ODD_NAMES)


def test_a_name_too_long_for_the_file_system_is_recorded_not_crashed(tmp_path: Path) -> None:
    from nianbao.runtime.report import ingest_item

    manifest = tmp_path / "m.csv"
    pl.DataFrame({"uri": ["年" * 120 + ".txt", "a" * 5000]}).write_csv(manifest)
    for item in read_manifest(manifest):
        ing = ingest_item(item, Settings())
        assert ing.how == "failed" and ing.error == "read_failed" and ing.sha256 is None, ing
        assert "File name too long" in (ing.error_message or "")


# --- archives -------------------------------------------------------------------------------------------

def test_zip_archives_are_rejected_as_unsupported_with_a_clear_message(tmp_path: Path) -> None:
    """Decision: archives are not unpacked (no zip-bomb or nested-path surface); a .zip is recorded as
    ``unsupported_format`` and the message lists what is supported. Unpack archives before the batch."""
    data = zip_archive({"2022/report.txt": GOOD_A.read_bytes(), "../../evil.txt": b"x"})
    bad_case(tmp_path, "reports.zip", data, "unsupported_format", "ZIP archive", "Supported:")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_a_zip_named_docx_without_a_document_is_unsupported() -> None:
    r = process_bytes(zip_archive({"readme.txt": b"hello"}), "report.docx")
    assert (r.status, r.error) == ("failed", "unsupported_format")


def test_a_zip_bomb_is_rejected_without_being_unpacked() -> None:
    """A member of 1 GiB of zeros in a 1 MB zip: sniffing reads only the zip directory, never the member."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (16 * MB)
    segment = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, so it can be repeated
    crc = 0
    for _ in range(64):
        crc = zlib.crc32(chunk, crc)
    bomb = _raw_zip("zeros.bin", segment * 64 + comp.flush(), 64 * 16 * MB, crc)
    assert len(bomb) < 2 * MB
    started = time.perf_counter()
    r = process_bytes(bomb, "bomb.zip")
    assert (r.status, r.error) == ("failed", "unsupported_format")
    assert time.perf_counter() - started < 2


def _raw_zip(name: str, deflated: bytes, size: int, crc: int) -> bytes:
    """A one-member zip written by hand (so the 1 GB member never exists uncompressed here)."""
    import struct

    fn = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(deflated), size, len(fn), 0) + fn
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(deflated), size, len(fn),
                          0, 0, 0, 0, 0, 0) + fn
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(deflated), 0)
    return local + deflated + central + end


# =========================================================================================================
# 2. Faults
# =========================================================================================================

class _ShortBody(http.server.BaseHTTPRequestHandler):
    """Serves ``full`` but, while ``cut`` > 0, promises all of it and sends only the first part."""

    full = b""
    cut = 0
    requests = 0

    def do_GET(self) -> None:
        cls = type(self)
        cls.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(cls.full)))
        self.end_headers()
        if cls.cut > 0:
            cls.cut -= 1
            self.wfile.write(cls.full[: len(cls.full) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(cls.full)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def short_server() -> Iterator[str]:
    _ShortBody.full, _ShortBody.cut, _ShortBody.requests = GOOD_A.read_bytes(), 0, 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortBody)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/report.txt"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _blobs(cache_dir: Path) -> list[Path]:
    return [p for p in (cache_dir / "sha256").rglob("*") if p.is_file()] if (cache_dir / "sha256").exists() else []


def test_a_download_that_dies_half_way_is_never_parsed_as_a_whole_file(tmp_path: Path, short_server: str) -> None:
    fetch_mod = pytest.importorskip("nianbao.ingest.fetch")
    _ShortBody.cut = 99  # every attempt dies after a third of the body
    cfg = Settings(cache_dir=str(tmp_path / "cache"), download_retries=2, download_timeout_seconds=5,
                   download_allow_private="127.0.0.1")
    with pytest.raises(NianbaoError) as exc:
        fetch_mod.fetch(short_server, cfg, sleep=lambda s: None)
    assert exc.value.code == "download_failed" and _ShortBody.requests == 3
    assert "rerun" in str(exc.value)
    assert _blobs(tmp_path / "cache") == []  # nothing kept under a final name
    assert not list((tmp_path / "cache").glob("tmp/*"))  # and no partial file left behind
    # In the flow's ingest the same download is a failed input: no bytes, so nothing is parsed.
    from nianbao.runtime.report import ingest_item, process_ingested

    _ShortBody.requests = 0
    ing = ingest_item(SourceItem(short_server), cfg)
    assert (ing.how, ing.error, ing.sha256, ing.path) == ("failed", "download_failed", None, None)
    outcome = process_ingested(ing, cfg, 2022)
    assert (outcome.result.status, outcome.result.error, outcome.result.cells) == ("failed", "download_failed", [])


def test_a_download_cut_once_is_retried_and_only_the_whole_file_is_used(tmp_path: Path, short_server: str) -> None:
    fetch_mod = pytest.importorskip("nianbao.ingest.fetch")
    _ShortBody.cut = 1
    cfg = Settings(cache_dir=str(tmp_path / "cache"), download_retries=2, download_timeout_seconds=5,
                   download_allow_private="127.0.0.1")
    data = fetch_mod.fetch(short_server, cfg, sleep=lambda s: None)
    assert data == GOOD_A.read_bytes() and _ShortBody.requests == 2
    assert [p.name for p in _blobs(tmp_path / "cache")] == [hashlib.sha256(data).hexdigest()]


@pytest.mark.slow
def test_a_failing_report_task_never_loses_the_others_results(tmp_path: Path, prefect_server: None) -> None:
    """The real flow on a batch with inputs that make a reader fail in every way it can — an unexpected
    exception inside pdfplumber (``broken_page_tree_pdf``), a page that never finishes (killed by the
    per-report time limit), a corrupt file, a crash-free not-a-report — between good reports: every good
    report is published with exactly the cells the pure pipeline gives, every bad one recorded."""
    from flows.annual import annual_batch

    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    shutil.copy(GOOD_A, inbox / "a-good.txt")
    (inbox / "b-broken-tree.pdf").write_bytes(broken_page_tree_pdf())
    (inbox / "c-spinning.pdf").write_bytes(spinning_pdf())
    (inbox / "d-garbage.pdf").write_bytes(garbage_pdf())
    (inbox / "e-notice.txt").write_bytes(NOT_REPORTS["notice-2023.txt"].read_bytes())
    shutil.copy(GOOD_B, inbox / "f-good.txt")
    shutil.copy(SMALL_PDF, inbox / "g-good-2021.pdf")  # another year: held back, not lost
    out = tmp_path / "out"
    summary = annual_batch(sources=[str(tmp_path / "inbox")], year=2022, out=str(out),
                           settings={"report_timeout_seconds": 8.0, "progress": False,
                                     "cache_dir": str(tmp_path / "cache"), "max_workers": 2})
    assert summary["reports"] == 7
    reports = read_dataset(out, "reports")
    by_name = {Path(u).name: r for u, r in zip(reports["source_uri"], reports.to_dicts(), strict=True)}
    assert set(by_name) == {p.name for p in inbox.iterdir()} - {"g-good-2021.pdf"}  # held back: manifest only
    assert by_name["a-good.txt"]["status"] == by_name["f-good.txt"]["status"] == "ok"
    assert by_name["b-broken-tree.pdf"]["status"] == "failed"
    assert by_name["b-broken-tree.pdf"]["error"] in ("corrupt", "internal_error")
    # The spinning page never finishes: cut off by the time limit, or (pdfium allocates faster than pdfminer)
    # by the memory cap first; either way recorded failed while every other report is published.
    assert by_name["c-spinning.pdf"]["error"] in ("timeout", "crashed", "memory_limit")
    assert by_name["d-garbage.pdf"]["error"] == "corrupt"
    assert by_name["e-notice.txt"]["error"] == "not_a_report"
    (manifest,) = (out / "_manifests").glob("*.json")
    held = [rec for rec in json.loads(manifest.read_text(encoding="utf-8"))["inputs"] if rec["partition_year"] is None]
    assert [(Path(rec["uri"]).name, rec["error"]) for rec in held] == [("g-good-2021.pdf", "year_mismatch")]
    pure = {r.source_uri: r for r in (process_bytes(p.read_bytes(), str(p)) for p in (GOOD_A, GOOD_B))}
    apps = read_dataset(out, "applications")
    for name, src in (("a-good.txt", GOOD_A), ("f-good.txt", GOOD_B)):
        got = apps.filter(pl.col("report_id") == by_name[name]["report_id"])
        want = pure[str(src)]
        assert got.height == sum(c.table == "applications" for c in want.cells)
        assert sorted(zip(got["row"], got["applicant"], got["value"].cast(pl.Float64), strict=True)) == sorted(
            (c.key1, c.key2, float(c.value) if c.value is not None else None) for c in want.cells
            if c.table == "applications")


@pytest.mark.slow
def test_a_page_that_eats_memory_is_stopped_by_the_memory_cap_before_its_timeout(tmp_path: Path) -> None:
    """The spinning page grows pdfminer's object lists without end: with ``report_memory_mb`` the child
    dies at the cap long before the time limit, the report says which limit to raise, the next one parses."""
    from nianbao.runtime.isolation import process_isolated

    path = tmp_path / "spinning.pdf"
    path.write_bytes(spinning_pdf())
    started = time.perf_counter()
    r = process_isolated(str(path), str(path), report_id="x" * 64, size=path.stat().st_size,
                         max_file_bytes=Settings().max_file_bytes, max_pages=500, timeout=300.0, memory_mb=150)
    assert time.perf_counter() - started < 200  # the 300 s timeout did not fire: the cap did
    assert r.status == "failed" and r.error in ("crashed", "memory_limit"), (r.error, r.error_message)
    assert "report_memory_mb" in r.error_message
    good = tmp_path / "good.txt"
    shutil.copy(GOOD_A, good)
    after = process_isolated(str(good), str(good), report_id="y" * 64, size=good.stat().st_size,
                             max_file_bytes=Settings().max_file_bytes, max_pages=500, timeout=60.0, memory_mb=150)
    assert after.status == "ok" and after.cells


def test_memory_error_in_the_child_is_reported_as_the_memory_limit() -> None:
    from nianbao.runtime.isolation import IsolationMemoryLimit, call_isolated

    with pytest.raises(IsolationMemoryLimit, match="1024 MB"):
        call_isolated("builtins:bytearray", (3 * 1024**3,), timeout=30, memory_mb=1024)
    assert call_isolated("builtins:len", ("abc",), timeout=30, memory_mb=1024) == 3  # a fresh child serves on


def test_out_of_memory_is_told_from_a_bad_input() -> None:
    """Under the memory cap a late import fails to map its library: that is the cap (memory_limit), not a
    parser bug (internal_error); an ordinary import or I/O error is not."""
    import errno

    from nianbao.errors import out_of_memory

    assert out_of_memory(MemoryError())
    assert out_of_memory(ImportError("/x/cv2.abi3.so: failed to map segment from shared object"))
    assert out_of_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))
    assert not out_of_memory(ImportError("No module named 'cv2'"))
    assert not out_of_memory(OSError(errno.ENOENT, "No such file or directory"))
    assert not out_of_memory(ValueError("failed to map segment"))
