"""OCR of scanned (image-only) PDFs and the gate that publishes an OCR'd table only when its identities
vouch for every number.

Fixtures: tests/fixtures/scanned (``tools/generate_fixtures.py --scan``: black-and-white 200 dpi scans of
generated reports, gold = the generator's values; one with a digit of table 3 painted over) and
tests/fixtures/bad/scanned-image-only.pdf (100 dpi, grey, skewed, blurred JPEG: a damaged scan).
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from nianbao.extract.mapping import TableResult
from nianbao.pipeline import process_bytes
from nianbao.read.ocr import INSTALL_HINT, ocr_missing
from nianbao.results import CellValue, Problem, ReportResult
from nianbao.settings import load_settings
from nianbao.validate.identities import equations
from nianbao.validate.ocrgate import gate_ocr

SCANNED = FIXTURES / "scanned"
BAD_SCAN = FIXTURES / "bad" / "scanned-image-only.pdf"

# Measured recall floors (published correct cells / gold cells) with tesseract 5.3.0 + chi_sim 4.1.0.
# Precision is not a floor: every published number must equal the gold value.
RECALL_FLOOR = {
    "scan-gen-002-rl-emb-grid-2019": 15,  # table 3 published (15 cells); tables 1 and 2 withheld
    "scan-gen-024-rl-emb-grid-2021": 0,  # everything withheld: OCR lost cells, the identities do not close
}


@functools.cache
def _result(path: Path) -> ReportResult:
    return process_bytes(path.read_bytes(), path.name)


def _gold(path: Path) -> dict[tuple[str, str, str], Any]:
    gold = json.loads(path.read_text(encoding="utf-8"))
    return {(c["table"], c["key1"], c["key2"]): c["value"] for c in gold["cells"]}


def _score(result: ReportResult, gold: dict[tuple[str, str, str], Any]) -> dict[str, int]:
    """Given a result and gold cells, return gold / correct / wrong / withheld counts. A published blank
    where the gold has a number (or the reverse) is wrong."""
    correct = wrong = 0
    for c in result.cells:
        g = gold.get((c.table, c.key1, c.key2))
        same = (g is None and c.value is None) or (g is not None and c.value is not None and Decimal(str(g)) == c.value)
        correct += same
        wrong += not same
    return {"gold": len(gold), "correct": correct, "wrong": wrong, "withheld": len(gold) - correct - wrong}


def test_tesseract_with_chinese_is_installed() -> None:
    # setup.sh installs it; without it every OCR test below would test the fallback only.
    assert ocr_missing() is None


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(RECALL_FLOOR))
def test_scanned_report_publishes_only_gold_numbers(stem: str) -> None:
    result = _result(SCANNED / f"{stem}.pdf")
    gold_doc = json.loads((SCANNED / f"{stem}.json").read_text(encoding="utf-8"))
    score = _score(result, _gold(SCANNED / f"{stem}.json"))
    print(stem, score)
    assert score["wrong"] == 0, score
    assert score["correct"] >= RECALL_FLOOR[stem], score
    assert result.status == "partial"  # tables withheld
    assert result.report_year in (None, gold_doc["year"])  # a misread title year is not published
    assert all(c.derivation == "ocr" for c in result.cells)
    assert all(c.origin.page is not None and c.origin.bbox is not None for c in result.cells)
    checks = [p.check for p in result.problems]
    assert checks.count("read_by_ocr") == 1
    # table 1 has no identities: never published from OCR
    assert not any(c.table == "proactive_disclosure" for c in result.cells)
    withheld = {p.table for p in result.problems if p.check == "ocr_unverified"}
    published = {c.table for c in result.cells}
    assert "proactive_disclosure" in withheld and not withheld & published
    if stem == "scan-gen-002-rl-emb-grid-2019":  # its tampered copy must lose this table
        assert sum(c.table == "reviews_litigation" for c in result.cells) == 15


@pytest.mark.slow
def test_a_misread_digit_withholds_its_table() -> None:
    tampered = _result(SCANNED / "scan-tampered-gen-002-rl-emb-grid-2019.pdf")
    # the clean scan publishes table 3 (test_scanned_report_publishes_only_gold_numbers); with one of its
    # digits painted over (0 -> 8), as a misreading would give it, the table is withheld
    assert not any(c.table == "reviews_litigation" for c in tampered.cells)
    assert _score(tampered, _gold(SCANNED / "scan-tampered-gen-002-rl-emb-grid-2019.json"))["wrong"] == 0
    issue = next(p for p in tampered.problems if p.check == "ocr_unverified" and p.table == "reviews_litigation")
    assert issue.severity == "warning" and "read by OCR" in issue.message and "by hand" in issue.message
    assert any(p.check == "reviews_litigation_total" and p.actual == "8" for p in tampered.problems)


@pytest.mark.slow
def test_a_damaged_low_resolution_scan_publishes_no_wrong_number() -> None:
    spec = json.loads((FIXTURES / "bad" / "expected.json").read_text(encoding="utf-8"))["scanned-image-only.pdf"]
    result = _result(BAD_SCAN)
    score = _score(result, _gold(FIXTURES / "generated" / f"{spec['source']}.json"))
    print("scanned-image-only.pdf", score, result.status, result.error)
    assert score["wrong"] == 0, score
    assert result.status != "ok"


def test_without_tesseract_a_scan_is_needs_ocr_with_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    result = process_bytes(BAD_SCAN.read_bytes(), BAD_SCAN.name)
    assert (result.status, result.error) == ("failed", "needs_ocr")
    assert "tesseract program is not installed" in (result.error_message or "")
    assert INSTALL_HINT in (result.error_message or "")
    assert INSTALL_HINT == "apt-get install tesseract-ocr tesseract-ocr-chi-sim"


def test_with_ocr_off_a_scan_is_needs_ocr() -> None:
    result = process_bytes(BAD_SCAN.read_bytes(), BAD_SCAN.name, ocr=False)
    assert (result.status, result.error) == ("failed", "needs_ocr")
    assert "setting `ocr`" in (result.error_message or "")
    assert load_settings(env={"NIANBAO_OCR": "false"}).ocr is False
    assert load_settings(env={}).ocr is True


# --------------------------------------------------------------------------------------------
# The gate on constructed tables (fast)
# --------------------------------------------------------------------------------------------

def _balanced(version: str) -> tuple[list[TableResult], list[CellValue]]:
    """Every cell of tables 2 and 3 (all zero: every identity balances) plus two cells of table 1."""
    keys = {k for eq in equations(version) for k in (*eq.parts, *eq.total)}  # type: ignore[arg-type]
    cells = [CellValue(t, k1, k2, Decimal(0), "number", "0") for t, k1, k2 in sorted(keys)]
    cells += [CellValue("proactive_disclosure", "rules", "issued", Decimal(3), "number", "3"),
              CellValue("proactive_disclosure", "rules", "in_force", Decimal(9), "number", "9")]
    tables = [TableResult("proactive_disclosure", version), TableResult("applications", version),  # type: ignore[arg-type]
              TableResult("reviews_litigation", version)]  # type: ignore[arg-type]
    return tables, cells


@pytest.mark.parametrize("version", ["2019", "2021"])
def test_gate_publishes_a_table_only_when_every_identity_is_evaluated_and_balances(version: str) -> None:
    tables, cells = _balanced(version)
    out, problems = gate_ocr(tables, cells, [])
    assert {c.table for c in out} == {"applications", "reviews_litigation"}
    assert all(c.derivation == "ocr" for c in out)
    assert [(p.check, p.table) for p in problems] == [("read_by_ocr", None),
                                                       ("ocr_unverified", "proactive_disclosure")]
    # a cell missing: its identities cannot be evaluated
    out, problems = gate_ocr(tables, [c for c in cells if (c.key1, c.key2) != ("new_received", "total")], [])
    assert "applications" not in {c.table for c in out}
    # a total read as blank: its identity is not evaluated
    blanked = [CellValue(c.table, c.key1, c.key2, None, "blank", "") if (c.table, c.key1, c.key2) == (
        "reviews_litigation", "administrative_review", "total") else c for c in cells]
    out, _ = gate_ocr(tables, blanked, [])
    assert {c.table for c in out} == {"applications"}
    # text where a number belongs
    texted = [CellValue(c.table, c.key1, c.key2, None, "text", "O") if (c.table, c.key2) == (
        "reviews_litigation", "upheld") else c for c in cells]
    assert {c.table for c in gate_ocr(tables, texted, [])[0]} == {"applications"}
    # an error of the table (e.g. a failed identity found by evaluate)
    failed = Problem("applications_row_total", "error", "applications", "does not balance")
    out, problems = gate_ocr(tables, cells, [failed])
    assert {c.table for c in out} == {"reviews_litigation"}
    assert any(p.check == "ocr_unverified" and p.table == "applications" and "applications_row_total" in p.message
               for p in problems)
    # rows mapped by template order: an exchange of two rows would keep every identity balanced
    doubt = Problem("rows_mapped_by_position", "warning", "applications", "10 rows mapped by template order")
    assert {c.table for c in gate_ocr(tables, cells, [doubt])[0]} == {"reviews_litigation"}


@pytest.mark.parametrize(("texts", "kept"), [
    (["某镇2022年政府信息公开工作年度报告", "本报告所列数据统计期限自2022年1月1日起至2022年12月31日止。"], True),
    (["某镇2023年政府信息公开工作年度报告", "本报告所列数据统计期限自2022年1月1日起至2022年12月31日止。"], False),
])
def test_an_ocr_year_is_kept_only_when_the_text_names_it_twice(texts: list[str], kept: bool) -> None:
    from nianbao.model import Document, TextBlock
    from nianbao.validate.ocrgate import confirm_ocr_year

    detected = int(texts[0][2:6])
    result = ReportResult(report_id="x", source_uri="s.pdf", source_format="pdf", source_bytes=1,
                          report_year=detected)
    problems = confirm_ocr_year(Document([TextBlock(t) for t in texts], "pdf", ocr=True), result)
    assert result.report_year == (detected if kept else None)
    assert [p.check for p in problems] == ([] if kept else ["ocr_year_unconfirmed"])
