"""Layouts the project was not built on: crawler dumps, space-separated cells, glued / reworded / renumbered
headings, Markdown, full-width digits, long decimals (tools/generate_layouts.py renders gold reports in each
class), and the rules behind them: one heading grammar, token-stream rows, metadata without site chrome,
numbers exactly as printed, no invented year."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import generate_layouts as gl  # tools/ (on sys.path through conftest)
import polars as pl
import pytest
from conftest import ROOT

from nianbao.batch.plan import assign_years
from nianbao.goldscore import Score, score_cells
from nianbao.grammar import section_of, split_glued
from nianbao.normalize import normalize_label, parse_value
from nianbao.pipeline import process_bytes
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, validate_frames, write_partitions
from nianbao.read import SUFFIXES, sniff_format
from nianbao.recover.runtogether import recover_applications, recover_proactive
from nianbao.template import TABLES
from nianbao.variants import VARIANTS

# The project's own generated gold (always present); six reports: both templates, blank cells, slashes.
GOLDS = [g for g in gl.load_golds([ROOT / "tests" / "fixtures" / "generated"])
         if g["source_name"].split("-")[1] in {"000", "004", "011", "023", "025", "031"}]


def _score(cls: str) -> tuple[Score, list[str], list[Any]]:
    total, mistakes, results = Score(), [], []
    golds = [g for g in GOLDS if cls != "dump_blank_cells" or any(c["value"] is None for c in g["cells"])]
    for g in golds:
        ext, data, gold = gl.render(g, cls, 14)
        r = process_bytes(data, f"lay-{cls}-{g['source_name']}.{ext}")
        s, m = score_cells(r.cells, gold)
        total.add(s)
        mistakes += [f"{g['source_name']}: {x}" for x in m]
        results.append((r, gold))
    return total, mistakes, results


@pytest.mark.parametrize("cls", [c for c in gl.CLASSES if c != "dump_blank_cells"])
def test_every_layout_class_is_read_with_no_wrong_number(cls: str) -> None:
    score, mistakes, results = _score(cls)
    assert score.wrong == 0 and score.value_where_blank == 0, mistakes[:5]
    assert score.recall >= 0.98, score.as_dict()
    for r, gold in results:
        assert r.status != "failed", (r.error, r.error_message)
        assert r.report_year == gold["year"]
        assert r.agency and (r.agency in gold["agency"] or gold["agency"] in r.agency), r.agency


def test_dump_with_blank_cells_withholds_the_rows_it_cannot_place() -> None:
    score, mistakes, results = _score("dump_blank_cells")
    assert results, "the fixture subset must hold a report with blank cells"
    assert score.wrong == 0 and score.value_where_blank == 0, mistakes[:5]
    assert score.correct > 0
    for r, _ in results:
        withheld = [p for p in r.problems if p.check == "dump_row_ambiguous"]
        assert withheld and r.status == "partial"


def test_generator_is_deterministic_and_large_enough(tmp_path: Path) -> None:
    a = gl.render(GOLDS[0], "crawler_oneline", 14)
    assert a == gl.render(GOLDS[0], "crawler_oneline", 14)
    assert a != gl.render(GOLDS[0], "crawler_oneline", 15)
    n_golds = len(gl.load_golds([ROOT / "tests" / "fixtures" / "generated"]))
    assert n_golds * (len(gl.CLASSES) - 1) >= 200  # the bench corpus (shared gold adds more where present)


# --- one heading grammar ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "section"), [
    ("三、依申请公开情况", 3), ("政府信息公开申请办理情况", 3), ("（三）依申请公开情况", 3), ("(三)依申请公开情况", 3),
    ("（二）主动公开情况", 2), ("2.主动公开政府信息情况", 2), ("第二部分 主动公开政府信息情况", 2),
    ("（二）依申请公开情况", None),  # a sub-heading of section 1 in many reports
    ("（一）主动公开情况", None), ("二、主动公开情况：", 2), ("四、行政复议、行政诉讼情况", 4),
    ("五、存在的问题及改进措施", 5), ("六、其他事项", 6), ("５．存在的主要问题和改进措施", 5),
    ("四、政府信息公开行政法复议、行政诉讼情况", 4),  # a misprint from nianbao.variants
    ("本年度政府信息公开行政复议、行政诉讼情况如下表。", None), ("一是主动公开情况", None),
])
def test_section_of_reworded_and_renumbered(text: str, section: int | None) -> None:
    assert section_of(text) == section


@pytest.mark.parametrize(("text", "parts"), [
    ("一、总体情况2021年，本机关认真落实。", ["一、总体情况", "2021年，本机关认真落实。"]),
    ("工作有序。二、主动公开政府信息情况第二十条第（一）项", ["工作有序。", "二、主动公开政府信息情况", "第二十条第（一）项"]),
    ("9116.36 三、收到和处理政府信息公开申请情况（本列", ["9116.36", "三、收到和处理政府信息公开申请情况", "（本列"]),
    ("本报告包括一、总体情况、二、主动公开政府信息情况等", ["本报告包括一、总体情况、二、主动公开政府信息情况等"]),
    ("。一、总体情况、二、主动公开情况", ["。一、总体情况、二、主动公开情况"]),  # a list, not headings
    ("（二）依申请公开情况本年度共收到申请", ["（二）依申请公开情况本年度共收到申请"]),
])
def test_glued_headings_are_cut_out(text: str, parts: list[str]) -> None:
    assert split_glued(text) == parts


def test_a_subheading_in_section_one_never_takes_the_table() -> None:
    lines = ["某县2022年政府信息公开工作年度报告", "一、总体情况", "（一）主动公开情况", "本县全面推进主动公开。",
             "（二）依申请公开情况", "本县依法办理申请。", "（二）主动公开情况",
             "第二十条第（一）项", "信息内容\t本年制发件数\t本年废止件数\t现行有效件数", "规章\t1\t0\t5",
             "行政规范性文件\t2\t1\t9", "三、依申请公开情况", "申请人情况",
             "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"]
    r = process_bytes("\n".join(lines).encode(), "x.txt")
    heads = {s.number: s.heading for s in r.sections}
    assert heads[2] == "（二）主动公开情况" and heads[3] == "三、依申请公开情况"
    got = {(c.key1, c.key2): c.value for c in r.cells if c.table == "proactive_disclosure"}
    assert got[("rules", "in_force")] == 5 and got[("normative_documents", "issued")] == 2


# --- token streams ---------------------------------------------------------------------------------------

def test_single_value_in_a_separated_table_is_never_split() -> None:
    text = ("第二十条第（一）项 信息内容 本年制发件数 本年废止件数 现行有效件数 规章 377 行政规范性文件 0 0 39 "
            "第二十条第（五）项 信息内容 本年处理决定数量 行政许可 5")
    t = recover_proactive(text)
    assert t is not None
    got = {(c.key1, c.key2): c.value for c in t.cells}
    assert ("rules", "issued") not in got and got[("normative_documents", "in_force")] == 39
    assert any(p.check == "dump_row_ambiguous" and "rules" in p.message for p in t.problems)


def test_run_together_digits_still_split_only_when_unique() -> None:
    rows = TABLES[("applications", "2021")].rows
    vals = {r.key: "0000000" for r in rows}
    vals.update(new_received="713000074", total_handled="713000074", carried_over="0000000")
    parts = []
    for r in rows:
        label = "3.其他" if r.key == "other_other" else r.labels[0]
        parts.append(label + vals[r.key])
    t = recover_applications("申请人情况 " + "".join(parts))
    assert t is not None
    new = [c for c in t.cells if c.key1 == "new_received"]
    assert [int(c.value or 0) for c in new] == [71, 3, 0, 0, 0, 0, 74]
    assert all(c.derivation == "split_by_identity" for c in new)


# --- Markdown ----------------------------------------------------------------------------------------------

def test_markdown_is_a_format_of_the_read_layer() -> None:
    assert {".md", ".markdown"} <= SUFFIXES
    md = b"# T\n\n## one\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert sniff_format(md, "report") == "markdown"  # no extension: sniffed
    assert sniff_format(b"<table><tr><td>1</td></tr></table>\n# x", "r.md") == "markdown"
    assert sniff_format(b"plain text | with a bar", "r.txt") == "text"


def test_markdown_detached_label_row_is_keyed_by_its_own_label() -> None:
    g = next(g for g in GOLDS if any(c["key1"] == "other_other" for c in g["cells"]))
    _, data, gold = gl.render(g, "markdown_pipe", 14)
    text = data.decode()
    want = {(c["key1"], c["key2"]): c["value"] for c in gold["cells"] if c["table"] == "applications"}
    other = [want[("other_other", a)] for a in gl.APPLICANTS]
    # detach every label from its values, and split another label over two lines
    lines = []
    for ln in text.split("\n"):
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if ln.startswith("| 3.其他") or ln.startswith("| 5.属于三类内部事务信息"):
            lines += [f"| {cells[0]} |", "| " + " | ".join(cells[1:]) + " |"]
        elif ln.startswith("| 4.保护第三方合法权益"):
            lines += ["| 4.保护第 |", "| 三方合法权益 | " + " | ".join(cells[1:]) + " |"]
        else:
            lines.append(ln)
    r = process_bytes("\n".join(lines).encode(), "detached.md")
    got = {(c.key1, c.key2): c.value for c in r.cells if c.table == "applications"}
    for key in ("other_other", "denied_internal_affairs", "denied_third_party_rights"):
        for a in gl.APPLICANTS:
            assert got.get((key, a)) == (None if want[(key, a)] is None else Decimal(str(want[(key, a)])))
    assert [got.get(("other_other", a)) for a in gl.APPLICANTS] == [
        None if v is None else Decimal(str(v)) for v in other]
    assert r.source_format == "markdown" and not (r.agency or "").startswith("#")


# --- metadata ------------------------------------------------------------------------------------------------

def test_site_chrome_is_never_the_agency() -> None:
    g = GOLDS[0]
    _, data, gold = gl.render(g, "crawler_oneline", 14)
    text = "栏目: 政府信息公开年报\n来源：某市人民政府门户网站\n首页 > 政务公开 > 年报\n" + data.decode()
    r = process_bytes(text.encode(), "dump.txt")
    assert r.agency == gold["agency"] or (r.agency and r.agency in gold["agency"]), r.agency
    assert "栏目" not in (r.title or "") and "栏目" not in (r.agency or "")


def _blank_template(year_line: str = "") -> bytes:
    lines = ["政府信息公开工作年度报告", year_line, "一、总体情况", "（填写总体情况）", "二、主动公开政府信息情况",
             "第二十条第（一）项", "信息内容\t本年制发件数\t本年废止件数\t现行有效件数", "规章\t\t\t",
             "行政规范性文件\t\t\t", "三、收到和处理政府信息公开申请情况", "（填写）", "四、政府信息公开行政复议、行政诉讼情况",
             "（填写）", "五、存在的主要问题及改进情况", "（填写）", "六、其他需要报告的事项", "（填写）"]
    return "\n".join(x for x in lines if x).encode()


def test_a_report_without_a_year_gets_none_and_a_check() -> None:
    r = process_bytes(_blank_template(), "/in/blank-template.txt")
    assert r.report_year is None
    assert [p.check for p in r.problems if p.check.startswith("year_")] == ["year_not_found"]
    plan = assign_years([r], None)
    assert r.report_id not in plan.year_of and plan.years == []  # no partition, no invented year
    assert r.status == "failed" and r.error == "year_not_found" and not r.cells
    # with a batch year the user named, the report goes there
    r2 = process_bytes(_blank_template(), "/in/blank-template.txt")
    assert assign_years([r2], 2023).year_of[r2.report_id] == 2023


def test_year_from_the_file_name_or_folder_when_the_document_has_none() -> None:
    r = process_bytes(_blank_template(), "/in/2022/blank-template.txt")
    assert r.report_year == 2022 and any(p.check == "year_from_path" for p in r.problems)
    r = process_bytes(_blank_template(), "/in/x/某县2021年报.txt")
    assert r.report_year == 2021
    r = process_bytes(_blank_template("统计期限为2020年1月1日至2020年12月31日。"), "/in/2022/t.txt")
    assert r.report_year == 2020  # the document wins over its folder


# --- numbers exactly as printed ------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("5949.088667", "5949.088667"), ("123456.789012", "123456.789012"), ("５９４９．０８８６６７", "5949.088667"),
    ("1,234,567.123456", "1234567.123456"), ("0.000000000001", "0.000000000001"), ("-18", "-18"),
    ("12345678901234567890.123456789012345678", "12345678901234567890.123456789012345678"),
])
def test_printed_numbers_parse_exactly(raw: str, value: str) -> None:
    pv = parse_value(raw)
    assert pv.kind == "number" and pv.value == Decimal(value) and format(pv.value, "f") == value


def test_a_number_the_column_cannot_hold_is_not_rounded() -> None:
    assert parse_value("1.1234567890123456789").kind == "text"  # 19 decimals: kept as raw text only
    assert parse_value("123456789012345678901").kind == "text"  # 21 integer digits


def test_long_decimals_round_trip_through_parquet_and_duckdb(tmp_path: Path) -> None:
    g = next(g for g in GOLDS if g["template"] == "2021")
    ext, data, gold = gl.render(g, "long_decimals", 14)
    text = data.decode()
    fee = next(c for c in gold["cells"] if c["key1"] == "fees")
    printed = next(ln for ln in text.split("\n") if ln.startswith("行政事业性收费")).split("\t")[1]
    for raw in ("5949.088667", "123456.789012"):
        one = text.replace(f"行政事业性收费\t{printed}", f"行政事业性收费\t{raw}")
        r = process_bytes(one.encode(), f"fees-{raw}.{ext}")
        lin = Lineage("b", None)
        out = tmp_path / raw
        frames = validate_frames(build_frames([r], {r.report_id: 2022}, lin), lin, "p")
        write_partitions(frames, out, [2022], "b")
        df = read_dataset(out, "proactive_disclosure").filter(pl.col("category") == "fees")
        assert df["value"].to_list() == [Decimal(raw)] and df["raw"].to_list() == [raw]
        got = duckdb.sql(f"select value::varchar from read_parquet('{out}/proactive_disclosure/*/*.parquet') "
                         "where category = 'fees'").fetchall()
        assert Decimal(got[0][0]) == Decimal(raw)
    assert fee["value"] is not None


# --- variants ----------------------------------------------------------------------------------------------

def test_every_variant_names_a_template_key_and_no_two_keys_share_one() -> None:
    keys = {r.key for t in TABLES.values() for r in t.rows} | {m for t in TABLES.values() for r in t.rows
                                                                for m in r.metrics}
    by_norm: dict[tuple[str, str], set[str]] = {}
    for v in VARIANTS:
        assert v.evidence and (v.key in keys or v.key.startswith("section:")), v
        table = next((t.key for t in TABLES.values() if v.key in {r.key for r in t.rows}), "column")
        by_norm.setdefault((table, normalize_label(v.text)), set()).add(v.key)
    clashes = {k: s for k, s in by_norm.items() if len(s) > 1}
    assert not clashes
    # the national template carries no misprint any more
    labels = {lab for t in TABLES.values() for r in t.rows for lab in r.labels}
    assert "其他法律行政止公开" not in labels and all(v.text not in labels for v in VARIANTS if "misprint" in v.evidence)


def test_gold_files_of_the_generator_match_the_published_keys() -> None:
    for g, cls in itertools.product(GOLDS[:2], gl.CLASSES[:2]):
        _, _, gold = gl.render(g, cls, 14)
        assert {c["table"] for c in gold["cells"]} == {"proactive_disclosure", "applications", "reviews_litigation"}
        json.dumps(gold)


def test_a_folder_walk_reads_markdown(tmp_path: Path) -> None:
    from nianbao.ingest.sources import expand_sources

    g = GOLDS[0]
    _, data, gold = gl.render(g, "markdown_pipe", 14)
    (tmp_path / "report.md").write_bytes(data)
    (tmp_path / "notes.markdown").write_bytes(data)
    items = expand_sources([str(tmp_path)])
    assert sorted(Path(i.uri).name for i in items) == ["notes.markdown", "report.md"]
    r = process_bytes((tmp_path / "report.md").read_bytes(), items[0].uri)
    assert r.source_format == "markdown" and r.status != "failed" and r.report_year == gold["year"]
