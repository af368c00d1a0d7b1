#!/usr/bin/env python3
"""Render gold reports the way real sites and converters mangle them (a fixed-seed layout corpus).

Input: gold files in the corpus format (``source_name``, ``agency``, ``year``, ``template``, ``cells``):
the project's generated fixtures (tests/fixtures/generated/*.json) and, where present,
../shared/corpus/gold/*.json. Each gold report is rendered once per layout CLASS:

* ``crawler_oneline``  a crawler's text dump: site chrome (栏目:, 发布日期:, 浏览次数:, breadcrumbs,
  footer) around the report, the whole article on one or a few lines, headings glued to their text,
  table cells separated by single spaces (an empty cell printed as ``/`` or ``-``; some digits full-width).
* ``space_cells``      one table row per line, cells separated by single spaces, chrome header lines.
* ``dump_blank_cells`` the crawler dump of a report whose tables have BLANK cells (only gold reports with
  blank cells): a blank cell vanishes from the text, so the columns of the row's other values are
  unknowable; the right output withholds those rows (recall is bounded by what the text leaves).
* ``glued_headings``   tab-separated tables, but headings glued to the prose that follows or precedes
  them (``一、总体情况2021年，…``) and missing line breaks.
* ``reworded_headings`` tab-separated tables under real reworded / renumbered headings (HEADING_VARIANTS:
  ``三、依申请公开情况``, ``（二）主动公开情况``, ``1.``/``1、``/``（一）`` numbering, a missing or extra level).
* ``markdown_pipe``    Markdown: ``#`` headings, pipe tables as converters write them (merged cells
  flattened, detached label rows ``| 3.其他 |`` with the values on the next line, labels split over lines).
* ``markdown_html``    Markdown with the tables as embedded HTML ``<table>`` (rowspan/colspan).
* ``fullwidth``        full-/half-width digits and punctuation mixed in numbers, numbering and labels.
* ``long_decimals``    amounts printed with long decimals (``5949.088667``, 12-digit decimals) and
  thousands separators; the gold carries the exact printed number.

Every document ``<stem>.<ext>`` gets ``<stem>.json`` (the corpus gold format plus ``class``). The gold is
what the document prints: a blank cell is null. Deterministic for a seed (``--seed``, default 14).

usage: generate_layouts.py OUT_DIR [--seed N] [--classes a,b] [--gold-dir DIR ...] (data: tools/layouts_data.py)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GOLD_DIRS = (REPO / "tests" / "fixtures" / "generated", REPO.parent.parent / "shared" / "corpus" / "gold",
                     Path("/work/shared/corpus/gold"))
CLASSES = ("crawler_oneline", "space_cells", "dump_blank_cells", "glued_headings", "reworded_headings",
           "markdown_pipe", "markdown_html", "fullwidth", "long_decimals")

from layouts_data import (  # noqa: E402 - a sibling script (the tools folder is on sys.path: script folder, or conftest)
    APPLICANTS,
    CANONICAL,
    CHROME_FOOT,
    CHROME_HEAD,
    CN,
    FW,
    HEADING_VARIANTS,
    NUMBERINGS,
    OUTCOME_LABELS,
    OUTCOMES,
    PROCEEDINGS,
    SITES,
    T1_GROUPS,
    T1_HEAD,
    T1_METRICS,
    T2_NOTE,
    T2_OTHER_2019,
    T2_OTHER_2021,
    T2_ROWS_HEAD,
    T2_TAIL,
    html_table,
    md_row,
    t2_header_tokens,
    t3_header_tokens,
)


def load_golds(dirs: list[Path]) -> list[dict[str, Any]]:
    """Given gold directories, return every usable gold (both tables' keys present), sorted by name."""
    out, seen = [], set()
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.json")):
            g = json.loads(f.read_text("utf-8"))
            if not isinstance(g, dict) or "cells" not in g or g.get("source_name") in seen:
                continue
            if not g.get("year") or not g.get("agency"):
                continue
            seen.add(g["source_name"])
            out.append(g)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    d = Decimal(str(v))
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


class Doc:
    """An abstract report: title, sections (heading + paragraphs), and the three tables as printed rows."""

    def __init__(self, gold: dict[str, Any], rng: random.Random, cls: str) -> None:
        self.g, self.rng, self.cls = gold, rng, cls
        self.cells = {(c["table"], c["key1"], c["key2"]): c["value"] for c in gold["cells"]}
        self.blank = rng.choice(["", "/", "-", "/"])  # how this document prints a null cell
        if cls in ("crawler_oneline", "space_cells"):
            self.blank = rng.choice(["/", "-"])
        elif cls == "dump_blank_cells":
            self.blank = ""
        self.agency, self.year = gold["agency"], int(gold["year"])
        self.wide_md = False
        keys2 = {k2 for (t, _, k2) in self.cells if t == "proactive_disclosure"}
        self.t1v = "2019" if "new_made" in keys2 or "prior_year_items" in keys2 else "2021"
        rows2 = {k1 for (t, k1, _) in self.cells if t == "applications"}
        self.t2_rows = T2_ROWS_HEAD + (T2_OTHER_2019 if "other_handling" in rows2 else T2_OTHER_2021) + T2_TAIL
        if cls == "long_decimals":
            self._long_decimals()

    def _long_decimals(self) -> None:
        for k in list(self.cells):
            if k[0] == "proactive_disclosure" and k[2] == "amount":
                r = self.rng.random()
                if r < 0.4:
                    s = f"{self.rng.randint(1000, 99999)}.{self.rng.randint(1, 999999):06d}"
                elif r < 0.7:
                    s = f"{self.rng.randint(100000, 999999)}.{self.rng.randint(1, 999999):06d}"  # 12 digits
                else:
                    s = f"{self.rng.randint(10, 999)}.{self.rng.randint(1, 9999):04d}"
                self.cells[k] = float(s) if Decimal(repr(float(s))) == Decimal(s) else s

    def val(self, k: tuple[str, str, str]) -> str:
        v = self.cells.get(k)
        if v is None:
            return self.blank
        s = _fmt(v)
        if self.cls == "long_decimals" and k[2] == "amount" and self.rng.random() < 0.6:
            whole, _, frac = s.partition(".")
            sign = "-" if whole.startswith("-") else ""
            whole = f"{int(whole.lstrip('-')):,}"
            s = sign + whole + (f".{frac}" if frac else "")
        if (self.cls == "fullwidth" and self.rng.random() < 0.5) or (
                self.cls in ("crawler_oneline", "space_cells") and self.rng.random() < 0.15):
            s = s.translate(FW)  # crawlers keep the page's full-width digits where it printed them
        return s

    # --- tables as printed rows: list of (label cells, value cells) ---------------------------
    def t1_rows(self) -> list[tuple[list[str], list[str]]]:
        rows: list[tuple[list[str], list[str]]] = []
        for item, cats in T1_GROUPS[self.t1v]:
            metrics = T1_METRICS[self.t1v][cats[0][0]]
            rows.append(([item], []))
            rows.append((["信息内容", *[T1_HEAD[self.t1v][m] for m in metrics]], []))
            for key, label in cats:
                rows.append(([label], [self.val(("proactive_disclosure", key, m)) for m in T1_METRICS[self.t1v][key]]))
        return rows

    def t2_rows_printed(self) -> list[tuple[str | None, str, list[str]]]:
        return [(grp, self.label(lab), [self.val(("applications", key, a)) for a in APPLICANTS])
                for grp, key, lab in self.t2_rows]

    def t3_values(self) -> list[str]:
        return [self.val(("reviews_litigation", p, o)) for p in PROCEEDINGS for o in OUTCOMES]

    def label(self, lab: str) -> str:
        if self.cls != "fullwidth":
            return lab
        r = self.rng.random()
        if r < 0.3:
            lab = lab.replace("（", "(").replace("）", ")")
        elif r < 0.5:
            lab = lab.replace("1.", "１．").replace("2.", "２．").replace("3.", "３、").replace("4.", "4．")
        if self.rng.random() < 0.3:
            lab = lab.replace("“", '"').replace("”", '"')
        return lab

    # --- prose ----------------------------------------------------------------------------------
    def title(self) -> str:
        a, y = self.agency, self.year
        return self.rng.choice([f"{a}{y}年政府信息公开工作年度报告", f"{a}{y}年度政府信息公开工作年度报告",
                                f"{a}政府信息公开工作{y}年度报告"])

    def intro(self) -> str:
        y = self.year
        return (f"本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）和国务院办公厅政府信息公开办公室关于"
                f"政府信息公开工作年度报告的有关要求编制。全文包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、"
                f"政府信息公开行政复议、行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项。本报告中所列数据的统计期限自"
                f"{y}年1月1日起至{y}年12月31日止。")

    def prose(self, sec: int) -> list[str]:
        y, a = self.year, self.agency
        sub = ["（一）主动公开情况", "（二）依申请公开情况", "（三）政府信息管理情况", "（四）平台建设情况", "（五）监督保障情况"]
        if sec == 1:
            out = [f"{y}年，{a}坚持以习近平新时代中国特色社会主义思想为指导，认真贯彻落实《条例》，扎实推进政务公开工作。"]
            for s in sub[: self.rng.randint(2, 5)]:
                out += [s, f"{a}严格落实公开属性源头认定机制，做到应公开尽公开，全年工作平稳有序。"]
            return out
        if sec == 2:
            return [f"{a}依法依规做好规章、行政规范性文件和行政许可、行政处罚等信息的主动公开。"]
        if sec == 3:
            return [f"{a}严格按照法定程序受理、登记、审核、答复政府信息公开申请，做到件件有登记、事事有回音。"]
        if sec == 4:
            return ["本年度政府信息公开行政复议、行政诉讼情况如下表。"]
        if sec == 5:
            return [f"{y}年，{a}政府信息公开工作取得了一定成效，但仍存在公开内容不够全面、解读形式较为单一等问题。",
                    f"{y + 1}年，将进一步加强业务培训，提升公开质量。"]
        return [self.rng.choice(["本年度未收取信息处理费。", f"{y}年，本机关无收取信息处理费情况。"]),
                a, f"{y + 1}年1月{self.rng.randint(5, 28)}日"]

    def heading(self, sec: int, reworded: bool) -> str:
        if not reworded:
            return CANONICAL[sec - 1]
        words = self.rng.choice(HEADING_VARIANTS[sec])
        style = self.numbering
        return style.format(cn=CN[sec], n=sec) + words

    @property
    def numbering(self) -> str:
        if not hasattr(self, "_numbering"):
            self._numbering = self.rng.choice(NUMBERINGS[:-1] + ["", "{cn}、"])
        return self._numbering

    def chrome(self) -> tuple[list[str], list[str]]:
        site = self.agency[:3] + self.rng.choice(SITES)
        d = f"{self.year + 1}-01-{self.rng.randint(10, 31):02d}"
        head = [c.format(d=d, m=self.rng.randint(0, 59), n=self.rng.randint(100, 99999), site=site)
                for c in self.rng.sample(CHROME_HEAD, self.rng.randint(3, 6))]
        foot = [c.format(n=self.rng.randint(10000, 99999), site=site)
                for c in self.rng.sample(CHROME_FOOT, self.rng.randint(2, 4))]
        return head, foot


# --- writers --------------------------------------------------------------------------------------

def _token_stream(doc: Doc, sec: int) -> list[str]:
    """The table of a section as a stream of whitespace-separated tokens (a crawler's view of the page)."""
    toks: list[str] = []
    if sec == 2:
        for labels, values in doc.t1_rows():
            toks += labels + values
    elif sec == 3:
        toks += t2_header_tokens()
        for grp, lab, values in doc.t2_rows_printed():
            toks += ([doc.label(grp)] if grp else []) + [lab] + values
    elif sec == 4:
        toks += t3_header_tokens() + doc.t3_values()
    # a blank cell leaves nothing in the text of a web page
    return [t for t in toks if t != ""]


def render_crawler_oneline(doc: Doc) -> tuple[str, bytes]:
    head, foot = doc.chrome()
    rng = doc.rng
    parts: list[str] = [doc.title(), doc.intro()]
    glue = rng.random() < 0.5
    for sec in range(1, 7):
        h = doc.heading(sec, reworded=rng.random() < 0.3)
        body = doc.prose(sec)
        if sec in (2, 3, 4):
            table = " ".join(_token_stream(doc, sec))
            body = body + [table] if rng.random() < 0.5 else [table] + body
        if glue:
            parts.append(h + body[0])
            parts += body[1:]
        else:
            parts += [h, *body]
    article = " ".join(parts)
    if rng.random() < 0.4:  # a few lines rather than one: broken where the crawler met a <br>
        cut = sorted(rng.sample(range(1, len(article) - 1), 2))
        cut = [c for c in cut if article[c - 1] == " "] or []
        for c in reversed(cut):
            article = article[:c] + "\n" + article[c:]
    title_line = [f"标题: {doc.title()}"] if rng.random() < 0.5 else []
    text = "\n".join(title_line + head + ["正文", article] + foot) + "\n"
    return "txt", text.encode("utf-8")


def render_space_cells(doc: Doc) -> tuple[str, bytes]:
    head, foot = doc.chrome()
    lines = head + ["", doc.title(), doc.intro()]
    for sec in range(1, 7):
        lines.append(doc.heading(sec, reworded=doc.rng.random() < 0.3))
        if sec in (2, 3, 4):
            lines += doc.prose(sec)
            lines += _space_rows(doc, sec)
        else:
            lines += doc.prose(sec)
    return "txt", ("\n".join(lines + foot) + "\n").encode("utf-8")


def _space_rows(doc: Doc, sec: int) -> list[str]:
    def join(cells: list[str]) -> str:
        return " ".join(c for c in cells if c != "")

    if sec == 2:
        return [join(labels + values) for labels, values in doc.t1_rows()]
    if sec == 3:
        out = [T2_NOTE, "申请人情况", "自然人 法人或其他组织 总计", "商业企业 科研机构 社会公益组织 法律服务机构 其他"]
        for grp, lab, values in doc.t2_rows_printed():
            if grp and doc.rng.random() < 0.5:
                out.append(doc.label(grp))
                grp = None
            out.append(join(([doc.label(grp)] if grp else []) + [lab] + values))
        return out
    return ["行政复议 行政诉讼", "结果维持 结果纠正 其他结果 尚未审结 总计 未经复议直接起诉 复议后起诉",
            " ".join(OUTCOME_LABELS * 3), join(doc.t3_values())]


def _tab_rows(doc: Doc, sec: int) -> list[str]:
    if sec == 2:
        return ["\t".join(labels + values) for labels, values in doc.t1_rows()]
    if sec == 3:
        out = [T2_NOTE, "申请人情况\t自然人\t法人或其他组织\t\t\t\t\t总计",
               "\t\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他"]
        for grp, lab, values in doc.t2_rows_printed():
            out.append("\t".join(([doc.label(grp)] if grp else []) + [lab] + values))
        return out
    return ["行政复议\t\t\t\t\t行政诉讼", "\t\t\t\t\t未经复议直接起诉\t\t\t\t\t复议后起诉",
            "\t".join(OUTCOME_LABELS * 3), "\t".join(doc.t3_values())]


def render_tabbed(doc: Doc, *, glued: bool, reworded: bool) -> tuple[str, bytes]:
    lines = [doc.title(), doc.intro()]
    rng = doc.rng
    for sec in range(1, 7):
        h = doc.heading(sec, reworded=reworded)
        body = doc.prose(sec)
        if glued and rng.random() < 0.8:
            if lines and rng.random() < 0.4 and not lines[-1].count("\t"):
                lines[-1] = lines[-1] + h + body[0]  # glued to the end of the paragraph before, too
            else:
                lines.append(h + body[0])
            lines += body[1:]
        else:
            lines += [h, *body]
        if sec in (2, 3, 4):
            lines += _tab_rows(doc, sec)
    return "txt", ("\n".join(lines) + "\n").encode("utf-8")


def _md_t2_wide(doc: Doc) -> list[str]:
    """The applications table as converters write a Word table: every grid column kept, the three label
    columns (group, sub-group, item) with merged cells repeated or left empty."""
    repeat = doc.rng.random() < 0.5
    out = [md_row([T2_NOTE, "", "", "申请人情况", "", "", "", "", "", ""]), md_row(["---"] * 10),
           md_row(["", "", "", "自然人", "法人或其他组织", "", "", "", "", "总计"]),
           md_row(["", "", "", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", ""])]
    top = sub = ""
    for (grp, key, _lab), (_, plab, values) in zip(doc.t2_rows, doc.t2_rows_printed()):
        if key in ("new_received", "carried_over", "carried_forward"):
            out.append(md_row([plab, plab if repeat else "", plab if repeat else "", *values]))
            continue
        if grp and grp.startswith("三、"):
            top = grp
        if grp and grp.startswith("（"):
            sub = grp
        if key in ("granted", "partially_granted", "total_handled", "other_handling"):
            first = top if (repeat or key == "granted") else ""
            out.append(md_row([first, plab, plab if repeat else "", *values]))
            continue
        first_sub = (grp is not None) or repeat
        out.append(md_row([top if repeat else "", sub if first_sub else "", plab, *values]))
    return out


def render_markdown_pipe(doc: Doc) -> tuple[str, bytes]:
    rng = doc.rng
    doc.wide_md = rng.random() < 0.5
    lines = [f"# {doc.title()}", "", doc.intro(), ""]
    for sec in range(1, 7):
        lines += [f"## {doc.heading(sec, reworded=rng.random() < 0.3)}", ""]
        for p in doc.prose(sec):
            lines += [p, ""]
        if sec == 2:
            rows = doc.t1_rows()
            lines += [md_row(rows[0][0] + [""] * 3), md_row(["---"] * 4)]
            lines += [md_row((labels + values + [""] * 4)[:4]) for labels, values in rows[1:]]
        elif sec == 3 and doc.wide_md:
            lines += _md_t2_wide(doc)
        elif sec == 3:
            lines += [md_row([T2_NOTE, "申请人情况", "", "", "", "", "", ""]), md_row(["---"] * 8),
                      md_row(["", "自然人", "法人或其他组织", "", "", "", "", "总计"]),
                      md_row(["", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", ""])]
            for grp, lab, values in doc.t2_rows_printed():
                first = (grp + " " if grp and rng.random() < 0.5 else "")
                r = rng.random()
                if r < 0.12:  # detached label row: the label alone, the values on the next line
                    lines += [md_row([first + lab]), md_row(values)]
                elif r < 0.2 and len(lab) > 8:  # label split over two lines, the values with the second half
                    cut = rng.randint(3, len(lab) - 3)
                    lines += [md_row([first + lab[:cut]]), md_row([lab[cut:], *values])]
                else:
                    lines.append(md_row([first + lab, *values]))
        elif sec == 4:
            lines += [md_row(["行政复议", "", "", "", "", "行政诉讼"] + [""] * 9), md_row(["---"] * 15),
                      md_row([""] * 5 + ["未经复议直接起诉", "", "", "", "", "复议后起诉", "", "", "", ""]),
                      md_row(OUTCOME_LABELS * 3), md_row(doc.t3_values())]
        lines.append("")
    return "md", ("\n".join(lines) + "\n").encode("utf-8")


def render_markdown_html(doc: Doc) -> tuple[str, bytes]:
    rng = doc.rng
    lines = [f"# {doc.title()}", "", doc.intro(), ""]
    for sec in range(1, 7):
        lines += [f"{'#' * rng.choice([2, 3])} {doc.heading(sec, reworded=rng.random() < 0.3)}", ""]
        for p in doc.prose(sec):
            lines += [p, ""]
        if sec == 2:
            rows = [[(c, 1, 1) for c in labels + values] for labels, values in doc.t1_rows()]
            lines += [html_table(rows), ""]
        elif sec == 3:
            hrows = [[(T2_NOTE, 2, 3), ("申请人情况", 1, 7)],
                     [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
                     [("", 1, 3), ("商业企业", 1, 1), ("科研机构", 1, 1), ("社会公益组织", 1, 1), ("法律服务机构", 1, 1),
                      ("其他", 1, 1)]]
            body = [[(lab, 1, 3)] + [(v, 1, 1) for v in values] for _, lab, values in doc.t2_rows_printed()]
            lines += [html_table(hrows + body), ""]
        elif sec == 4:
            rows = [[("行政复议", 1, 5), ("行政诉讼", 1, 10)],
                    [("", 1, 5), ("未经复议直接起诉", 1, 5), ("复议后起诉", 1, 5)],
                    [(t, 1, 1) for t in OUTCOME_LABELS * 3], [(v, 1, 1) for v in doc.t3_values()]]
            lines += [html_table(rows), ""]
    return "md", ("\n".join(lines) + "\n").encode("utf-8")


def render_fullwidth(doc: Doc) -> tuple[str, bytes]:
    ext, data = render_tabbed(doc, glued=False, reworded=False)
    text = data.decode("utf-8")
    # half-width numbering in headings, full-width colons and spaces in prose
    text = text.replace("（一）主动公开情况", "(一)主动公开情况").replace("：", ":" if doc.rng.random() < 0.5 else "：")
    return ext, text.encode("utf-8")


def render(gold: dict[str, Any], cls: str, seed: int) -> tuple[str, bytes, dict[str, Any]]:
    """Given a gold report, a layout class and a seed, return (extension, bytes, gold of the rendering)."""
    rng = random.Random(f"{seed}:{cls}:{gold['source_name']}")
    doc = Doc(gold, rng, cls)
    if cls in ("crawler_oneline", "dump_blank_cells"):
        ext, data = render_crawler_oneline(doc)
    elif cls == "space_cells":
        ext, data = render_space_cells(doc)
    elif cls == "glued_headings":
        ext, data = render_tabbed(doc, glued=True, reworded=False)
    elif cls == "reworded_headings":
        ext, data = render_tabbed(doc, glued=False, reworded=True)
    elif cls == "markdown_pipe":
        ext, data = render_markdown_pipe(doc)
    elif cls == "markdown_html":
        ext, data = render_markdown_html(doc)
    elif cls == "fullwidth":
        ext, data = render_fullwidth(doc)
    elif cls == "long_decimals":
        ext, data = render_tabbed(doc, glued=False, reworded=False)
    else:
        raise ValueError(f"unknown layout class {cls!r}; known: {', '.join(CLASSES)}")
    cells = [{"table": t, "key1": k1, "key2": k2, "value": v} for (t, k1, k2), v in doc.cells.items()]
    out_gold = {"source_name": "", "agency": gold["agency"], "year": int(gold["year"]), "template": gold["template"],
                "class": cls, "from": gold["source_name"], "cells": cells}
    return ext, data, out_gold


def generate(out: Path, seed: int = 14, classes: tuple[str, ...] = CLASSES,
             gold_dirs: list[Path] | None = None, limit: int | None = None) -> list[Path]:
    """Write every gold × class rendering into ``out``; return the document paths."""
    golds = load_golds(gold_dirs or list(DEFAULT_GOLD_DIRS))
    if limit is not None:
        golds = golds[:limit]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for cls in classes:
        for i, g in enumerate(golds):
            if cls == "dump_blank_cells" and not any(c["value"] is None for c in g["cells"]):
                continue
            ext, data, gold = render(g, cls, seed)
            stem = f"lay-{cls}-{i:03d}"
            gold["source_name"] = stem
            (out / f"{stem}.{ext}").write_bytes(data)
            (out / f"{stem}.json").write_text(json.dumps(gold, ensure_ascii=False, indent=1), "utf-8")
            paths.append(out / f"{stem}.{ext}")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--classes", default=",".join(CLASSES))
    ap.add_argument("--gold-dir", type=Path, action="append", default=None)
    ap.add_argument("--limit", type=int, default=None, help="at most N gold reports per class")
    a = ap.parse_args(argv)
    paths = generate(a.out, a.seed, tuple(a.classes.split(",")), a.gold_dir, a.limit)
    print(f"{len(paths)} documents written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
