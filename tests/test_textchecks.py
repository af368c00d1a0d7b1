"""Text-vs-table checks: planted breaks found, clean prose and decoys never flagged."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT
from test_crossyear import planted_batch, process, publish_results

from nianbao.pipeline import process_bytes
from nianbao.publish.parquet import read_dataset
from nianbao.results import CellValue
from nianbao.validate.textchecks import TEXT_CHECKS, check_text_vs_table, compare, find_statements


def _what(text: str, section: int = 1, year: int | None = 2022) -> list[tuple[str, Decimal]]:
    return [(s.what, s.value) for s in find_statements([(section, text)], year)]


@pytest.mark.parametrize(("text", "expected"), [
    ("2022年，本机关新收政府信息公开申请12件，同比增加3件。", [("new_received", Decimal(12))]),
    ("本年度新收政府信息公开申请数量为１２件。", [("new_received", Decimal(12))]),
    ("本年度共收到政府信息公开申请5件，其中自然人3件。", [("new_received", Decimal(5))]),
    ("因政府信息公开被申请行政复议2件，提起行政诉讼1件。",
     [("administrative_review", Decimal(2)), ("litigation", Decimal(1))]),
    ("政府信息公开工作方面共有行政诉讼案件1件、行政复议案件2件，均已结案。",
     [("administrative_review", Decimal(2)), ("litigation", Decimal(1))]),
    ("行政事业性收费金额为96171.6万元。", [("fees", Decimal("96171.6"))]),
    ("本年制发行政规范性文件3件，废止1件。", [("normative_documents_issued", Decimal(3))]),
    ("本年制发规章2件。", [("rules_issued", Decimal(2))]),
])
def test_unambiguous_sentences_are_read(text: str, expected: list[tuple[str, Decimal]]) -> None:
    assert _what(text) == expected


@pytest.mark.parametrize("text", [
    "较上年新收申请增加3件。",                        # a change, not a count
    "2021年新收政府信息公开申请8件。",                 # another year
    "去年新收政府信息公开申请8件。",
    "收到群众通过信函方式提交的申请3件。",             # a channel breakdown
    "司法所全年办理行政复议案件120件。",               # case load, not disclosure reviews
    "政府信息公开方面发生行政复议、行政诉讼1件。",     # combined count
    "政府信息公开行政复议和行政诉讼各0件。",
    "收取信息处理费0.5万元。",                         # section 6 fee, not table 1
    "主动公开政府信息345条。",                         # no table cell
    "行政事业性收费较上年减少5万元。",
    "本年新收政府信息公开申请十二件。",                # Chinese numerals: not read
])
def test_ambiguous_or_unmapped_sentences_are_ignored(text: str) -> None:
    assert _what(text) == []


def test_review_counts_need_disclosure_context_outside_section_4() -> None:
    assert _what("本年度发生行政复议案件2起。", section=1) == []
    assert _what("本年度发生行政复议案件2起。", section=4) == [("administrative_review", Decimal(2))]


def _cell(table: str, k1: str, k2: str, v: str | None, kind: str = "number", unit: str = "") -> CellValue:
    return CellValue(table, k1, k2, Decimal(v) if v is not None else None, kind, v or "", unit=unit)  # type: ignore[arg-type]


def test_compare_is_conservative() -> None:
    cells = [_cell("applications", "new_received", "total", "10"), _cell("applications", "carried_over", "total", "1"),
             _cell("reviews_litigation", "administrative_review", "total", None, "blank")]
    tmpl = {"applications": "2021", "reviews_litigation": "2021", "proactive_disclosure": "2021"}

    def run(*sentences: tuple[int, str]) -> list[str]:
        return [p.check for p in compare(find_statements(list(sentences), 2022), cells, tmpl)]
    assert run((1, "新收政府信息公开申请12件。")) == ["text_vs_table_new_received"]
    assert run((1, "新收政府信息公开申请10件。")) == []
    # Two different statements of one thing: ambiguous, not flagged.
    assert run((1, "新收政府信息公开申请12件。"), (3, "本年新收政府信息公开申请13件。")) == []
    # 收到 may mean new + carried over: 11 passes, 10 passes, 12 is a break.
    assert run((1, "收到政府信息公开申请11件。")) == []
    assert run((1, "收到政府信息公开申请10件。")) == []
    assert run((1, "收到政府信息公开申请12件。")) == ["text_vs_table_new_received"]
    # A strictly worded statement wins over a loose one.
    assert run((1, "收到政府信息公开申请11件。"), (1, "新收政府信息公开申请11件。")) == ["text_vs_table_new_received"]
    # A blank table cell is never compared.
    assert run((4, "行政复议3件。")) == []


def test_planted_text_breaks_found_and_clean_reports_untouched() -> None:
    planted = planted_batch()
    results, who = process(planted)
    found = {(who[r.report_id][0], who[r.report_id][1], p.check) for r in results for p in r.problems
             if p.check.startswith("text_vs_table_")}
    assert found == planted.text
    assert {c for _, _, c in found} <= set(TEXT_CHECKS)
    c23 = next(r for r in results if who[r.report_id] == ("C", 2023))
    p = next(p for p in c23.problems if p.check == "text_vs_table_fees")
    assert (p.severity, p.expected, p.actual, p.key1, p.key2) == ("warning", "5.2", "6.5", "fees", "amount")


def test_text_breaks_are_published_as_validation_issues(tmp_path: Path) -> None:
    planted = planted_batch()
    results, who = process(planted)
    publish_results(tmp_path, results)
    vi = read_dataset(tmp_path, "validation_issues").filter(pl.col("check").str.starts_with("text_vs_table_"))
    assert {(who[r][0], y, c) for r, y, c in vi.select("report_id", "report_year", "check").iter_rows()} == planted.text


def test_real_samples_raise_no_false_alarm() -> None:
    """The bundled real reports state 收到…75件 (= new + carried over), 行政诉讼1件, 行政复议2件/7件: all agree."""
    for name in ("real-pingtan-2022-textdump.txt", "real-shanghai-office-2019.html"):
        path = ROOT / "data" / "samples" / name
        r = process_bytes(path.read_bytes(), str(path))
        assert [p for p in check_text_vs_table(r) if p.check.startswith("text_vs_table_")] == []
