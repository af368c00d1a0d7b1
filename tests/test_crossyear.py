"""Cross-year checks on generated multi-year batches with planted breaks.

The generator here (``make_report``, ``planted_batch``, ``publish_texts``) writes small synthetic
text reports by editing a copy of data/samples/seed-000-mulan-liuhe-2022.txt (title, year, table
numbers, a few prose sentences) and runs the pure pipeline + publish. The other BI tests
(test_catalog, test_textchecks, test_quality_report) import it from here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT

from nianbao.bi.agency import link_agencies
from nianbao.bi.crossyear import CROSSYEAR_DATASET, crossyear_checks, run_crossyear_checks
from nianbao.pipeline import process_bytes
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, validate_frames, write_partitions
from nianbao.results import ReportResult
from nianbao.template import APPLICANTS, APPLICATIONS_2019, APPLICATIONS_2021
from nianbao.validate.textchecks import check_text_vs_table
from schemas import VALUE_DTYPE, pandera_schema, polars_schema

SEED = ROOT / "data" / "samples" / "seed-000-mulan-liuhe-2022.txt"
PARTS = [a.key for a in APPLICANTS if a.key != "total"]


# --- the generator ------------------------------------------------------------------------------

@dataclass
class Body:
    """One year of a synthetic body: numbers of the three tables and prose sentences."""

    title_agency: str
    year: int
    new: list[int]
    over: list[int]
    granted: list[int]
    not_held: list[int]
    rules: tuple[int, int, int] = (0, 0, 0)  # issued, repealed, in_force
    normative: tuple[int, int, int] = (0, 0, 0)
    decisions: tuple[int, int, int] = (0, 0, 0)  # licensing, penalties, coercive
    fees: str = "0"
    reviews: tuple[tuple[int, int, int, int], ...] = ((0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0))
    template: str = "2021"
    prose: dict[int, list[str]] = field(default_factory=dict)  # section number -> sentences

    @property
    def forward(self) -> list[int]:
        return [n + o - g - h for n, o, g, h in zip(self.new, self.over, self.granted, self.not_held, strict=True)]


def _row(values: Sequence[int]) -> list[str]:
    return [str(v) for v in values] + [str(sum(values))]


def _apps_rows(b: Body) -> dict[str, list[str]]:
    zero = [0] * 6
    handled = [g + h for g, h in zip(b.granted, b.not_held, strict=True)]
    rows = {k: _row(zero) for k in APPLICATIONS_2021.row_keys + APPLICATIONS_2019.row_keys}
    rows.update(new_received=_row(b.new), carried_over=_row(b.over), granted=_row(b.granted),
                unavailable_not_held=_row(b.not_held), total_handled=_row(handled), carried_forward=_row(b.forward))
    return rows


def make_report(b: Body) -> bytes:
    """Given a synthetic body-year, return the bytes of a text report in the seed's layout."""
    assert all(f >= 0 for f in b.forward), b
    lines = SEED.read_text(encoding="utf-8").splitlines()
    apps = _apps_rows(b)
    app_keys = iter(APPLICATIONS_2021.row_keys)
    out: list[str] = []
    section = 0
    for line in lines:
        head = re.match(r"^([一二三四五六])、", line)
        if head and "\t" not in line:
            section = "一二三四五六".index(head.group(1)) + 1
            out.append(line)
            out.extend(["", *b.prose.get(section, [])] if b.prose.get(section) else [])
            continue
        if "政府信息公开工作年度报告" in line and section == 0:
            out.append(f"{b.title_agency} {b.year} 年 政府信息公开工作年度报告")
            continue
        if "\t" not in line or section not in (2, 3, 4):
            out.append(line.replace("2022", str(b.year)))
            continue
        fields = line.split("\t")
        nums = [i for i, f in enumerate(fields) if f.strip().isdigit()]
        if not nums:
            out.append(line)
            continue
        if section == 2:
            label = fields[0].strip()
            values = {"规章": b.rules, "行政规范性文件": b.normative, "行政许可": b.decisions[:1],
                      "行政处罚": b.decisions[1:2], "行政强制": b.decisions[2:], "行政事业性收费": (b.fees,)}[label]
            for i, v in zip(nums, values, strict=True):
                fields[i] = str(v)
            out.append("\t".join(fields))
        elif section == 3:
            key = next(app_keys)
            label = [f for f in fields[: nums[0]]]
            if key in ("other_no_correction", "other_no_fee_paid") and b.template == "2019":
                continue
            if key == "other_other" and b.template == "2019":
                out.append("\t".join(["", "(六) 其他处理", *apps["other_handling"]]))
                continue
            out.append("\t".join([*label, *apps[key]]) if key != "carried_forward"
                       else "\t".join(["", "四、结转下年度继续办理", *apps[key]]))
        else:
            vals = [x for r in b.reviews for x in (*r, sum(r))]
            out.append("\t".join(str(v) for v in vals))
    if b.template == "2019":
        text = "\n".join(out)
        old = text[text.index("第二十条第（一）项"): text.index("三、收到和处理")]
        new = ("第二十条第（一）项\t\t\t\n信息内容\t本年新制作数量\t本年新公开数量\t对外公开总数量\n"
               f"规章\t{b.rules[0]}\t{b.rules[0]}\t{b.rules[2]}\n规范性文件\t{b.normative[0]}\t{b.normative[0]}\t"
               f"{b.normative[2]}\n第二十条第（五）项\t\t\t\n信息内容\t上一年项目数量\t本年增/减\t处理决定数量\n"
               f"行政许可\t3\t0\t{b.decisions[0]}\n其他对外管理服务事项\t0\t0\t0\n第二十条第（六）项\t\t\t\n"
               f"信息内容\t上一年项目数量\t本年增/减\t处理决定数量\n行政处罚\t2\t0\t{b.decisions[1]}\n"
               f"行政强制\t0\t0\t{b.decisions[2]}\n第二十条第（八）项\t\t\t\n信息内容\t上一年项目数量\t本年增/减\t\n"
               "行政事业性收费\t1\t0\t\n第二十条第（九）项\t\t\t\n信息内容\t采购项目数量\t采购总金额\t\n"
               "政府集中采购\t2\t251000元\t\n\n")
        return text.replace(old, new).encode("utf-8")
    return "\n".join(out).encode("utf-8")


def chain(title_agencies: Sequence[str], years: Sequence[int], *, start_over: Sequence[int], news: Sequence[list[int]],
          granted_frac: int = 2, start_in_force: tuple[int, int] = (10, 40), templates: Sequence[str] | None = None,
          ) -> list[Body]:
    """Consistent consecutive years of one body: carried_over(Y+1) = carried_forward(Y), in_force chained."""
    out: list[Body] = []
    over = list(start_over)
    rules_if, norm_if = start_in_force
    for k, (agency, year, new) in enumerate(zip(title_agencies, years, news, strict=True)):
        granted = [(n + o) // granted_frac for n, o in zip(new, over, strict=True)]
        not_held = [1 if n + o - g > 1 else 0 for n, o, g in zip(new, over, granted, strict=True)]
        r_iss, r_rep, n_iss, n_rep = 1 + k % 2, k % 2, 3 + k, 1
        rules_if, norm_if = rules_if + r_iss - r_rep, norm_if + n_iss - n_rep
        b = Body(agency, year, list(new), list(over), granted, not_held, rules=(r_iss, r_rep, rules_if),
                 normative=(n_iss, n_rep, norm_if), decisions=(20 + k, 5 + k, k), fees=f"{4 + k}.2",
                 reviews=((1, 0, 0, 0), (0, 1, 0, 1), (0, 0, 0, 0)),
                 template=(templates[k] if templates else "2021"))
        out.append(b)
        over = b.forward
    return out


def clean_prose(b: Body) -> dict[int, list[str]]:
    """Prose that agrees with the tables, plus decoys that must never be flagged."""
    new_total, over_total = sum(b.new), sum(b.over)
    admin = sum(b.reviews[0])
    lit = sum(b.reviews[1]) + sum(b.reviews[2])
    return {
        1: [f"{b.year}年，本机关新收政府信息公开申请{new_total}件，较上年新收申请增加3件。",
            f"本年度共收到政府信息公开申请{new_total + over_total}件（含上年结转）。",
            f"{b.year - 1}年新收政府信息公开申请999件。",
            "司法所全年办理行政复议案件120件。",
            f"本年制发行政规范性文件{b.normative[0]}件。"],
        2: [f"行政事业性收费金额为{b.fees}万元。", "收取信息处理费0.3万元。"],
        4: [f"本年度因政府信息公开被申请行政复议{admin}件，行政诉讼{lit}件。",
            "行政复议和行政诉讼各0件的情况已消除。"],
    }


@dataclass
class Planted:
    bodies: dict[str, list[Body]]
    # (body name, year, check, key1, key2) of every planted break
    crossyear: set[tuple[str, int, str, str, str]]
    text: set[tuple[str, int, str]]  # (body name, year, check)


def planted_batch() -> Planted:
    """Six bodies over 2020–2023, with known cross-year and text-vs-table breaks."""
    bodies: dict[str, list[Body]] = {}
    # A: clean chain over four years, printed names vary, 2020 uses the 2019 template.
    bodies["A"] = chain(["木兰县柳河镇人民政府", "木兰县柳河镇", "木兰县 柳河镇政府", "木兰县柳河镇人民政府"],
                        [2020, 2021, 2022, 2023], start_over=[1, 0, 0, 0, 0, 0],
                        news=[[5, 1, 0, 0, 1, 0], [7, 2, 1, 0, 0, 1], [4, 0, 0, 1, 0, 0], [9, 3, 0, 0, 1, 2]],
                        templates=["2019", "2021", "2021", "2021"])
    # B: 2021–2022 with a carried-over break (natural_person, hence total) and an in_force break.
    b = chain(["宝清县七星泡镇人民政府", "宝清县七星泡镇人民政府"], [2021, 2022], start_over=[2, 1, 0, 0, 0, 0],
              news=[[6, 2, 0, 0, 0, 1], [8, 1, 1, 0, 0, 0]])
    b[1].over[0] += 2
    b[1].normative = (b[1].normative[0], b[1].normative[1], b[1].normative[2] + 5)
    bodies["B"] = b
    # C: clean 2022–2023 chain, the 2023 prose contradicts its tables four ways.
    c = chain(["友谊县新镇乡人民政府", "友谊县新镇乡人民政府"], [2022, 2023], start_over=[0, 0, 0, 0, 0, 0],
              news=[[3, 0, 0, 0, 0, 0], [10, 0, 0, 0, 0, 0]])
    bodies["C"] = c
    # D and E: 通河县柳河镇 (2022) and a region-less 柳河镇政府 (2021) that could be A or D: ambiguous.
    bodies["D"] = chain(["通河县柳河镇人民政府"], [2022], start_over=[4, 4, 0, 0, 0, 0], news=[[1, 1, 1, 1, 1, 1]])
    bodies["E"] = chain(["柳河镇政府"], [2021], start_over=[0, 0, 0, 0, 0, 0], news=[[30, 0, 0, 0, 0, 5]],
                        start_in_force=(0, 0))
    # F + G: 临江市桦树镇 2021 and 2023, 桦树镇 2022 (linked by its only candidate); break at 2023 (other_org).
    fg = chain(["临江市桦树镇人民政府", "桦树镇人民政府", "临江市桦树镇人民政府"], [2021, 2022, 2023],
               start_over=[0, 0, 0, 0, 0, 3], news=[[2, 0, 0, 0, 0, 4], [1, 0, 0, 0, 0, 6], [3, 0, 0, 0, 0, 1]])
    fg[2].over[5] += 1
    bodies["F"] = [fg[0], fg[2]]
    bodies["G"] = [fg[1]]
    for years in bodies.values():
        for body in years:
            body.prose = clean_prose(body)
    c23 = c[1]
    c23.prose = {
        1: [f"2023年，本机关新收政府信息公开申请{sum(c23.new) + 2}件。"],
        2: [f"行政事业性收费金额为{Decimal(c23.fees) + Decimal('1.3')}万元。"],
        4: [f"本年度因政府信息公开被申请行政复议{sum(c23.reviews[0]) + 2}件，"
            f"行政诉讼{sum(c23.reviews[1]) + sum(c23.reviews[2]) + 2}件。"],
    }
    crossyear = {("B", 2022, "crossyear_carried_forward", "carried_over", "natural_person"),
                 ("B", 2022, "crossyear_carried_forward", "carried_over", "total"),
                 ("B", 2022, "crossyear_in_force", "normative_documents", "in_force"),
                 ("F", 2023, "crossyear_carried_forward", "carried_over", "other_org"),
                 ("F", 2023, "crossyear_carried_forward", "carried_over", "total")}
    text = {("C", 2023, "text_vs_table_new_received"), ("C", 2023, "text_vs_table_fees"),
            ("C", 2023, "text_vs_table_administrative_review"), ("C", 2023, "text_vs_table_litigation")}
    return Planted(bodies, crossyear, text)


def process(planted: Planted) -> tuple[list[ReportResult], dict[str, tuple[str, int]]]:
    """Run the pure pipeline (plus the text checks, if the pipeline does not run them yet) on every body-year;
    return the results and report_id -> (body name, year)."""
    results: list[ReportResult] = []
    who: dict[str, tuple[str, int]] = {}
    for name, years in sorted(planted.bodies.items()):
        for b in years:
            r = process_bytes(make_report(b), f"synthetic/{name}-{b.year}.txt")
            if not any(p.check.startswith("text_vs_table_") for p in r.problems):
                r.problems.extend(check_text_vs_table(r))
            results.append(r)
            who[r.report_id] = (name, b.year)
    return results, who


def publish_results(out: Path, results: list[ReportResult], batch: str = "synthetic") -> None:
    """Publish results year by year, each year as its own batch (as the annual flow does)."""
    by_year: dict[int, list[ReportResult]] = {}
    for r in results:
        assert r.report_year is not None
        by_year.setdefault(r.report_year, []).append(r)
    for year, rs in sorted(by_year.items()):
        lin = Lineage(f"{batch}-{year}", None)
        frames = validate_frames(build_frames(rs, {r.report_id: year for r in rs}, lin), lin, rs[0].parser_version)
        write_partitions(frames, out, [year], f"{batch}-{year}")


def publish_planted(out: Path) -> tuple[Planted, list[ReportResult], dict[str, tuple[str, int]]]:
    planted = planted_batch()
    results, who = process(planted)
    publish_results(out, results)
    return planted, results, who


# --- tests -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planted, list[ReportResult], dict]:
    out = tmp_path_factory.mktemp("crossyear")
    planted, results, who = publish_planted(out)
    return out, planted, results, who


def test_generated_reports_parse_cleanly(published: tuple) -> None:
    """The generator's reports parse to the numbers planted and, apart from planted text breaks, balance."""
    _, planted, results, who = published
    for r in results:
        name, year = who[r.report_id]
        assert r.status == "ok", (name, year, r.problems)
        assert r.report_year == year
        unexpected = [p for p in r.problems if not p.check.startswith("text_vs_table_")]
        assert not unexpected, (name, year, unexpected)
        b = next(x for x in planted.bodies[name] if x.year == year)
        cells = {(c.table, c.key1, c.key2): c.value for c in r.cells}
        assert cells[("applications", "carried_over", "natural_person")] == b.over[0]
        assert cells[("applications", "carried_forward", "total")] == sum(b.forward)
        assert r.table_templates["applications"] == b.template
        if b.template == "2021":
            assert cells[("proactive_disclosure", "normative_documents", "in_force")] == b.normative[2]


def test_every_planted_crossyear_break_is_reported_and_no_clean_pair(published: tuple) -> None:
    out, planted, _, who = published
    issues = run_crossyear_checks(out)
    got = {(who[r["report_id"]][0], r["report_year"], r["check"], r["key1"], r["key2"])
           for r in issues.filter(pl.col("check") != "crossyear_agency_ambiguous").iter_rows(named=True)}
    assert got == planted.crossyear
    # Attributed to the later year's report, compared with the earlier one.
    for r in issues.filter(pl.col("check") == "crossyear_carried_forward").iter_rows(named=True):
        assert r["related_year"] == r["report_year"] - 1 and r["severity"] == "error"
    row = issues.filter(pl.col("check") == "crossyear_in_force").row(0, named=True)
    b22 = planted.bodies["B"][1]
    assert row["actual"] == str(b22.normative[2]) and row["expected"] == str(b22.normative[2] - 5)
    # The region-less 柳河镇 is reported as ambiguous, never merged (no issue on A, D or E otherwise).
    amb = issues.filter(pl.col("check") == "crossyear_agency_ambiguous")
    assert {who[r][0] for r in amb["report_id"].to_list()} == {"E"}
    assert amb["severity"].to_list() == ["info"]


def test_crossyear_dataset_is_one_file_rewritten_and_valid(published: tuple) -> None:
    out, *_ = published
    first = run_crossyear_checks(out)
    files = sorted(p.name for p in (out / CROSSYEAR_DATASET).iterdir())
    assert files == ["crossyear_issues.parquet"]  # one file, no temp left behind
    back = pl.read_parquet(out / CROSSYEAR_DATASET / "crossyear_issues.parquet")
    assert back.drop("batch_id").equals(first.drop("batch_id"))
    pandera_schema("validation_issues").validate(back.select(list(polars_schema("validation_issues"))), lazy=True)
    # Year partitions stay independent: validation_issues holds no cross-year rows.
    vi = read_dataset(out, "validation_issues")
    assert not vi.filter(pl.col("check").str.starts_with("crossyear_")).height


def test_republishing_a_year_reruns_the_checks(tmp_path: Path) -> None:
    """Fixing the 2022 report of B and republishing 2022 alone clears its breaks on the next run."""
    planted, results, who = publish_planted(tmp_path)
    assert run_crossyear_checks(tmp_path).filter(pl.col("check") != "crossyear_agency_ambiguous").height == 5
    b21, b22 = planted.bodies["B"]
    b22.over = list(b21.forward)
    b22.normative = (b22.normative[0], b22.normative[1], b21.normative[2] + b22.normative[0] - b22.normative[1])
    fixed = process_bytes(make_report(b22), "synthetic/B-2022-fixed.txt")
    rest = [r for r in results if r.report_year == 2022 and who[r.report_id][0] != "B"]
    publish_results(tmp_path, [*rest, fixed], batch="fix")
    again = run_crossyear_checks(tmp_path).filter(pl.col("check") != "crossyear_agency_ambiguous")
    assert {r for r in again["report_year"].to_list()} == {2023}  # only F's planted 2023 break is left


def test_checks_of_the_years_touched_equal_a_full_run(tmp_path: Path) -> None:
    """After republishing 2022 with B fixed, checking only the pairs that touch 2022 (``years=[2022]``) gives
    exactly what checking every year gives; the other years' issues are kept from the last run."""
    planted, results, who = publish_planted(tmp_path)
    before = run_crossyear_checks(tmp_path)
    assert {r for r in before["report_year"].to_list()} >= {2022, 2023}
    b21, b22 = planted.bodies["B"]
    b22.over = list(b21.forward)
    fixed = process_bytes(make_report(b22), "synthetic/B-2022-fixed.txt")
    rest = [r for r in results if r.report_year == 2022 and who[r.report_id][0] != "B"]
    publish_results(tmp_path, [*rest, fixed], batch="fix")
    touched = run_crossyear_checks(tmp_path, years=[2022]).drop("batch_id")
    full = run_crossyear_checks(tmp_path).drop("batch_id")
    assert touched.equals(full)
    assert not touched.equals(before.drop("batch_id"))  # the fix changed something: the comparison can fail


def test_crossyear_checks_skip_non_numbers_and_other_templates() -> None:
    """A blank or '/' is never read as 0, and a 2019-template year has no in_force chain."""
    reports = pl.DataFrame({"report_id": ["a", "b"], "report_year": [2021, 2022],
                            "agency": ["某县某镇", "某县某镇人民政府"], "status": ["ok", "ok"]})

    def cells(rid: str, rows: list[tuple[str, str, str | None, str]], k1: str, k2: str) -> pl.DataFrame:
        return pl.DataFrame([{"report_id": rid, k1: a, k2: b, "value": Decimal(v) if v is not None else None,
                              "value_kind": kind, "template": "2021"} for a, b, v, kind in rows],
                            schema={"report_id": pl.String, k1: pl.String, k2: pl.String,
                                    "value": VALUE_DTYPE, "value_kind": pl.String, "template": pl.String})
    apps = pl.concat([
        cells("a", [("carried_forward", "natural_person", None, "blank"), ("carried_forward", "total", "3", "number")],
              "row", "applicant"),
        cells("b", [("carried_over", "natural_person", "0", "number"), ("carried_over", "total", "3", "number")],
              "row", "applicant")])
    pro = pl.concat([
        cells("a", [("rules", "in_force", "5", "number")], "category", "metric"),
        cells("b", [("rules", "issued", None, "not_applicable"), ("rules", "repealed", "0", "number"),
                    ("rules", "in_force", "9", "number")], "category", "metric")])
    assert crossyear_checks(reports, apps, pro).height == 0
    pro19 = pro.with_columns(pl.when(pl.col("report_id") == "a").then(pl.lit("2019")).otherwise("template")
                             .alias("template"))
    pro_num = pro19.with_columns(pl.when(pl.col("metric") == "issued").then(Decimal(1)).otherwise("value")
                                 .alias("value"), pl.lit("number").alias("value_kind"))
    assert crossyear_checks(reports, apps, pro_num).height == 0  # 2019 template in 2021: no chain
    assert crossyear_checks(reports, apps, pro_num.with_columns(pl.lit("2021").alias("template"))).height == 1
    links = link_agencies(reports.select("report_id", "report_year", "agency").iter_rows())
    assert {k.body_key for k in links} == {"某县某镇"}
