#!/usr/bin/env python3
"""Generate realistic synthetic 政府信息公开工作年度报告 test documents with gold files.

Usage (from the repo root)::

    python tools/generate_fixtures.py [--out tests/fixtures/generated] [--count N] [--seed S]
                                      [--bad [--bad-out tests/fixtures/bad]] [--check]

Every document is a full report: title line "<agency><year>年政府信息公开工作年度报告", an intro
paragraph naming the six section titles in prose, the six section headings with prose, the three
national-template tables (T1 proactive_disclosure in 二, T2 applications in 三, T3
reviews_litigation in 四) in the official merged layout, and a signature (agency + date).

Each document ``<stem>.<ext>`` gets ``<stem>.json`` next to it in the corpus gold format
(``source_name`` = stem, ``agency``, ``year``, ``template`` "2019"/"2021", ``cells`` =
[{table, key1, key2, value}] covering every cell of the three tables) plus these extra fields:

* ``format``: "pdf" | "docx" | "html";  ``variant``: the variant name (see VARIANTS below);
  ``features``: list of tags: blank_cells, slash_cells, broken_identity, amount_with_unit (2019
  procurement amount printed "652700元"), tblheader, long_prose (padded prose before T2),
  table_split (T2 measured on more than one PDF page), split_row, fake_bold, grid, three_line,
  no_rules, embedded_font, cid_font, libreoffice, python_docx, gbk, gbk_meta, no_charset,
  same_content;
* ``sections``: the six section headings as printed;
* ``broken_identities``: list (empty when the report balances) of every identity that fails on
  the printed values, blank and "/" cells counted as 0.  One entry per failing check:

  - ``{"check": "applications_row_total", "row": ROW}``: total column != sum of the 6 applicant
    columns for that row;
  - ``{"check": "applications_total_handled", "applicant": COL}``: (七)总计 != sum of the
    handling-result rows in that column (COL may be ``total``);
  - ``{"check": "applications_balance", "applicant": COL}``: 一 + 二 != (七)总计 + 四 in that column;
  - ``{"check": "reviews_total", "proceeding": PROC}``: 总计 != sum of the 4 outcomes.

  ``injected`` describes the deliberate change that caused them;
* cells printed blank have ``value: null``; cells printed "/" have ``value: null`` and
  ``raw: "/"`` (value_kind not_applicable).  No other cell has a ``raw`` field;
* ``split_row`` (PDFs whose T2 has a body row broken across two pages, LibreOffice or reportlab
  ``splitInRow``): that row's key;  ``t2_pages`` (PDFs): number of pages T2 is printed on;
* ``same_content_as``: stem of another document with the same report (agency, year, tables,
  values): a DOCX and its LibreOffice PDF (the PDF of a tblHeader pair has extra padding prose).

Deterministic for a given --seed (report content, DOCX zip entries and PDF dates/IDs are fixed).
Needs python-docx, reportlab, pdfplumber, pypdfium2, pillow and lxml (for --check), and the Debian
packages fonts-wqy-zenhei fonts-noto-cjk libreoffice-writer-nogui (poppler-utils, plus poppler-data
for the non-embedded STSong-Light PDFs, only to look at pages with pdftoppm).  LibreOffice runs
with a private profile and tools/fontconfig/fonts.conf, which maps
宋体/仿宋_GB2312/楷体_GB2312/黑体/方正小标宋简体 to Noto CJK.

--bad writes broken inputs to --bad-out (default tests/fixtures/bad): an image-only scan, an
encrypted PDF (user password "nianbao"), a truncated PDF, a zero-byte file, a text file named .pdf
and a PDF whose fonts have no ToUnicode map (text extracts as (cid:N)); expected.json there says
what each is.

--scan writes image-only scans of some of the PDFs in --out to --scan-out (default tests/fixtures/scanned;
see SCANS): pages rendered at 200 dpi, black and white (CCITT G4), no text layer, with the source's gold
JSON (``variant: "scan"``); one copy has a digit of table 3 painted over with another digit, as an OCR
misreading would give it (its gold keeps the printed value). Needs the fonts-wqy-zenhei font for that digit.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FONTCONFIG = REPO / "tools" / "fontconfig" / "fonts.conf"
WQY_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

# --------------------------------------------------------------------------------------------
# Template definitions (keys from shared/reference/template.md)
# --------------------------------------------------------------------------------------------

APPLICANTS = ["natural_person", "commercial_enterprise", "research_institution",
              "public_interest_org", "legal_service_org", "other_org", "total"]
APPLICANT_COLS = APPLICANTS[:6]

# (row key, group label (col 1) or None, leaf label)
DENIED = [
    ("denied_state_secret", "1.属于国家秘密"),
    ("denied_prohibited_by_law", "2.其他法律行政法规禁止公开"),
    ("denied_security_stability", "3.危及“三安全一稳定”"),
    ("denied_third_party_rights", "4.保护第三方合法权益"),
    ("denied_internal_affairs", "5.属于三类内部事务信息"),
    ("denied_process_information", "6.属于四类过程性信息"),
    ("denied_enforcement_files", "7.属于行政执法案卷"),
    ("denied_inquiry_matters", "8.属于行政查询事项"),
]
UNAVAILABLE = [
    ("unavailable_not_held", "1.本机关不掌握相关政府信息"),
    ("unavailable_needs_creation", "2.没有现成信息需要另行制作"),
    ("unavailable_unclear", "3.补正后申请内容仍不明确"),
]
NOT_PROCESSED = [
    ("not_processed_complaint", "1.信访举报投诉类申请"),
    ("not_processed_duplicate", "2.重复申请"),
    ("not_processed_publication", "3.要求提供公开出版物"),
    ("not_processed_excessive", "4.无正当理由大量反复申请"),
    ("not_processed_confirmation", "5.要求行政机关确认或重新出具已获取信息"),
]
OTHER_2021 = [
    ("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("other_no_fee_paid", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("other_other", "3.其他"),
]


def outcome_rows(template):
    rows = ["granted", "partially_granted"] + [k for k, _ in DENIED] + [k for k, _ in UNAVAILABLE] \
        + [k for k, _ in NOT_PROCESSED]
    rows += [k for k, _ in OTHER_2021] if template == "2021" else ["other_handling"]
    return rows


def app_rows(template):
    return ["new_received", "carried_over"] + outcome_rows(template) + ["total_handled", "carried_forward"]


T1_2021 = [("rules", ["issued", "repealed", "in_force"]),
           ("normative_documents", ["issued", "repealed", "in_force"]),
           ("licensing", ["decisions"]), ("penalties", ["decisions"]),
           ("coercive_measures", ["decisions"]), ("fees", ["amount"])]
T1_2019 = [("rules", ["new_made", "new_published", "total_published"]),
           ("normative_documents", ["new_made", "new_published", "total_published"]),
           ("licensing", ["prior_year_items", "change", "decisions"]),
           ("other_external_services", ["prior_year_items", "change", "decisions"]),
           ("penalties", ["prior_year_items", "change", "decisions"]),
           ("coercive_measures", ["prior_year_items", "change", "decisions"]),
           ("fees", ["prior_year_items", "change"]),
           ("central_procurement", ["items", "amount"])]
PROCEEDINGS = ["administrative_review", "litigation_direct", "litigation_after_review"]
OUTCOMES = ["upheld", "corrected", "other", "pending", "total"]

SECTION_TITLES = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                  "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]

# --------------------------------------------------------------------------------------------
# Variants.  Each entry: (variant name, format, options).  The plan lists documents in an order
# that spreads variants and templates; --count N takes the first N.
# --------------------------------------------------------------------------------------------

VARIANTS = {
    "docx-plain": dict(fmt="docx", producer="docx"),
    "docx-tblheader": dict(fmt="docx", producer="docx", tblheader=True, long_prose=True),
    "lo-pdf": dict(fmt="pdf", producer="lo"),
    "lo-pdf-tblheader": dict(fmt="pdf", producer="lo", tblheader=True, long_prose=True),
    "lo-pdf-split": dict(fmt="pdf", producer="lo", long_prose=True, want_split_row=True),
    "lo-html": dict(fmt="html", producer="lo-html"),
    "lo-html-gbk-meta": dict(fmt="html", producer="lo-html", gbk="meta"),
    "lo-html-gbk-nocharset": dict(fmt="html", producer="lo-html", gbk="none"),
    "rl-emb-grid": dict(fmt="pdf", producer="rl", font="emb", rules="grid"),
    "rl-emb-threeline": dict(fmt="pdf", producer="rl", font="emb", rules="three_line"),
    "rl-emb-norules": dict(fmt="pdf", producer="rl", font="emb", rules="none"),
    "rl-emb-fakebold": dict(fmt="pdf", producer="rl", font="emb", rules="grid", fake_bold=True),
    "rl-emb-split": dict(fmt="pdf", producer="rl", font="emb", rules="grid", long_prose=True),
    "rl-cid-grid": dict(fmt="pdf", producer="rl", font="cid", rules="grid"),
    "rl-cid-threeline": dict(fmt="pdf", producer="rl", font="cid", rules="three_line"),
    "rl-cid-norules": dict(fmt="pdf", producer="rl", font="cid", rules="none"),
    "rl-cid-fakebold": dict(fmt="pdf", producer="rl", font="cid", rules="grid", fake_bold=True),
    "rl-cid-split": dict(fmt="pdf", producer="rl", font="cid", rules="grid", long_prose=True),
}

# (variant, same_content_as_plan_index or None).  46 documents.
PLAN = [
    ("docx-plain", None), ("lo-pdf", 0), ("rl-emb-grid", None), ("rl-cid-grid", None),
    ("lo-html", None), ("docx-plain", None), ("lo-pdf", 5), ("rl-emb-threeline", None),
    ("rl-cid-threeline", None), ("lo-pdf-split", None), ("rl-emb-fakebold", None),
    ("rl-cid-fakebold", None), ("docx-tblheader", None), ("lo-pdf-tblheader", 12),
    ("rl-emb-norules", None), ("rl-cid-norules", None), ("lo-html-gbk-meta", None),
    ("rl-emb-split", None), ("rl-cid-split", None), ("lo-pdf-split", None),
    ("lo-html-gbk-nocharset", None), ("docx-tblheader", None), ("lo-pdf-tblheader", 21),
    ("lo-html", None), ("rl-emb-grid", None), ("rl-cid-grid", None), ("lo-pdf", None),
    ("rl-emb-threeline", None), ("rl-cid-threeline", None), ("rl-emb-fakebold", None),
    ("rl-cid-fakebold", None), ("rl-emb-norules", None), ("rl-cid-norules", None),
    ("lo-html-gbk-meta", None), ("rl-emb-split", None), ("rl-cid-split", None),
    ("lo-html-gbk-nocharset", None), ("lo-pdf", None), ("docx-plain", None), ("lo-pdf-split", None),
    ("rl-emb-grid", None), ("rl-cid-grid", None), ("lo-html", None), ("docx-plain", None),
    ("rl-emb-split", None), ("rl-cid-split", None),
]

# Cross-cutting printing features by plan index (each on several formats and both templates).
BROKEN_AT = {3: "row_total", 8: "outcome_cell", 14: "balance", 19: "reviews_total", 26: "outcome_cell",
             33: "row_total", 40: "reviews_total", 23: "balance"}
BLANK_AT = {2, 6, 11, 16, 20, 25, 31, 36, 42, 0}
SLASH_AT = {4, 9, 13, 17, 24, 29, 34, 39, 44}
YUAN_AMOUNT_AT = {3, 15, 28, 38, 41, 45, 10}   # 2019 procurement amount printed "251000元"-style

# --------------------------------------------------------------------------------------------
# Agencies and prose
# --------------------------------------------------------------------------------------------

COUNTIES = [("黑龙江省", "哈尔滨市", "木兰县"), ("黑龙江省", "双鸭山市", "宝清县"), ("吉林省", "白山市", "临江市"),
            ("河北省", "衡水市", "安平县"), ("山东省", "临沂市", "沂南县"), ("河南省", "南阳市", "西峡县"),
            ("湖南省", "长沙市", "宁乡市"), ("湖北省", "襄阳市", "谷城县"), ("安徽省", "阜阳市", "临泉县"),
            ("江苏省", "淮安市", "洪泽区"), ("浙江省", "丽水市", "松阳县"), ("江西省", "赣州市", "兴国县"),
            ("四川省", "南充市", "仪陇县"), ("贵州省", "遵义市", "湄潭县"), ("云南省", "大理白族自治州", "宾川县"),
            ("广西壮族自治区", "桂林市", "阳朔县"), ("福建省", "南平市", "武夷山市"), ("陕西省", "汉中市", "城固县"),
            ("甘肃省", "天水市", "秦安县"), ("山西省", "晋中市", "平遥县"), ("广东省", "河源市", "东源县"),
            ("内蒙古自治区", "赤峰市", "宁城县")]
TOWNS = ["柳河镇", "七星泡镇", "桦树镇", "新镇乡", "青山镇", "双河镇", "石桥镇", "永丰镇", "太平镇", "白沙镇",
         "龙泉镇", "长安镇", "三合乡", "红旗乡", "东升镇", "马家镇", "杨柳镇", "清水乡", "黄土坡镇", "古城镇",
         "高桥镇", "新华镇", "兴隆镇", "河口乡"]
STREETS = ["城关街道", "新华街道", "东城街道", "西湖街道", "解放街道", "南关街道", "北山街道"]
DEPTS = ["生态环境局", "自然资源局", "人力资源和社会保障局", "住房和城乡建设局", "市场监督管理局", "教育局",
         "卫生健康局", "交通运输局", "农业农村局", "民政局", "应急管理局", "水利局", "财政局", "司法局"]


def make_agency(rng):
    _prov, city, county = rng.choice(COUNTIES)
    kind = rng.choices(["town", "street", "dept", "county_gov", "county_office", "city_dept"],
                       weights=[9, 2, 4, 2, 1, 2])[0]
    if kind == "town":
        town = rng.choice(TOWNS)
        suffix = "人民政府"
        return f"{county}{town}{suffix}", "small"
    if kind == "street":
        return f"{county}{rng.choice(STREETS)}办事处", "small"
    if kind == "dept":
        return f"{county}{rng.choice(DEPTS)}", "medium"
    if kind == "county_gov":
        return f"{county}人民政府", "large"
    if kind == "county_office":
        return f"{county}人民政府办公室", "medium"
    return f"{city}{rng.choice(DEPTS)}", "large"


def short_name(agency):
    """How the report refers to its own body in prose (本镇, 本局, 本县 ...)."""
    if agency.endswith("人民政府办公室"):
        return "本办"
    if agency.endswith("办事处"):
        return "本街道"
    if agency.endswith("人民政府"):
        place = agency[: -len("人民政府")]
        return "本" + place[-1] if place[-1] in "镇乡县市区" else "本级政府"
    if agency.endswith("委员会"):
        return "本委"
    return "本局"


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

OUTCOME_WEIGHTS = {
    "granted": 35, "partially_granted": 8, "denied_state_secret": 1, "denied_prohibited_by_law": 1,
    "denied_security_stability": 1, "denied_third_party_rights": 2, "denied_internal_affairs": 2,
    "denied_process_information": 3, "denied_enforcement_files": 1, "denied_inquiry_matters": 2,
    "unavailable_not_held": 20, "unavailable_needs_creation": 5, "unavailable_unclear": 3,
    "not_processed_complaint": 5, "not_processed_duplicate": 4, "not_processed_publication": 1,
    "not_processed_excessive": 1, "not_processed_confirmation": 1, "other_no_correction": 4,
    "other_no_fee_paid": 1, "other_other": 3, "other_handling": 8,
}
COLUMN_ACTIVITY = {"natural_person": 0.92, "commercial_enterprise": 0.35, "research_institution": 0.05,
                   "public_interest_org": 0.06, "legal_service_org": 0.18, "other_org": 0.2}
SCALE_MAX = {"small": 6, "medium": 25, "large": 180}


def small_count(rng, hi, p_zero=0.5):
    if rng.random() < p_zero:
        return 0
    # skewed towards small numbers
    return max(1, int(hi * rng.random() ** 2.2) + (1 if rng.random() < 0.5 else 0))


def gen_values(rng, template, scale):
    """Return (t1, t2, t3): dicts key -> number, all identities satisfied."""
    big = {"small": 1, "medium": 4, "large": 20}[scale]
    t1 = {}
    if template == "2021":
        for cat in ("rules", "normative_documents"):
            if cat == "rules" and scale != "large":
                iss, rep, inf = 0, 0, 0
            else:
                inf = small_count(rng, 15 * big, 0.15 if cat != "rules" else 0.4)
                iss = min(inf, small_count(rng, 3 * big, 0.4))
                rep = small_count(rng, 2 * big, 0.7)
            t1[(cat, "issued")], t1[(cat, "repealed")], t1[(cat, "in_force")] = iss, rep, inf
        t1[("licensing", "decisions")] = small_count(rng, 60 * big, 0.45)
        t1[("penalties", "decisions")] = small_count(rng, 30 * big, 0.45)
        t1[("coercive_measures", "decisions")] = small_count(rng, 4 * big, 0.75)
        t1[("fees", "amount")] = 0 if rng.random() < 0.5 else round(rng.uniform(0.3, 40 * big), rng.choice([1, 2]))
    else:
        for cat in ("rules", "normative_documents"):
            if cat == "rules" and scale != "large":
                a = b = tot = 0
            else:
                a = small_count(rng, 3 * big, 0.4)
                b = a
                tot = a + small_count(rng, 20 * big, 0.2)
            t1[(cat, "new_made")], t1[(cat, "new_published")], t1[(cat, "total_published")] = a, b, tot
        for cat, hi in (("licensing", 40), ("other_external_services", 20), ("penalties", 20),
                        ("coercive_measures", 3)):
            prior = small_count(rng, hi * big, 0.35)
            change = 0 if rng.random() < 0.55 else rng.randint(-min(prior, 5), 5)
            t1[(cat, "prior_year_items")] = prior
            t1[(cat, "change")] = change
            t1[(cat, "decisions")] = small_count(rng, hi * 3 * big, 0.45)
        prior = small_count(rng, 6, 0.5)
        t1[("fees", "prior_year_items")] = prior
        t1[("fees", "change")] = 0 if rng.random() < 0.6 else rng.randint(-min(prior, 2), 2)
        items = small_count(rng, 8 * big, 0.4)
        t1[("central_procurement", "items")] = items
        t1[("central_procurement", "amount")] = 0 if items == 0 else round(rng.uniform(0.5, 30 * big) * items, 2)

    rows = outcome_rows(template)
    t2 = {}
    hi = SCALE_MAX[scale]
    for col in APPLICANT_COLS:
        active = rng.random() < COLUMN_ACTIVITY[col] * (1 if scale != "small" else 0.8)
        handled = 0
        if active:
            top = hi if col == "natural_person" else max(2, hi // 4)
            handled = max(1, int(top * rng.random() ** 1.8))
        counts = dict.fromkeys(rows, 0)
        if handled:
            picks = rng.choices(rows, weights=[OUTCOME_WEIGHTS[r] for r in rows], k=handled)
            for p in picks:
                counts[p] += 1
        fwd = 0 if (not active or rng.random() < 0.7) else rng.randint(1, max(1, handled // 5 + 1))
        over = 0 if (not active or rng.random() < 0.7) else rng.randint(1, max(1, min(handled + fwd, handled // 5 + 1)))
        for r in rows:
            t2[(r, col)] = counts[r]
        t2[("total_handled", col)] = handled
        t2[("carried_forward", col)] = fwd
        t2[("carried_over", col)] = over
        t2[("new_received", col)] = handled + fwd - over
    for r in app_rows(template):
        t2[(r, "total")] = sum(t2[(r, c)] for c in APPLICANT_COLS)

    t3 = {}
    for proc, p in zip(PROCEEDINGS, (0.3 if scale != "small" else 0.12, 0.2 if scale != "small" else 0.06,
                                     0.12 if scale != "small" else 0.03)):
        parts = [0, 0, 0, 0]
        if rng.random() < p:
            n = max(1, int((3 if scale == "small" else 10 if scale == "medium" else 25) * rng.random() ** 2))
            for o in rng.choices(range(4), weights=[6, 1, 2, 2], k=n):
                parts[o] += 1
        for o, v in zip(OUTCOMES[:4], parts):
            t3[(proc, o)] = v
        t3[(proc, "total")] = sum(parts)
    return t1, t2, t3


def num_str(v):
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def check_identities(template, t2p, t3p):
    """t2p/t3p: printed values (None for blank or '/').  Returns list of failing checks."""
    def g(d, k):
        v = d.get(k)
        return 0 if v is None else v
    out = []
    for r in app_rows(template):
        if g(t2p, (r, "total")) != sum(g(t2p, (r, c)) for c in APPLICANT_COLS):
            out.append({"check": "applications_row_total", "row": r})
    for c in APPLICANTS:
        if g(t2p, ("total_handled", c)) != sum(g(t2p, (r, c)) for r in outcome_rows(template)):
            out.append({"check": "applications_total_handled", "applicant": c})
    for c in APPLICANTS:
        if g(t2p, ("new_received", c)) + g(t2p, ("carried_over", c)) != \
                g(t2p, ("total_handled", c)) + g(t2p, ("carried_forward", c)):
            out.append({"check": "applications_balance", "applicant": c})
    for p in PROCEEDINGS:
        if g(t3p, (p, "total")) != sum(g(t3p, (p, o)) for o in OUTCOMES[:4]):
            out.append({"check": "reviews_total", "proceeding": p})
    return out


# --------------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------------

@dataclass
class Cell:
    r: int
    c: int
    rs: int
    cs: int
    text: str
    role: str          # "head" | "label" | "value" | "note"
    key: tuple | None = None


@dataclass
class TableSpec:
    name: str
    ncols: int
    nrows: int
    widths: list        # relative widths
    header_rows: int
    cells: list = field(default_factory=list)

    def add(self, r, c, text, role, rs=1, cs=1, key=None):
        self.cells.append(Cell(r, c, rs, cs, text, role, key))


@dataclass
class Report:
    index: int
    stem: str
    variant: str
    opts: dict
    agency: str
    year: int
    template: str
    printed: dict                  # (table, key1, key2) -> printed string
    gold_cells: list
    broken: list
    injected: dict | None
    blocks: list                   # [("title"|"para"|"heading"|"subheading"|"table"|"sign"|"date", payload)]
    features: list
    same_content_as: str | None = None
    extra: dict = field(default_factory=dict)


def build_t1(template, printed):
    t = TableSpec("proactive_disclosure", 4, 0, [2.2, 1.45, 1.45, 1.45], 2)
    r = 0
    T1L = {"rules": "规章", "normative_documents": "行政规范性文件" if template == "2021" else "规范性文件",
           "licensing": "行政许可", "other_external_services": "其他对外管理服务事项", "penalties": "行政处罚",
           "coercive_measures": "行政强制", "fees": "行政事业性收费", "central_procurement": "政府集中采购"}

    def group(title, heads, cats):
        nonlocal r
        t.add(r, 0, title, "head", cs=4)
        r += 1
        t.add(r, 0, "信息内容", "head")
        if len(heads) == 3:
            for i, h in enumerate(heads):
                t.add(r, 1 + i, h, "head")
        elif len(heads) == 2:
            t.add(r, 1, heads[0], "head")
            t.add(r, 2, heads[1], "head", cs=2)
        else:
            t.add(r, 1, heads[0], "head", cs=3)
        r += 1
        for cat, metrics in cats:
            t.add(r, 0, T1L[cat], "label")
            if len(metrics) == 3:
                for i, m in enumerate(metrics):
                    k = ("proactive_disclosure", cat, m)
                    t.add(r, 1 + i, printed[k], "value", key=k)
            elif len(metrics) == 2:
                k0, k1 = ("proactive_disclosure", cat, metrics[0]), ("proactive_disclosure", cat, metrics[1])
                t.add(r, 1, printed[k0], "value", key=k0)
                t.add(r, 2, printed[k1], "value", cs=2, key=k1)
            else:
                k = ("proactive_disclosure", cat, metrics[0])
                t.add(r, 1, printed[k], "value", cs=3, key=k)
            r += 1

    if template == "2021":
        group("第二十条第（一）项", ["本年制发件数", "本年废止件数", "现行有效件数"],
              [("rules", T1_2021[0][1]), ("normative_documents", T1_2021[1][1])])
        group("第二十条第（五）项", ["本年处理决定数量"], [("licensing", ["decisions"])])
        group("第二十条第（六）项", ["本年处理决定数量"], [("penalties", ["decisions"]),
                                                    ("coercive_measures", ["decisions"])])
        group("第二十条第（八）项", ["本年收费金额（单位：万元）"], [("fees", ["amount"])])
    else:
        m3 = ["new_made", "new_published", "total_published"]
        p3 = ["prior_year_items", "change", "decisions"]
        group("第二十条第（一）项", ["本年新制作数量", "本年新公开数量", "对外公开总数量"],
              [("rules", m3), ("normative_documents", m3)])
        group("第二十条第（五）项", ["上一年项目数量", "本年增/减", "处理决定数量"],
              [("licensing", p3), ("other_external_services", p3)])
        group("第二十条第（六）项", ["上一年项目数量", "本年增/减", "处理决定数量"],
              [("penalties", p3), ("coercive_measures", p3)])
        group("第二十条第（八）项", ["上一年项目数量", "本年增/减"], [("fees", ["prior_year_items", "change"])])
        group("第二十条第（九）项", ["采购项目数量", "采购总金额"], [("central_procurement", ["items", "amount"])])
    t.nrows = r
    return t


def build_t2(template, printed):
    rows = app_rows(template)
    t = TableSpec("applications", 10, 3 + len(rows), [0.9, 1.25, 2.75] + [1.0] * 7, 3)
    t.add(0, 0, "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", "note", rs=3, cs=3)
    t.add(0, 3, "申请人情况", "head", cs=7)
    t.add(1, 3, "自然人", "head", rs=2)
    t.add(1, 4, "法人或其他组织", "head", cs=5)
    t.add(1, 9, "总计", "head", rs=2)
    for i, h in enumerate(["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]):
        t.add(2, 4 + i, h, "head")
    r = 3

    def values(row):
        for i, col in enumerate(APPLICANTS):
            k = ("applications", row, col)
            t.add(r, 3 + i, printed[k], "value", key=k)

    def full(row, label):
        nonlocal r
        t.add(r, 0, label, "label", cs=3)
        values(row)
        r += 1

    full("new_received", "一、本年新收政府信息公开申请数量")
    full("carried_over", "二、上年结转政府信息公开申请数量")
    n_out = len(outcome_rows(template)) + 1
    t.add(r, 0, "三、本年度办理结果", "label", rs=n_out)

    def leaf(row, label):
        nonlocal r
        t.add(r, 1, label, "label", cs=2)
        values(row)
        r += 1

    def grp(glabel, items):
        nonlocal r
        t.add(r, 1, glabel, "label", rs=len(items))
        for row, label in items:
            t.add(r, 2, label, "label")
            values(row)
            r += 1

    leaf("granted", "（一）予以公开")
    leaf("partially_granted", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")
    grp("（三）不予公开", DENIED)
    grp("（四）无法提供", UNAVAILABLE)
    grp("（五）不予处理", NOT_PROCESSED)
    if template == "2021":
        grp("（六）其他处理", OTHER_2021)
    else:
        leaf("other_handling", "（六）其他处理")
    leaf("total_handled", "（七）总计")
    t.add(r, 0, "四、结转下年度继续办理", "label", cs=3)
    values("carried_forward")
    r += 1
    assert r == t.nrows, (r, t.nrows)
    return t


def build_t3(printed):
    t = TableSpec("reviews_litigation", 15, 4, [1.0] * 15, 3)
    heads = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    t.add(0, 0, "行政复议", "head", cs=5)
    t.add(0, 5, "行政诉讼", "head", cs=10)
    for i, h in enumerate(heads):
        t.add(1, i, h, "head", rs=2)
    t.add(1, 5, "未经复议直接起诉", "head", cs=5)
    t.add(1, 10, "复议后起诉", "head", cs=5)
    for j in range(2):
        for i, h in enumerate(heads):
            t.add(2, 5 + 5 * j + i, h, "head")
    for pi, p in enumerate(PROCEEDINGS):
        for oi, o in enumerate(OUTCOMES):
            k = ("reviews_litigation", p, o)
            t.add(3, 5 * pi + oi, printed[k], "value", key=k)
    return t


def leaf_label(template, row):
    for lst in (DENIED, UNAVAILABLE, NOT_PROCESSED, OTHER_2021):
        for k, lab in lst:
            if k == row:
                return lab
    return {"new_received": "一、本年新收政府信息公开申请数量", "carried_over": "二、上年结转政府信息公开申请数量",
            "granted": "（一）予以公开",
            "partially_granted": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
            "other_handling": "（六）其他处理", "total_handled": "（七）总计",
            "carried_forward": "四、结转下年度继续办理"}[row]


FILLER = [
    "{s}坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的二十大精神，认真落实《中华人民共和国政府信息公开条例》和上级关于政务公开工作的部署要求，围绕中心工作，进一步规范政府信息公开工作流程，提升政务公开质量和实效。",
    "在依申请公开工作中，{s}严格按照法定程序受理、登记、审核、答复，做到件件有登记、事事有回音，对申请内容不明确的及时告知申请人补正，对不属于本机关公开职责的依法告知申请人并说明理由，切实保障人民群众的知情权、参与权、表达权和监督权。",
    "{s}进一步健全政府信息公开申请办理工作机制，明确专人负责申请的接收、登记、转办、答复和归档，建立答复文书合法性审查制度，对复杂敏感申请组织法律顾问会商研判，确保答复内容准确、依据充分、程序规范。",
    "全年共组织政务公开业务培训若干次，重点学习新修订的《中华人民共和国政府信息公开条例》、政府信息公开申请办理答复规范以及政府信息公开行政复议和行政诉讼典型案例，工作人员依法公开意识和业务能力明显提升。",
    "针对群众关注度高的征地拆迁、社会救助、就业创业、教育医疗、生态环境、安全生产等领域，{s}及时主动公开相关政策文件和执行情况，对群众提出的政府信息公开申请依法依规予以答复，未发生因答复不当引发的负面舆情。",
    "{s}认真做好政府信息公开申请的办理统计工作，按照国务院办公厅政府信息公开办公室印发的年度报告格式要求，对申请人类型、办理结果等信息逐项登记、逐件核对，确保统计数据真实、准确、完整。",
]


def make_blocks(rng, agency, year, template, vals_printed, scale, long_prose):
    s = short_name(agency)
    P = vals_printed

    def pv(table, k1, k2):
        v = P[(table, k1, k2)]
        return v if v not in ("", "/") else None

    blocks = [("title", f"{agency}{year}年政府信息公开工作年度报告")]
    intro = rng.choice([
        "本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）和国务院办公厅政府信息公开办公室关于政府信息公开工作年度报告的有关要求编制。全文包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、政府信息公开行政复议、行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项。本报告中所列数据的统计期限自{y}年1月1日起至{y}年12月31日止。本报告电子版可在{a}门户网站政府信息公开专栏查阅，如对本报告有任何疑问，请与{a}党政综合办公室联系。",
        "根据《中华人民共和国政府信息公开条例》第四十九条、第五十条规定，特向社会公布{y}年度政府信息公开工作年度报告。本报告由总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、政府信息公开行政复议和行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项等六部分组成。所列数据统计期限为{y}年1月1日至12月31日。",
    ]).format(y=year, a=agency)
    blocks.append(("para", intro))

    blocks.append(("heading", SECTION_TITLES[0]))
    blocks.append(("para", rng.choice(FILLER[:1]).format(s=s)))
    n_pub = rng.randint(20, 400) * (1 if scale == "small" else 4)
    nr = pv("applications", "new_received", "total")
    subs = [
        ("（一）主动公开", f"{year}年，{s}通过门户网站、政务新媒体、公开栏等渠道主动公开政府信息{n_pub}条，"
         "其中机构职能、政策文件、财政预决算、重点领域信息等均按要求及时更新。"),
        ("（二）依申请公开", (f"{year}年，{s}共收到政府信息公开申请{nr}件，" if nr is not None
                          else f"{year}年，{s}依法办理政府信息公开申请，")
         + "均在法定期限内予以答复，答复率100%。"),
        ("（三）政府信息管理", f"{s}严格落实政府信息公开属性源头认定和保密审查制度，"
         "坚持“先审查、后公开”和“一事一审”原则，全年未发生泄密事件。"),
        ("（四）政府信息公开平台建设", f"{s}依托政府门户网站政府信息公开专栏，及时更新法定主动公开内容，"
         "同步在政务新媒体发布政策解读和便民服务信息。"),
        ("（五）监督保障", f"{s}将政务公开工作纳入年度目标考核，明确分管领导和具体经办人员，"
         "全年未发生政府信息公开工作责任追究情况。"),
    ]
    for sub, text in subs:
        blocks.append(("subheading", sub))
        blocks.append(("para", text))
    blocks.append(("heading", SECTION_TITLES[1]))
    blocks.append(("table", "T1"))
    blocks.append(("heading", SECTION_TITLES[2]))
    if long_prose:
        fill = FILLER[1:]
        for i in range(long_prose if isinstance(long_prose, int) and long_prose > 1 else 3):
            blocks.append(("para", fill[i % len(fill)].format(s=s)))
        blocks.append(("pad", None))
    co = pv("applications", "carried_over", "total")
    gr = pv("applications", "granted", "total")
    cf = pv("applications", "carried_forward", "total")
    bits = []
    if nr is not None:
        bits.append(f"本年新收政府信息公开申请{nr}件")
    if co is not None:
        bits.append(f"上年结转{co}件")
    if gr is not None:
        bits.append(f"予以公开{gr}件")
    if cf is not None:
        bits.append(f"结转下年度继续办理{cf}件")
    blocks.append(("para", f"{year}年，{s}" + "，".join(bits) + "。具体情况如下："))
    blocks.append(("table", "T2"))
    blocks.append(("heading", SECTION_TITLES[3]))
    rv = pv("reviews_litigation", "administrative_review", "total")
    lt = [pv("reviews_litigation", p, "total") for p in PROCEEDINGS[1:]]
    lt_sum = sum(int(x) for x in lt if x is not None)
    rv = int(rv) if rv is not None else 0
    if rv or lt_sum:
        txt = f"{year}年，{s}因政府信息公开工作被申请行政复议{rv}件，被提起行政诉讼{lt_sum}件。"
    else:
        txt = f"{year}年，{s}未发生因政府信息公开工作被申请行政复议、提起行政诉讼的情况。"
    blocks.append(("para", txt))
    blocks.append(("table", "T3"))
    blocks.append(("heading", SECTION_TITLES[4]))
    blocks.append(("para", f"{year}年，{s}政府信息公开工作取得了一定成效，但仍存在一些不足："
                           "一是主动公开的深度和广度有待进一步拓展，政策解读形式还比较单一；"
                           "二是工作人员业务水平有待提高，依申请公开答复的规范性需要进一步加强。"))
    blocks.append(("para", f"下一步，{s}将进一步加强业务培训，细化公开内容，丰富政策解读形式，"
                           "及时回应社会关切，不断提升政府信息公开工作质量。"))
    blocks.append(("heading", SECTION_TITLES[5]))
    fee = rng.choice(["本年度未收取信息处理费。",
                      "依据《政府信息公开信息处理费管理办法》，本年度未发生收取信息处理费的情况。",
                      f"本年度共收取信息处理费{rng.choice([100, 200, 300])}元。"])
    blocks.append(("para", fee + f"{year}年，{s}无其他需要报告的事项。"))
    blocks.append(("sign", agency))
    blocks.append(("date", f"{year + 1}年{rng.randint(1, 2)}月{rng.randint(5, 28)}日"))
    return blocks


def assemble(seed, plan):
    reports = []
    occ = {}
    templates = {}
    for i, (variant, same_as) in enumerate(plan):
        n = occ.get(variant, 0)
        occ[variant] = n + 1
        default = "2019" if n % 2 == 0 else "2021"
        template = templates[same_as] if same_as is not None else default
        templates[i] = template
        content_index = same_as if same_as is not None else i
        rng = random.Random(f"nianbao-fixture-{seed}-{content_index}")
        agency, scale = make_agency(rng)
        year = rng.choice([2019, 2020]) if template == "2019" else rng.choice([2021, 2022, 2023, 2024])
        t1, t2, t3 = gen_values(rng, template, scale)
        # printed strings
        printed = {}
        for (k1, k2), v in t1.items():
            printed[("proactive_disclosure", k1, k2)] = num_str(v)
        for (k1, k2), v in t2.items():
            printed[("applications", k1, k2)] = str(v)
        for (k1, k2), v in t3.items():
            printed[("reviews_litigation", k1, k2)] = str(v)
        features = []
        ci = content_index
        if template == "2019" and ci in YUAN_AMOUNT_AT and t1[("central_procurement", "amount")]:
            yuan = round(t1[("central_procurement", "amount")] * 10000)
            t1[("central_procurement", "amount")] = float(yuan)
            printed[("proactive_disclosure", "central_procurement", "amount")] = f"{yuan}元"
            features.append("amount_with_unit")
        if ci in BLANK_AT:
            features.append("blank_cells")
            # zero-only minor applicant columns and zero review cells printed blank
            for col in ("research_institution", "public_interest_org"):
                if all(t2[(r, col)] == 0 for r in app_rows(template)):
                    for r in app_rows(template):
                        printed[("applications", r, col)] = ""
            for k, v in t3.items():
                if v == 0 and k[1] != "total":
                    printed[("reviews_litigation",) + k] = ""
            for k, v in t1.items():
                if v == 0 and k[0] in ("coercive_measures", "fees"):
                    printed[("proactive_disclosure",) + k] = ""
            # a few zero outcome cells blank as well
            zeros = [k for k, v in t2.items() if v == 0 and k[0] in outcome_rows(template) and k[1] != "total"]
            for k in rng.sample(zeros, min(4, len(zeros))):
                printed[("applications",) + k] = ""
        if ci in SLASH_AT:
            features.append("slash_cells")
            for k, v in t1.items():
                if v == 0 and k[0] in ("rules", "fees", "coercive_measures", "other_external_services"):
                    printed[("proactive_disclosure",) + k] = "/"
            if all(v == 0 for k, v in t3.items() if k[0] == "litigation_after_review"):
                for o in OUTCOMES:
                    printed[("reviews_litigation", "litigation_after_review", o)] = "/"
        injected = None
        if ci in BROKEN_AT:
            kind = BROKEN_AT[ci]
            features.append("broken_identity")
            delta = rng.choice([1, 2, -1])
            if kind == "row_total":
                cand = [r for r in app_rows(template) if t2[(r, "total")] + delta >= 0]
                r = rng.choice(cand)
                k = ("applications", r, "total")
            elif kind == "outcome_cell":
                cand = [(r, c) for r in outcome_rows(template) for c in APPLICANT_COLS
                        if printed[("applications", r, c)] != "" and t2[(r, c)] + delta >= 0]
                r, c = rng.choice(cand)
                k = ("applications", r, c)
            elif kind == "balance":
                k = ("applications", "carried_forward", "natural_person")
                delta = abs(delta)
            else:  # reviews_total printed 0 although parts are not, or off by one
                p = rng.choice(PROCEEDINGS)
                k = ("reviews_litigation", p, "total")
                parts = sum(t3[(p, o)] for o in OUTCOMES[:4])
                delta = -parts if parts else 1
            old = int(printed[k]) if printed[k] not in ("", "/") else 0
            printed[k] = str(old + delta)
            injected = {"table": k[0], "key1": k[1], "key2": k[2], "printed": old + delta, "balanced": old}
            if kind == "balance":  # keep the row total right: break only the column balance
                kt = ("applications", "carried_forward", "total")
                printed[kt] = str(int(printed[kt]) + delta)
                injected["also"] = {"key1": "carried_forward", "key2": "total", "printed": int(printed[kt])}
        # gold cells
        gold = []
        T1 = T1_2021 if template == "2021" else T1_2019
        for cat, metrics in T1:
            for m in metrics:
                gold.append(gold_cell(("proactive_disclosure", cat, m), printed))
        for r in app_rows(template):
            for c in APPLICANTS:
                gold.append(gold_cell(("applications", r, c), printed))
        for p in PROCEEDINGS:
            for o in OUTCOMES:
                gold.append(gold_cell(("reviews_litigation", p, o), printed))
        t2p = {(c["key1"], c["key2"]): c["value"] for c in gold if c["table"] == "applications"}
        t3p = {(c["key1"], c["key2"]): c["value"] for c in gold if c["table"] == "reviews_litigation"}
        broken = check_identities(template, t2p, t3p)
        if ci not in BROKEN_AT:
            assert not broken, (i, broken)
        long_prose = VARIANTS[variant].get("long_prose", False)
        blocks = make_blocks(rng, agency, year, template, printed, scale, 3 if long_prose else 0)
        o = VARIANTS[variant]
        if o["producer"] in ("lo", "docx", "lo-html"):
            features.append("libreoffice" if o["producer"] != "docx" else "python_docx")
        if o.get("tblheader"):
            features.append("tblheader")
        if o.get("long_prose"):
            features.append("long_prose")
        if o.get("producer") == "rl":
            features.append("embedded_font" if o["font"] == "emb" else "cid_font")
            features.append({"none": "no_rules"}.get(o["rules"], o["rules"]))
        if o.get("fake_bold"):
            features.append("fake_bold")
        if o.get("gbk"):
            features.append("gbk")
            features.append("gbk_meta" if o["gbk"] == "meta" else "no_charset")
        stem = f"gen-{i:03d}-{variant}-{template}"
        rep = Report(i, stem, variant, dict(o), agency, year, template, printed, gold, broken, injected,
                     blocks, features)
        if same_as is not None:
            rep.same_content_as = reports[same_as].stem
            rep.features.append("same_content")
            reports[same_as].extra.setdefault("same_content_as", stem)
            if "same_content" not in reports[same_as].features:
                reports[same_as].features.append("same_content")
        reports.append(rep)
    return reports


def gold_cell(k, printed):
    s = printed[k]
    d = {"table": k[0], "key1": k[1], "key2": k[2]}
    if s == "":
        d["value"] = None
    elif s == "/":
        d["value"] = None
        d["raw"] = "/"
    else:
        t = s.replace("元", "")
        d["value"] = float(t) if ("." in t or s.endswith("元") or k[2] == "amount") else int(t)
        if k[2] == "amount" and d["value"] == int(d["value"]) and "." not in t and not s.endswith("元"):
            d["value"] = float(d["value"])
    return d


def gold_json(rep):
    d = {"source_name": rep.stem, "agency": rep.agency, "year": rep.year, "template": rep.template,
         "format": rep.opts["fmt"], "variant": rep.variant, "features": sorted(set(rep.features)),
         "sections": SECTION_TITLES, "broken_identities": rep.broken}
    if rep.injected:
        d["injected"] = rep.injected
    if rep.same_content_as:
        d["same_content_as"] = rep.same_content_as
    elif rep.extra.get("same_content_as"):
        d["same_content_as"] = rep.extra["same_content_as"]
    for k in ("split_row", "t2_pages"):
        if k in rep.extra:
            d[k] = rep.extra[k]
    d["cells"] = rep.gold_cells
    return d


def dump_gold(d):
    """JSON with one cell per line (compact, diff-friendly)."""
    head = {k: v for k, v in d.items() if k != "cells"}
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    cells = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in d["cells"])
    return body + ',\n "cells": [\n' + cells + "\n ]\n}\n"


def tables_for(rep):
    return {"T1": build_t1(rep.template, rep.printed), "T2": build_t2(rep.template, rep.printed),
            "T3": build_t3(rep.printed)}


# --------------------------------------------------------------------------------------------
# DOCX (python-docx)
# --------------------------------------------------------------------------------------------

def write_docx(rep, path, pad=None):
    from docx import Document
    from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.top_margin, sec.bottom_margin = Cm(3.7), Cm(3.5)
    sec.left_margin, sec.right_margin = Cm(2.8), Cm(2.6)
    text_width_cm = 21.0 - 2.8 - 2.6
    core = doc.core_properties
    import datetime as _dt
    core.author = rep.agency
    core.title = f"{rep.agency}{rep.year}年政府信息公开工作年度报告"
    fixed = _dt.datetime(rep.year + 1, 1, 15, 9, 0, 0)
    core.created = fixed
    core.modified = fixed
    core.last_modified_by = "办公室"
    core.comments = ""
    # Chinese defaults instead of python-docx's template theme fonts (ＭＳ 明朝) and en-US
    for rf in doc.styles.element.iter(qn("w:rFonts")):
        for a in list(rf.attrib):
            if a.endswith("Theme"):
                del rf.attrib[a]
        rf.set(qn("w:eastAsia"), "宋体")
    for lang in doc.styles.element.iter(qn("w:lang")):
        lang.set(qn("w:val"), "zh-CN")
        lang.set(qn("w:eastAsia"), "zh-CN")

    def font(run, name, size, bold=False):
        run.font.name = name
        run.font.size = Pt(size)
        run.bold = bold
        rpr = run._element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = OxmlElement("w:rFonts")
            rpr.insert(0, rfonts)
        for a in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            rfonts.set(qn(a), name)

    def para(text, fname="仿宋_GB2312", size=16, align=None, indent=True, bold=False, space_after=0):
        p = doc.add_paragraph()
        pf = p.paragraph_format
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(28)
        pf.space_before = Pt(0)
        pf.space_after = Pt(space_after)
        if indent:
            pf.first_line_indent = Pt(size * 2)
        if align is not None:
            p.alignment = align
        font(p.add_run(text), fname, size, bold)
        return p

    tables = tables_for(rep)
    for kind, payload in rep.blocks:
        if kind == "title":
            p = para(payload, "方正小标宋简体", 22, WD_ALIGN_PARAGRAPH.CENTER, indent=False)
            p.paragraph_format.line_spacing = Pt(36)
            p.paragraph_format.space_after = Pt(14)
        elif kind == "heading":
            para(payload, "黑体", 16)
        elif kind == "subheading":
            para(payload, "楷体_GB2312", 16, bold=True)
        elif kind == "para":
            para(payload)
        elif kind == "pad":
            if pad is not None:
                lines = int(pad // 28)
                after = pad - 28 * lines
                para(pad_text(lines), space_after=after)
        elif kind == "table":
            spec = tables[payload]
            add_docx_table(doc, spec, text_width_cm, rep.opts.get("tblheader") and payload == "T2",
                           font, Cm, Pt, WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT, WD_ALIGN_PARAGRAPH, OxmlElement, qn)
            para("", size=8, indent=False).paragraph_format.line_spacing = Pt(8)
        elif kind == "sign":
            para("", indent=False)
            para(payload, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
        elif kind == "date":
            para(payload, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    buf = io.BytesIO()
    doc.save(buf)
    write_fixed_zip(buf.getvalue(), path)


PAD_CLAUSES = ["我们坚持把政务公开作为建设法治政府的重要抓手", "持续完善政府信息公开申请接收、登记、办理和答复工作机制",
               "对每一件申请均安排专人跟踪办理", "严格执行答复文书法制审核制度", "及时与申请人沟通了解其真实需求",
               "确保答复内容准确规范", "切实做到依法、及时、准确答复", "办理过程全程留痕",
               "答复文书统一编号归档", "做到有据可查", "按月统计办理情况", "定期梳理分析申请事项",
               "对群众关注度高的申请事项及时转为主动公开", "减少重复申请", "节约行政资源", "全年工作平稳有序"]


def pad_text(lines, first=25, per=27):
    """Complete sentences that fill exactly lines+1 lines (`first` chars on the indented first line,
    `per` on the others; 25/27 for 16 pt DOCX text): padding before T2 for the split variants."""
    lo, hi = (first + per * (lines - 1) + 3, first + per * lines - 3) if lines else (8, first - 3)
    text, i = "", 0
    while len(text) < lo:
        c = PAD_CLAUSES[i % len(PAD_CLAUSES)]
        i += 1
        if len(text) + len(c) + 1 > hi:
            c = next((x for x in PAD_CLAUSES if len(text) + len(x) + 1 <= hi and x not in text),
                     next((x for x in PAD_CLAUSES if len(text) + len(x) + 1 <= hi), None))
            if c is None:
                break
        text += c + "，"
    return text[:-1] + "。"


def write_fixed_zip(data, path):
    """Rewrite a zip (DOCX) with fixed timestamps so output is byte-deterministic."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, src.read(info.filename))
    Path(path).write_bytes(out.getvalue())


def add_docx_table(doc, spec, text_width_cm, tblheader, font, Cm, Pt, WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT,
                   WD_ALIGN_PARAGRAPH, OxmlElement, qn):
    from docx.enum.text import WD_LINE_SPACING
    table = doc.add_table(rows=spec.nrows, cols=spec.ncols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tblPr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tblPr.append(layout)
    tot = sum(spec.widths)
    widths = [Cm(text_width_cm * w / tot) for w in spec.widths]
    for gc, w in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        gc.set(qn("w:w"), str(int(w.twips)))
    for row in table.rows:
        for j, cell in enumerate(row.cells):
            cell.width = widths[j]
    size = 9 if spec.name == "reviews_litigation" else 10.5
    for c in spec.cells:
        a = table.cell(c.r, c.c)
        if c.rs > 1 or c.cs > 1:
            a = a.merge(table.cell(c.r + c.rs - 1, c.c + c.cs - 1))
        a.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
        p = a.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.LEFT if (c.role == "label" and c.cs >= 2) else WD_ALIGN_PARAGRAPH.CENTER
        pf = p.paragraph_format
        pf.space_before = Pt(0)
        pf.space_after = Pt(0)
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        pf.widow_control = False
        if c.text:
            font(p.add_run(c.text), "宋体", size, bold=(c.role == "head" and spec.name != "reviews_litigation"))
    # empty paragraphs in never-written cells still need small font so rows stay compact
    for row in table.rows:
        for cell in row.cells:
            for p in cell.paragraphs:
                p.paragraph_format.space_after = Pt(0)
    if tblheader:
        for r in range(spec.header_rows):
            trPr = table.rows[r]._tr.get_or_add_trPr()
            h = OxmlElement("w:tblHeader")
            trPr.append(h)
    return table


# --------------------------------------------------------------------------------------------
# LibreOffice conversion
# --------------------------------------------------------------------------------------------

def soffice_convert(files, fmt, outdir, workdir):
    if not files:
        return
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        sys.exit("soffice not found: apt-get install -y --no-install-recommends libreoffice-writer-nogui")
    env = dict(os.environ)
    env["FONTCONFIG_FILE"] = str(FONTCONFIG)
    env["HOME"] = str(workdir)
    profile = Path(workdir) / "lo-profile"
    cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
           "--convert-to", fmt, "--outdir", str(outdir)] + [str(f) for f in files]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    for f in files:
        out = Path(outdir) / (Path(f).stem + "." + fmt.split(":")[0])
        if not out.exists():
            sys.exit(f"LibreOffice failed to convert {f}:\n{r.stdout}\n{r.stderr}")


def fix_pdf_dates(data: bytes) -> bytes:
    """Same-length replacement of dates and /ID so LibreOffice PDFs are byte-stable."""
    def dates(m):
        return m.group(1) + re.sub(rb"\d", b"0", m.group(2))
    data = re.sub(rb"(/(?:CreationDate|ModDate)\s*\(D:)([0-9+\-Z']+)", dates, data)
    data = re.sub(rb"(<xmp:(?:CreateDate|ModifyDate|MetadataDate)>)([^<]+)", dates, data)

    def ids(m):
        return m.group(1) + re.sub(rb"[0-9A-Fa-f]", b"0", m.group(2))
    data = re.sub(rb"(/ID\s*\[)(\s*<[0-9A-Fa-f]+>\s*<[0-9A-Fa-f]+>)", ids, data)
    data = re.sub(rb"(/DocChecksum\s*/)([0-9A-Fa-f]+)", ids, data)
    return data


# --------------------------------------------------------------------------------------------
# reportlab
# --------------------------------------------------------------------------------------------

_RL_FONTS = {}


def rl_font(mode):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont
    if mode not in _RL_FONTS:
        if mode == "emb":
            if not os.path.exists(WQY_FONT):
                sys.exit(f"{WQY_FONT} missing: apt-get install -y --no-install-recommends fonts-wqy-zenhei")
            pdfmetrics.registerFont(TTFont("WQYZenHei", WQY_FONT, subfontIndex=0))
            _RL_FONTS[mode] = "WQYZenHei"
        else:
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
            _RL_FONTS[mode] = "STSong-Light"
    return _RL_FONTS[mode]


def write_rl(rep, path, encrypt=None, pad=None):
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    o = rep.opts
    fname = rl_font(o.get("font", "emb"))
    fake_bold = o.get("fake_bold", False)

    class BoldPara(Paragraph):
        def drawOn(self, canv, x, y, _sW=0):
            Paragraph.drawOn(self, canv, x, y, _sW)
            Paragraph.drawOn(self, canv, x + 0.35, y, _sW)

    def P(text, style, bold=False):
        return (BoldPara if (bold and fake_bold) else Paragraph)(text, style)

    title = ParagraphStyle("t", fontName=fname, fontSize=19, leading=28, alignment=TA_CENTER, spaceAfter=12,
                           wordWrap="CJK")
    head = ParagraphStyle("h", fontName=fname, fontSize=14, leading=24, firstLineIndent=28, wordWrap="CJK",
                          spaceBefore=4)
    body = ParagraphStyle("b", fontName=fname, fontSize=12.5, leading=22, firstLineIndent=25, wordWrap="CJK")
    right = ParagraphStyle("r", parent=body, alignment=TA_RIGHT, firstLineIndent=0)
    cell_c = ParagraphStyle("cc", fontName=fname, fontSize=8.5, leading=10.5, alignment=TA_CENTER, wordWrap="CJK")
    cell_l = ParagraphStyle("cl", parent=cell_c, alignment=TA_LEFT)
    cell_s = ParagraphStyle("cs", parent=cell_c, fontSize=7.5, leading=9)

    tables = tables_for(rep)
    s_name = short_name(rep.agency)
    width = A4[0] - 2.8 * cm - 2.6 * cm
    story = []
    for kind, payload in rep.blocks:
        if kind == "title":
            story.append(P(payload, title, True))
        elif kind == "heading":
            story.append(P(payload, head, True))
        elif kind == "subheading":
            story.append(P(payload, body, True))
        elif kind == "para":
            story.append(P(payload, body))
        elif kind == "pad":
            if pad is None:
                story.append(P(FILLER[3].format(s=s_name), body))
            else:   # pad points: whole 22 pt lines of text plus a small space
                lines = int(pad // 22)
                story.append(P(pad_text(lines, 33, 35), body))
                story.append(Spacer(1, pad - 22 * lines))
        elif kind == "table":
            spec = tables[payload]
            nr, nc = spec.nrows, spec.ncols
            data = [["" for _ in range(nc)] for _ in range(nr)]
            cmds = [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                    ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
            for c in spec.cells:
                st = cell_s if spec.name == "reviews_litigation" else (
                    cell_l if c.role == "label" and c.cs >= 2 else cell_c)
                bold = (c.role in ("head", "label") and spec.name == "applications") or c.role == "head"
                # blank cells as empty Paragraphs: reportlab cannot split a row holding "" strings
                data[c.r][c.c] = P(c.text, st, bold) if c.text else Paragraph("", st)
                if c.rs > 1 or c.cs > 1:
                    cmds.append(("SPAN", (c.c, c.r), (c.c + c.cs - 1, c.r + c.rs - 1)))
            if o["rules"] == "grid":
                cmds.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
            elif o["rules"] == "three_line":
                cmds += [("LINEABOVE", (0, 0), (-1, 0), 1.2, colors.black),
                         ("LINEBELOW", (0, spec.header_rows - 1), (-1, spec.header_rows - 1), 0.6, colors.black),
                         ("LINEBELOW", (0, -1), (-1, -1), 1.2, colors.black)]
            tot = sum(spec.widths)
            kw = {}
            if payload == "T2" and o.get("long_prose"):
                kw["repeatRows"] = 3 if rep.index % 2 else 0
                kw["splitInRow"] = 1
            tbl = Table(data, colWidths=[width * w / tot for w in spec.widths], style=TableStyle(cmds), **kw)
            story.append(tbl)
            story.append(Spacer(1, 8))
        elif kind == "sign":
            story.append(Spacer(1, 18))
            story.append(P(payload, right))
        elif kind == "date":
            story.append(P(payload, right))
    kw = {}
    if encrypt:
        kw["encrypt"] = encrypt
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=2.8 * cm, rightMargin=2.6 * cm,
                            topMargin=3.0 * cm, bottomMargin=2.8 * cm, invariant=1,
                            title=f"{rep.agency}{rep.year}年政府信息公开工作年度报告", author=rep.agency,
                            creator="nianbao generate_fixtures", **kw)

    def page_no(canv, d):
        canv.saveState()
        canv.setFont(fname, 9)
        canv.drawCentredString(A4[0] / 2, 1.6 * cm, f"— {d.page} —")
        canv.restoreState()
    doc.build(story, onFirstPage=page_no, onLaterPages=page_no)


# --------------------------------------------------------------------------------------------
# HTML post-processing
# --------------------------------------------------------------------------------------------

def html_postprocess(src: Path, dst: Path, gbk):
    text = src.read_text("utf-8")
    if gbk == "meta":
        text = re.sub(r'<meta http-equiv="content-type" content="text/html; charset=utf-8"\s*/?>',
                      '<meta charset="gb2312">', text, flags=re.I)
        assert 'charset="gb2312"' in text
        dst.write_bytes(text.encode("gbk", errors="xmlcharrefreplace"))
    elif gbk == "none":
        text = re.sub(r'<meta http-equiv="content-type" content="text/html; charset=utf-8"\s*/?>\s*', "",
                      text, flags=re.I)
        assert "charset" not in text.lower()
        dst.write_bytes(text.encode("gbk", errors="xmlcharrefreplace"))
    else:
        dst.write_text(text, "utf-8")


# --------------------------------------------------------------------------------------------
# Split-row search for LibreOffice PDFs
# --------------------------------------------------------------------------------------------

def find_split_row(pdf_path, rep):
    """Return (row key of a T2 row broken across two pages or None, number of pages T2 spans)."""
    import pdfplumber
    leaf = {r: re.sub(r"\s", "", leaf_label(rep.template, r)) for r in app_rows(rep.template)}
    seen = set()
    t2_pages = set()
    with pdfplumber.open(pdf_path) as pdf:
        for pno, page in enumerate(pdf.pages):
            for tb in page.extract_tables():
                cells = {re.sub(r"\s", "", c or "") for row in tb for c in row}
                if any(v in cells for v in leaf.values()) or "申请人情况" in cells:
                    t2_pages.add(pno)
                seen |= cells
    missing = [r for r, lab in leaf.items() if lab not in seen]
    return (missing[0] if missing else None), len(t2_pages)


def t2_page_span(pdf_path):
    """Number of pages T2 is printed on: from the page with 申请人情况 to the last page with table
    numbers above the section 四 heading."""
    import pdfplumber
    start = end = None
    with pdfplumber.open(pdf_path) as pdf:
        for pno, page in enumerate(pdf.pages):
            page = page.dedupe_chars()
            words = page.extract_words()
            flat = re.sub(r"\s", "", "".join(w["text"] for w in words))
            if start is None and "申请人情况" in flat:
                start = pno
            if start is None:
                continue
            head = [w for w in words if w["text"].startswith("四、政府信息公开")]
            limit = head[0]["top"] if head else float("inf")
            if any(re.fullmatch(r"\d+|/", w["text"]) and w["top"] < limit for w in words):
                end = pno
            if head:
                break
    return 0 if start is None else (end - start + 1 if end is not None else 1)


def rl_split(rep, path, tmp):
    """reportlab with splitInRow: pad the prose before T2 until a multi-line T2 row is split."""
    fallback = None
    for pad in [0.0] + [float(p) for p in range(120, 660, 15)]:
        f = Path(tmp) / f"{rep.stem}__rl.pdf"
        try:
            write_rl(rep, f, pad=pad)
        except Exception:       # reportlab's in-row splitting fails on some layouts: skip that pad
            continue
        row, n = find_split_row(f, rep)
        if n >= 2 and fallback is None:
            fallback = pad
        if n >= 2 and row and len(leaf_label(rep.template, row)) > 9:
            shutil.copyfile(f, path)
            rep.extra["split_row"] = row
            rep.features.append("split_row")
            return
    print(f"warning: {rep.stem}: no split row found", file=sys.stderr)
    write_rl(rep, path, pad=fallback)


SPLIT_TARGETS = ["partially_granted", "not_processed_confirmation", "denied_inquiry_matters",
                 "unavailable_unclear", "other_no_correction", "other_no_fee_paid", "denied_prohibited_by_law",
                 "denied_security_stability", "unavailable_needs_creation"]
BODY_BOTTOM = 841.89 - 3.5 / 2.54 * 72     # A4 height minus the 3.5 cm bottom margin, in pt


def t2_row_boxes(pdf_path, rep):
    """[(row key, page index, top, bottom)] of the T2 rows found by their leaf labels."""
    import pdfplumber
    leaf = {r: re.sub(r"\s", "", leaf_label(rep.template, r)) for r in app_rows(rep.template)}
    out = []
    with pdfplumber.open(pdf_path) as pdf:
        for pno, page in enumerate(pdf.pages):
            for tb in page.find_tables():
                for trow, texts in zip(tb.rows, tb.extract()):
                    flat = {re.sub(r"\s", "", t or "") for t in texts}
                    for r, lab in leaf.items():
                        if lab in flat:
                            out.append((r, pno, trow.bbox[1], trow.bbox[3]))
    return out


def next_shift(pdf_path, rep, tried):
    """Points of extra padding that should move a splittable T2 row onto the page break."""
    boxes = t2_row_boxes(pdf_path, rep)
    best = None
    for r, _pno, top, bottom in boxes:
        if r not in SPLIT_TARGETS or tried.count(r) >= 2:
            continue
        h = bottom - top
        if h < 20:          # one-line rows cannot split
            continue
        s = BODY_BOTTOM - top - h / 2
        if s < 4:
            continue
        key = (SPLIT_TARGETS.index(r) > 3, s)
        if best is None or key < best[0]:
            best = (key, r, top, s)
    if best is None:
        return None
    tried.append(best[1])
    return best[3]


# --------------------------------------------------------------------------------------------
# Main generation
# --------------------------------------------------------------------------------------------

def generate(out: Path, count: int, seed: int, quiet=False):
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("gen-*"):
        f.unlink()
    plan = PLAN[:count] if count <= len(PLAN) else PLAN + [(PLAN[i % len(PLAN)][0], None)
                                                          for i in range(len(PLAN), count)]
    plan = [(v, s if (s is not None and s < len(plan)) else None) for v, s in plan]
    reports = assemble(seed, plan)
    tmp = Path(tempfile.mkdtemp(prefix="nianbao-fixtures-"))
    try:
        lo_pdf, lo_html = [], []
        split_jobs = []
        for rep in reports:
            o = rep.opts
            if o["producer"] == "docx":
                write_docx(rep, out / f"{rep.stem}.docx")
            elif o["producer"] == "lo":
                if o.get("long_prose"):
                    split_jobs.append(rep)
                else:
                    write_docx(rep, tmp / f"{rep.stem}.docx")
                    lo_pdf.append(rep)
            elif o["producer"] == "lo-html":
                write_docx(rep, tmp / f"{rep.stem}.docx")
                lo_html.append(rep)
            elif o["producer"] == "rl" and o.get("long_prose"):
                rl_split(rep, out / f"{rep.stem}.pdf", tmp)
            elif o["producer"] == "rl":
                write_rl(rep, out / f"{rep.stem}.pdf")
        # docx that are kept and also have a PDF partner: the partner is written independently
        # (same content => same DOCX bytes), so nothing special here.
        pdf_dir = tmp / "pdf"
        html_dir = tmp / "html"
        pdf_dir.mkdir()
        html_dir.mkdir()
        # split search: measure where T2's rows land, then pad the prose before T2 so that the page
        # break falls in the middle of a tall row; LibreOffice splits only some rows, so iterate.
        cand_dir = tmp / "cand"
        cand_dir.mkdir()
        state = {r.stem: {"pad": 0.0, "tried": [], "best": None} for r in split_jobs}
        pending = list(split_jobs)
        for it in range(6):
            if not pending:
                break
            batch = []
            for rep in pending:
                f = cand_dir / f"{rep.stem}__{it}.docx"
                write_docx(rep, f, pad=state[rep.stem]["pad"])
                batch.append((rep, f))
            soffice_convert([f for _, f in batch], "pdf", cand_dir, tmp)
            still = []
            for rep, f in batch:
                st = state[rep.stem]
                pdf = f.with_suffix(".pdf")
                row, n = find_split_row(pdf, rep)
                if n >= 2 and (st["best"] is None or row):
                    st["best"] = (pdf, row)
                if row:
                    continue
                shift = next_shift(pdf, rep, st["tried"])
                if shift is None:
                    continue
                st["pad"] += shift
                still.append(rep)
            pending = still
        for rep in split_jobs:
            st = state[rep.stem]
            pdf, row = st["best"] or (cand_dir / f"{rep.stem}__0.pdf", None)
            if row:
                rep.extra["split_row"] = row
                rep.features.append("split_row")
            elif rep.opts.get("want_split_row"):
                print(f"warning: {rep.stem}: no split row found, T2 only breaks between rows", file=sys.stderr)
            (out / f"{rep.stem}.pdf").write_bytes(fix_pdf_dates(pdf.read_bytes()))
        soffice_convert([tmp / f"{r.stem}.docx" for r in lo_pdf], "pdf", pdf_dir, tmp)
        for rep in lo_pdf:
            (out / f"{rep.stem}.pdf").write_bytes(fix_pdf_dates((pdf_dir / f"{rep.stem}.pdf").read_bytes()))
        soffice_convert([tmp / f"{r.stem}.docx" for r in lo_html], "html", html_dir, tmp)
        for rep in lo_html:
            html_postprocess(html_dir / f"{rep.stem}.html", out / f"{rep.stem}.html", rep.opts.get("gbk"))
        for rep in reports:
            if rep.opts["fmt"] == "pdf":
                n = t2_page_span(out / f"{rep.stem}.pdf")
                rep.extra["t2_pages"] = n
                if n > 1:
                    rep.features.append("table_split")
            (out / f"{rep.stem}.json").write_text(dump_gold(gold_json(rep)), "utf-8")
        write_readme(out, reports, seed, count)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        total = sum(f.stat().st_size for f in out.iterdir())
        print(f"wrote {len(reports)} documents to {out} ({total / 1e6:.2f} MB)")
    return reports


def write_readme(out, reports, seed, count):
    from collections import Counter
    vc = Counter((r.variant, r.template) for r in reports)
    fc = Counter(f for r in reports for f in set(r.features))
    lines = [
        "# Generated report fixtures",
        "",
        "Synthetic 政府信息公开工作年度报告 documents with gold values, made by `tools/generate_fixtures.py`.",
        "Do not edit by hand. Regenerate (from the repo root, with the dev venv that has python-docx, reportlab,",
        "pdfplumber, pypdfium2, pillow and lxml, and the Debian packages `fonts-wqy-zenhei fonts-noto-cjk",
        "libreoffice-writer-nogui`; about 3–5 minutes, most of it LibreOffice):",
        "",
        "```bash",
        f"python tools/generate_fixtures.py --out tests/fixtures/generated --count {count} --seed {seed} --bad",
        "```",
        "",
        "Each `<stem>.<ext>` has `<stem>.json` in the corpus gold format (`source_name`, `agency`, `year`,",
        "`template`, `cells` covering every cell of the three tables) plus `format`, `variant`, `features`,",
        "`sections`, `broken_identities` (identities that fail on the printed values, blanks and \"/\" as 0;",
        "empty for balanced reports), `injected` (the deliberate change), `split_row`, `same_content_as`",
        "and `t2_pages` where they apply. A cell printed blank has `value: null`; a cell printed \"/\" has",
        "`value: null` and `raw: \"/\"`. See the script docstring for the naming of `broken_identities`.",
        "",
        "Every document: title line, an intro paragraph naming the six section titles in prose, the six",
        "headings with prose, T1/T2/T3 in the official merged layout (T2: 3x3 merged corner with the 勾稽 note,",
        "申请人情况 over 7 columns, 自然人/总计 over 2 rows, 法人或其他组织 over 5, 三、本年度办理结果 and",
        "(三)–(六) spanning their rows; T3: 行政复议 / 行政诉讼 / 未经复议直接起诉 / 复议后起诉), and a signature",
        "(agency and date).",
        "",
        "## Variants",
        "",
        "| variant | what | 2019 | 2021 |",
        "|---|---|---|---|",
    ]
    desc = {
        "docx-plain": "python-docx, merged cells via cell.merge(), 宋体/仿宋_GB2312/黑体/方正小标宋简体",
        "docx-tblheader": "as docx-plain, T2 header rows marked w:tblHeader, long prose before T2",
        "lo-pdf": "DOCX converted by LibreOffice headless (fonts mapped to Noto CJK)",
        "lo-pdf-tblheader": "LibreOffice PDF of a tblHeader DOCX: T2 breaks across pages, header repeated",
        "lo-pdf-split": "LibreOffice PDF, prose padded so a T2 row is split across two pages (`split_row`)",
        "lo-html": "LibreOffice HTML export of the DOCX (UTF-8, re-gridded colspan/rowspan)",
        "lo-html-gbk-meta": "same, re-encoded GBK with `<meta charset=\"gb2312\">`",
        "lo-html-gbk-nocharset": "same, re-encoded GBK with no declared charset",
        "rl-emb-grid": "reportlab, embedded TrueType WenQuanYi Zen Hei, full grid",
        "rl-emb-threeline": "reportlab, embedded font, three-line tables (top, below header, bottom rules only)",
        "rl-emb-norules": "reportlab, embedded font, tables with no rules at all",
        "rl-emb-fakebold": "reportlab, embedded font, title/headings/labels drawn twice 0.35 pt apart",
        "rl-emb-split": "reportlab, embedded font, prose padded so a T2 row is split across pages "
                        "(odd indexes repeat the header)",
        "rl-cid-grid": "reportlab, non-embedded STSong-Light CID font (UniGB-UCS2-H), full grid",
        "rl-cid-threeline": "reportlab, STSong-Light, three-line tables",
        "rl-cid-norules": "reportlab, STSong-Light, no rules",
        "rl-cid-fakebold": "reportlab, STSong-Light, fake bold",
        "rl-cid-split": "reportlab, STSong-Light, prose padded so a T2 row is split across pages",
    }
    for v in VARIANTS:
        if vc[(v, "2019")] + vc[(v, "2021")]:
            lines.append(f"| `{v}` | {desc[v]} | {vc[(v, '2019')]} | {vc[(v, '2021')]} |")
    t = Counter(r.template for r in reports)
    lines += ["", f"Total: {len(reports)} documents ({t['2019']} with the 2019 template: T1 8 rows, T2 23 rows with a"
              f" single （六）其他处理; {t['2021']} with the 2021 template: T1 6 rows, T2 25 rows).", "",
              "## Cross-cutting features (number of documents)", "", "| feature | documents |", "|---|---|"]
    for f, n in sorted(fc.items()):
        lines.append(f"| `{f}` | {n} |")
    lines += ["", "Bad inputs (`--bad`) are in `tests/fixtures/bad/`, described in",
              "`tests/fixtures/bad/expected.json`.", ""]
    (out / "README.md").write_text("\n".join(lines), "utf-8")


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------

BAD_FILES = ["scanned-image-only.pdf", "encrypted-user-password.pdf", "truncated-half.pdf", "empty.pdf",
             "not-a-pdf.pdf", "no-tounicode.pdf", "expected.json"]


def generate_bad(bad_out: Path, gen_out: Path, reports, seed):
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter
    from reportlab.lib import pdfencrypt
    bad_out.mkdir(parents=True, exist_ok=True)
    for name in BAD_FILES:
        if (bad_out / name).exists():
            (bad_out / name).unlink()
    expected = {}
    rl_src = next(r for r in reports if r.variant == "rl-emb-grid")
    lo_src = next(r for r in reports if r.variant == "lo-pdf")

    # 1. scanned, image-only PDF of a generated report (all pages)
    pdf = pdfium.PdfDocument(str(gen_out / f"{lo_src.stem}.pdf"))
    rng = random.Random(f"bad-{seed}")
    imgs = []
    for i in range(len(pdf)):
        page = pdf[i]
        img = page.render(scale=100 / 72).to_pil().convert("L")
        img = img.rotate(rng.uniform(-0.8, 0.8), resample=Image.BICUBIC, expand=False, fillcolor=255)
        img = img.filter(ImageFilter.GaussianBlur(0.5))
        img = img.point(lambda v: int(v * 0.9 + 12))
        imgs.append(img)
    pdf.close()
    buf = io.BytesIO()
    import time as _time
    fixed = _time.gmtime(1705744800)   # 2024-01-20 10:00 UTC
    imgs[0].save(buf, "PDF", save_all=True, append_images=imgs[1:], resolution=100, quality=50,
                 creationDate=fixed, modDate=fixed, producer="scanner")
    (bad_out / "scanned-image-only.pdf").write_bytes(buf.getvalue())
    expected["scanned-image-only.pdf"] = {"problem": "no_text_layer",
                                          "note": f"image-only pages of ../generated/{lo_src.stem}.pdf (100 dpi, "
                                                  "grey, slight skew, JPEG); its gold applies if OCR is attempted",
                                          "source": lo_src.stem}

    # 2. encrypted PDF (user password required to open)
    enc = pdfencrypt.StandardEncryption("nianbao", ownerPassword="nianbao-owner", canPrint=1, canCopy=0,
                                        strength=128)
    write_rl(rl_src, bad_out / "encrypted-user-password.pdf", encrypt=enc)
    expected["encrypted-user-password.pdf"] = {"problem": "encrypted", "user_password": "nianbao",
                                               "source": rl_src.stem}

    # 3. truncated PDF
    data = (gen_out / f"{rl_src.stem}.pdf").read_bytes()
    (bad_out / "truncated-half.pdf").write_bytes(data[: len(data) // 2])
    expected["truncated-half.pdf"] = {"problem": "truncated", "note": "first half of the bytes",
                                      "source": rl_src.stem}

    # 4. zero bytes
    (bad_out / "empty.pdf").write_bytes(b"")
    expected["empty.pdf"] = {"problem": "empty"}

    # 5. text file named .pdf
    (bad_out / "not-a-pdf.pdf").write_text(
        "这不是PDF文件。This is a plain text file with a .pdf name.\n"
        "某某县某某镇人民政府2023年政府信息公开工作年度报告\n", "utf-8")
    expected["not-a-pdf.pdf"] = {"problem": "not_a_pdf"}

    # 6. no ToUnicode: a LibreOffice PDF (CID-keyed CFF fonts, Identity-H) with the /ToUnicode key renamed
    #    (same length, so the xref stays valid): text extracts as (cid:N)
    lo = (gen_out / f"{lo_src.stem}.pdf").read_bytes()
    n = lo.count(b"/ToUnicode")
    if n:
        (bad_out / "no-tounicode.pdf").write_bytes(lo.replace(b"/ToUnicode", b"/ToUnicodX"))
        expected["no-tounicode.pdf"] = {"problem": "no_tounicode",
                                        "note": f"{n} font(s) lost their ToUnicode map; pdfminer/pdfplumber give "
                                                "(cid:N), the layout is intact",
                                        "source": lo_src.stem}
    (bad_out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {len(expected)} bad inputs to {bad_out}")


# --------------------------------------------------------------------------------------------
# Self-check of the text layers
# --------------------------------------------------------------------------------------------

def check(out: Path):
    """Check each generated document: headings, title, labels, and every printed table row's values
    (as a left-to-right sequence of number tokens on one line)."""
    import pdfplumber
    problems = 0
    for gj in sorted(out.glob("gen-*.json")):
        gold = json.loads(gj.read_text("utf-8"))
        stem = gold["source_name"]
        doc = next(f for f in out.glob(stem + ".*") if f.suffix != ".json")
        rows = expected_rows(gold)
        title = f"{gold['agency']}{gold['year']}年政府信息公开工作年度报告"
        errs = []
        if doc.suffix == ".pdf":
            lines_tokens, text = [], ""
            with pdfplumber.open(doc) as pdf:
                for page in pdf.pages:
                    page = page.dedupe_chars()
                    text += page.extract_text() or ""
                    words = page.extract_words(keep_blank_chars=False)
                    by_line = {}
                    for w in words:
                        by_line.setdefault(round(w["top"] / 3), []).append(w)
                    # merge adjacent buckets
                    keys = sorted(by_line)
                    merged, cur, last = [], [], None
                    for k in keys:
                        if last is not None and k - last > 1:
                            merged.append(cur)
                            cur = []
                        cur += by_line[k]
                        last = k
                    if cur:
                        merged.append(cur)
                    for ln in merged:
                        toks = [w["text"] for w in sorted(ln, key=lambda w: w["x0"])
                                if re.fullmatch(r"-?\d+(\.\d+)?元?|/", w["text"])]
                        lines_tokens.append(toks)
            flat = re.sub(r"\s", "", text)
            if "(cid:" in text or "\ufffd" in text:
                errs.append("cid/replacement characters")
            for row in rows:
                if not any(_contains_seq(t, row) for t in lines_tokens):
                    errs.append(f"row values {row} not found on one line")
        elif doc.suffix == ".docx":
            import docx
            d = docx.Document(str(doc))
            flat = "".join(p.text for p in d.paragraphs)
            for t in d.tables:
                for r in t.rows:
                    flat += "".join({id(c._tc): c.text for c in r.cells}.values())
        else:
            raw = doc.read_bytes()
            enc = "utf-8" if "gbk" not in gold["features"] else "gbk"
            from lxml import html as lh
            flat = re.sub(r"\s", "", lh.fromstring(raw.decode(enc)).text_content())
        flat = re.sub(r"\s", "", flat)
        labels = ["申请人情况", "自然人", "法人或其他组织", "勾稽关系", "行政复议", "未经复议直接起诉", "复议后起诉",
                  "本年度办理结果", "政府信息公开工作年度报告"]
        for s in [title, *gold["sections"], *labels]:
            if doc.suffix == ".pdf" and s in ("未经复议直接起诉", "自然人", "复议后起诉", "勾稽关系", "法人或其他组织",
                                              "本年度办理结果", "申请人情况"):
                # narrow table cells wrap these; check their characters occur in order
                if not _subsequence(s, flat):
                    errs.append(f"missing {s}")
                continue
            if s not in flat:
                errs.append(f"missing {s!r}")
        if flat.count(gold["sections"][2]) < 1:
            errs.append("heading")
        status = "ok" if not errs else "FAIL " + "; ".join(errs[:4])
        problems += bool(errs)
        print(f"{doc.name:48s} {status}")
    print(f"{problems} document(s) with problems")
    return problems


def _subsequence(s, text):
    it = iter(text)
    return all(ch in it for ch in s)


def _contains_seq(tokens, seq):
    n = len(seq)
    return any(tokens[i:i + n] == seq for i in range(len(tokens) - n + 1))


def expected_rows(gold):
    rows = {}
    order = []
    for c in gold["cells"]:
        k = (c["table"], c["key1"])
        if k not in rows:
            rows[k] = []
            order.append(k)
        rows[k].append(c)
    out = []
    for k in order:
        if k[0] == "reviews_litigation":
            continue
        toks = [tok_of(c) for c in rows[k]]
        out.append([t for t in toks if t is not None])
    t3 = [tok_of(c) for c in gold["cells"] if c["table"] == "reviews_litigation"]
    out.append([t for t in t3 if t is not None])
    return [r for r in out if r]


def tok_of(c):
    if c.get("raw") == "/":
        return "/"
    v = c["value"]
    if v is None:
        return None
    if isinstance(v, float):
        if c["key1"] == "central_procurement" and v == int(v) and v >= 10000:
            return f"{int(v)}元"
        return num_str(v)
    return str(v)


# --------------------------------------------------------------------------------------------
# Scans (image-only PDFs of generated reports, for the OCR reader)
# --------------------------------------------------------------------------------------------

# (output stem, source stem, dpi, tampered digits): a tampered digit is painted over with another one,
# as an OCR misreading would give it; the gold JSON keeps the source's values (what the report says).
SCANS = [
    ("scan-gen-002-rl-emb-grid-2019", "gen-002-rl-emb-grid-2019", 200, ()),
    ("scan-gen-024-rl-emb-grid-2021", "gen-024-rl-emb-grid-2021", 200, ()),
    # the first printed value of table 3 (here 行政复议 总计, printed 0; its parts are blank) painted as 8
    ("scan-tampered-gen-002-rl-emb-grid-2019", "gen-002-rl-emb-grid-2019", 200, (("reviews_first", "8"),)),
]


def _tamper_boxes(src: Path, what: str) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(page index, char bbox in points) of the digits to paint over."""
    import pdfplumber
    with pdfplumber.open(src) as pdf:
        if what == "reviews_first":
            # the first digit of table 3's value row: the first row of digits below the table's header
            # cell 行政复议 (its last occurrence in the document; the heading and the prose come before it)
            for i, page in reversed(list(enumerate(pdf.pages))):  # the intro names the sections too
                hits = page.search("行政复议")
                if not hits:
                    continue
                below = hits[-1]["bottom"]
                digits = [c for c in page.chars if c["text"].isdigit() and c["top"] > below]
                if not digits:
                    continue
                top = min(round(c["top"]) for c in digits)
                c = min((c for c in digits if abs(round(c["top"]) - top) <= 2), key=lambda c: c["x0"])
                return [(i, (c["x0"], c["top"], c["x1"], c["bottom"]))]
    raise ValueError(f"no digits for {what} in {src}")


def generate_scans(gen_out: Path, scan_out: Path):
    """Write image-only PDFs of generated report PDFs (black and white, no text layer) and their gold JSON."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw, ImageFont
    scan_out.mkdir(parents=True, exist_ok=True)
    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 40)
    for stem, src_stem, dpi, tampered in SCANS:
        src = gen_out / f"{src_stem}.pdf"
        boxes = {}
        for what, digit in tampered:
            for page_i, box in _tamper_boxes(src, what):
                boxes.setdefault(page_i, []).append((box, digit))
        pdf = pdfium.PdfDocument(str(src))
        imgs = []
        for i in range(len(pdf)):
            img = pdf[i].render(scale=dpi / 72).to_pil().convert("L")
            draw = ImageDraw.Draw(img)
            for (x0, top, x1, bottom), digit in boxes.get(i, []):
                k = dpi / 72
                draw.rectangle((x0 * k - 1, top * k - 1, x1 * k + 1, bottom * k + 1), fill=255)
                size = round((bottom - top) * k)
                f = font.font_variant(size=size)
                draw.text((x0 * k, top * k), digit, fill=0, font=f)
            # A black-and-white office scan (CCITT G4 in the PDF): small files, hard edges.
            imgs.append(img.point(lambda v: 0 if v < 170 else 255).convert("1", dither=Image.Dither.NONE))
        pdf.close()
        buf = io.BytesIO()
        import time as _time
        fixed = _time.gmtime(1705744800)
        imgs[0].save(buf, "PDF", save_all=True, append_images=imgs[1:], resolution=dpi,
                     creationDate=fixed, modDate=fixed, producer="scanner")
        (scan_out / f"{stem}.pdf").write_bytes(buf.getvalue())
        gold = json.loads((gen_out / f"{src_stem}.json").read_text(encoding="utf-8"))
        gold.update(source_name=stem, variant="scan", scan={"source": src_stem, "dpi": dpi, "mode": "1-bit",
                                                              "tampered": [list(t) for t in tampered]})
        (scan_out / f"{stem}.json").write_text(json.dumps(gold, ensure_ascii=False, indent=1) + "\n",
                                               encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=REPO / "tests" / "fixtures" / "generated", type=Path)
    ap.add_argument("--count", default=len(PLAN), type=int)
    ap.add_argument("--seed", default=2024, type=int)
    ap.add_argument("--bad", action="store_true", help="also write bad inputs to --bad-out")
    ap.add_argument("--bad-out", default=REPO / "tests" / "fixtures" / "bad", type=Path)
    ap.add_argument("--check", action="store_true", help="only check the text layers of --out")
    ap.add_argument("--scan", action="store_true",
                    help="only write image-only scans of PDFs in --out to --scan-out (for the OCR reader)")
    ap.add_argument("--scan-out", default=REPO / "tests" / "fixtures" / "scanned", type=Path)
    a = ap.parse_args(argv)
    if a.check:
        return 1 if check(a.out) else 0
    if a.scan:
        generate_scans(a.out, a.scan_out)
        return 0
    reports = generate(a.out, a.count, a.seed)
    if a.bad:
        generate_bad(a.bad_out, a.out, reports, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
