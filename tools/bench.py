#!/usr/bin/env python3
"""nianbao benchmark: accuracy on every corpus with gold, throughput at batch scale, and the naive
alternatives side by side on the same PDF files in the same run (issues 3 and 7).

Usage (from the repo root; ``make bench`` runs it with the project venv)::

    .venv/bin/python tools/bench.py [--out bench] [--batch-size 520] [--seed 7] [--repeat 2]
                                    [--workers 1,2] [--corpus [NAME=]DIR ...] [--camelot-python PY] ...

Writes ``<out>/report.json`` (every figure, per report details) and ``<out>/report.md`` (the summary,
with the date, the machine and a "Gaps" section listing every figure below the goals of issues 3 and 7).
``--only-side-by-side`` runs section 2 alone and replaces that section of an existing report (saying when
and with which code it was rerun).

1. **Accuracy** (deterministic: files sorted, seeded batch): for every corpus found -- the committed
   ``tests/fixtures/corpus``, ``tests/fixtures/generated``, ``../shared/corpus`` (``reports/`` + ``gold/``)
   and the seeded throughput batch -- cell precision (strict, the rules of ``../shared/tools/score.py``: a
   number published where the gold is blank counts as wrong), recall and reports fully right, per input
   format and per table; identity-check agreement: the equations of ``nianbao.validate.identities`` evaluated on
   the gold values (blank and "/" as 0; an equation with a side left entirely blank is not evaluated),
   compared with the identity problems nianbao reported. Broken inputs (``tests/fixtures/bad``): no number
   published, a reason given. PDF values: page and bounding box present.
2. **Side by side on the same PDFs** (every PDF with gold): CPU time per page, least of ``--repeat``
   interleaved runs, each from the bytes (robust when other processes share the machine), of nianbao's
   whole per-report extraction (``nianbao.pipeline.process_bytes``) with each PDF text source (setting
   ``pdf_text_source``: pdfplumber, pdfium; their published rows must be identical, file by file, and
   the pdfium one at most 0.4x extract_words, issue 16), ``pdfplumber`` ``page.extract_words()``
   (the floor of a pdfplumber-based reader), the naive baseline (``page.extract_tables()`` + label lookup,
   ``naive_map`` below), camelot lattice (when ``camelot-py`` is importable here or ``--camelot-python``
   names an interpreter that has it; one run in a child process, in parallel with the timing passes) and
   pypdfium2 plain text of every page (the text-extraction floor); and the accuracy of each table reader
   against the same gold.
3. **Throughput** on a seeded batch (default 520 reports: 60 % PDF, 20 % HTML, 12 % DOCX, 8 % text, plus
   the broken inputs): fresh reportlab PDFs made by ``tools/generate_fixtures.py``'s functions for new
   seeds; the other files are the corpus documents with distinct bytes (PDF: a comment line after
   ``%%EOF``; DOCX: a ZIP archive comment; HTML: a trailing comment; text: trailing newlines), so the
   sha256-keyed result cache cannot merge them. Run through the real per-report path of the
   ``annual-batch`` flow -- ``nianbao.runtime.report.ingest_item`` + ``process_ingested`` (result cache, then
   ``nianbao.runtime.isolation.process_isolated`` in warm worker processes) -- on a ``ThreadPoolExecutor`` of 1 and
   of 2 workers, each with an empty result cache; then the unchanged rerun (all cache hits). Prefect's
   orchestration and the Parquet publish are not in the reports/s figures (publish is timed separately).
   Peak memory is the RSS of the whole process tree (this process + worker processes), sampled every 50 ms;
   the CPU used by other processes meanwhile is reported (/proc/stat). Every copy must read exactly like
   its source document, and the code (nianbao/, tasks/) must not change during the run: both are checked.

camelot-py (with opencv, pandas, numpy: ~290 MB) is not a project dependency: point ``--camelot-python``
(or ``$NIANBAO_BENCH_CAMELOT_PYTHON``) at a venv that has it, or the report lists camelot as not compared.
"""
from __future__ import annotations

import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--camelot-worker":
    # Child mode, run by the interpreter that has camelot-py (it need not have nianbao): read a JSON list of
    # PDF paths on stdin, print {path: {rows, cpu, pages, error}} as JSON. Stdlib + camelot only.
    import json
    import resource
    import time
    import warnings

    warnings.filterwarnings("ignore")
    import camelot

    def _cpu() -> float:
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + ch.ru_utime + ch.ru_stime

    paths = json.load(sys.stdin)
    out = {}
    if paths:
        try:
            camelot.read_pdf(paths[0], flavor="lattice", pages="1")  # warm imports
        except Exception as exc:
            print(f"camelot warm-up: {exc}", file=sys.stderr)
    for p in paths:
        t = _cpu()
        try:
            tables = camelot.read_pdf(p, flavor="lattice", pages="all")
            rows = [[[str(c) for c in r] for r in tb.df.values.tolist()] for tb in tables]
            out[p] = {"tables": rows, "cpu": _cpu() - t, "error": None}
        except Exception as exc:
            out[p] = {"tables": [], "cpu": _cpu() - t, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps({"version": getattr(camelot, "__version__", "?"), "results": out}))
    sys.exit(0)

import argparse
import datetime as _dt
import gc
import hashlib
import importlib.util
import io
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The repo (for nianbao) and this folder (for the sibling tools, imported by name) on sys.path, also when this
# script is loaded another way than `python tools/bench.py` (`nianbao bench` runs it through runpy).
for _path in (str(REPO), str(REPO / "tools")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from nianbao.goldscore import TABLES, Key, Score, published_numbers, report_score, score_published  # noqa: E402

FORMATS = ("pdf", "html", "docx", "text")
IDENTITY_CHECKS = ("applications_balance", "applications_handled_total", "applications_row_total",
                   "reviews_litigation_total")
# The goals the report checks (issues 3 and 7).
GOAL_PRECISION = 1.0
GOAL_RECALL_GENERATED = 0.995
GOAL_RECALL_HONGZE = 0.99
GOAL_WORDS_RATIO = 2.0
GOAL_PDFIUM_RATIO = 0.4  # issue 16: per-page CPU with the pdfium source, x pdfplumber extract_words
GOAL_MINUTES = 15.0
# The throughput batch: share of each format (mostly PDF, then HTML, DOCX, text).
MIX = (("pdf", 0.60), ("html", 0.20), ("docx", 0.12), ("text", 0.08))
RL_VARIANTS = ("rl-emb-grid", "rl-cid-grid", "rl-emb-threeline", "rl-cid-threeline", "rl-emb-norules",
               "rl-cid-norules", "rl-emb-fakebold", "rl-cid-fakebold", "rl-emb-split", "rl-cid-split")



def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Corpora and scoring
# ----------------------------------------------------------------------------------------------

@dataclass
class Doc:
    """One input with gold: where it is, its format, its gold file."""

    corpus: str
    path: Path
    gold: dict[str, Any]
    fmt: str
    sha: str = ""
    variant: str = ""

    @property
    def name(self) -> str:
        return self.path.name


def _fmt_of(path: Path, data: bytes) -> str:
    from nianbao.pipeline import sniff_format

    try:
        return str(sniff_format(data, path.name))
    except Exception:
        return path.suffix.lstrip(".").lower() or "unknown"


def load_corpus(name: str, root: Path, max_files: int | None = None) -> list[Doc]:
    """Given a corpus directory (``reports/`` + ``gold/``, or documents with ``<stem>.json`` beside them),
    return its documents with gold, sorted by file name."""
    if (root / "reports").is_dir() and (root / "gold").is_dir():
        files, gold_dir = sorted((root / "reports").iterdir()), root / "gold"
    else:
        files, gold_dir = sorted(root.iterdir()), root
    docs = []
    for f in files:
        if not f.is_file() or f.suffix.lower() in (".json", ".md", ".py") or f.name.startswith("."):
            continue
        g = gold_dir / f"{f.name.split('.')[0]}.json"
        if not g.is_file():
            continue
        try:
            gold = json.loads(g.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(gold, dict) or "cells" not in gold:
            continue
        data = f.read_bytes()
        docs.append(Doc(name, f, gold, _fmt_of(f, data), hashlib.sha256(data).hexdigest(),
                        str(gold.get("variant") or f.name.split(".")[0])))
        if max_files and len(docs) >= max_files:
            break
    return docs


def published_rows(result: Any) -> list[tuple[Any, ...]]:
    """Everything a result publishes, for the cell-by-cell comparison of the two PDF sources."""
    return [(result.status, result.error, result.report_year, result.title, result.template),
            *sorted((s.number, s.heading, s.text, s.page) for s in result.sections),
            *sorted((c.table, c.key1, c.key2, str(c.value), c.kind, c.raw, c.origin.page, c.origin.bbox,
                     c.derivation, c.unit) for c in result.cells),
            *sorted(repr(p) for p in result.problems)]


def nianbao_published(result: Any) -> dict[Key, float | None]:
    return published_numbers(result.cells)


def gold_identity_failures(gold: dict[str, Any]) -> tuple[set[tuple[str, str | None, str | None]], int]:
    """Evaluate nianbao.validate.identities' equations on the gold values (blank and "/" as 0, as nianbao does):
    return the failing (check, key1, key2) and the number of equations that could be evaluated."""
    from decimal import Decimal

    from nianbao.results import CellValue
    from nianbao.validate.identities import equations, evaluate

    keys = {(c["key1"]) for c in gold["cells"] if c["table"] == "applications"}
    version = "2019" if "other_handling" in keys else "2021" if keys & {"other_no_correction", "other_other"} else None
    cells: dict[Key, Any] = {}
    for c in gold["cells"]:
        k = (c["table"], c["key1"], c["key2"])
        if c["value"] is None:
            kind = "not_applicable" if c.get("raw") == "/" else "blank"
            cells[k] = CellValue(*k, None, kind, c.get("raw", ""))
        else:
            cells[k] = CellValue(*k, Decimal(str(c["value"])), "number", str(c["value"]))
    eqs = equations(version)  # type: ignore[arg-type]
    # Not evaluated: an equation with a cell the gold does not have, or with a side entirely blank (a total
    # that was not printed, as nianbao.validate.identities; or parts not printed, e.g. a 总计 column left blank in every
    # handling row above a printed （七）总计).
    evaluable = [e for e in eqs if all(k in cells for k in (*e.parts, *e.total))
                 and not all(cells[k].kind == "blank" for k in e.total)
                 and not all(cells[k].kind == "blank" for k in e.parts)]
    fails = {(p.check, p.key1, p.key2) for p in evaluate(cells, evaluable)}
    return fails, len(evaluable)


def identity_agreement(result: Any, gold: dict[str, Any]) -> dict[str, Any]:
    gold_fails, n_eq = gold_identity_failures(gold)
    flagged = {(p.check, p.key1, p.key2) for p in result.problems if p.check in IDENTITY_CHECKS}
    both, missed, false_alarm = gold_fails & flagged, gold_fails - flagged, flagged - gold_fails
    from nianbao.validate.identities import equations

    published = {(c.table, c.key1, c.key2): c for c in result.cells}
    eq_of = {(e.check, e.key1, e.key2): e for v in ("2019", "2021") for e in equations(v)}  # type: ignore[arg-type]

    def why(k: tuple[str, str | None, str | None]) -> str:
        e = eq_of.get(k)
        absent = [c for c in (*e.parts, *e.total) if c not in published] if e else []
        return (f"{k}: not evaluated by nianbao, {len(absent)} of its cells not published" if absent
                else f"{k}: balances on nianbao's values")

    return {"equations": n_eq, "gold_failing": len(gold_fails), "both": len(both),
            "missed": sorted(why(k) for k in missed), "false_alarm": sorted(map(str, false_alarm)),
            "agree": not missed and not false_alarm}


# ----------------------------------------------------------------------------------------------
# The naive baseline a user would write: pdfplumber extract_tables() (or camelot) + label lookup
# ----------------------------------------------------------------------------------------------

_NUM = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:万元|元)?$")


def _norm(s: str | None) -> str:
    return re.sub(r"[\s“”\"'‘’、，,：:()（）]", "", unicodedata.normalize("NFKC", s or ""))


def _val(s: str) -> float | None:
    return float(s.removesuffix("万元").removesuffix("元")) if _NUM.match(s) else None


def naive_map(tables: list[list[list[str | None]]]) -> dict[Key, float | None]:
    """Given extracted tables (rows of cell strings; None for a merged-away cell), return the published
    numbers by template key: the context (which of the three tables) from header words, the row from the
    longest template label contained in the row's text cells, the values from the row's last cells."""
    from nianbao.template import OUTCOMES, PROCEEDINGS
    from nianbao.template import TABLES as TEMPLATES

    text = "".join(_norm(c) for t in tables for r in t for c in r)
    t1 = TEMPLATES[("proactive_disclosure", "2021" if "本年制发件数" in text or "现行有效件数" in text else "2019")]
    t2 = TEMPLATES[("applications", "2021" if "逾期不补正" in text else "2019")]
    labels = {"proactive_disclosure": [(_norm(a), r) for r in t1.rows for a in r.labels],
              "applications": [(_norm(a), r) for r in t2.rows for a in r.labels]}
    out: dict[Key, float | None] = {}
    ctx = None
    for table in tables:
        for row in table:
            cells = [_norm(c) for c in row if c is not None]
            joined = "".join(cells)
            if "申请人情况" in joined or "自然人" in joined:
                ctx = "applications"
            elif "行政复议" in joined and "行政诉讼" in joined:
                ctx = "reviews_litigation"
            elif "信息内容" in joined or "第二十条" in joined:
                ctx = "proactive_disclosure"
            label = "".join(c for c in cells if c and c != "/" and not _NUM.match(c))
            if ctx == "reviews_litigation":
                if not label and len(cells) >= 15:
                    keys = [(p.key, o.key) for p in PROCEEDINGS for o in OUTCOMES]
                    for (k1, k2), raw in zip(keys, cells[-15:]):
                        out.setdefault(("reviews_litigation", k1, k2), _val(raw))
                continue
            if ctx is None or not label:
                continue
            hits = [(len(a), i, r) for i, (a, r) in enumerate(labels[ctx]) if a in label]
            if not hits:
                continue
            r = max(hits, key=lambda h: (h[0], -h[1]))[2]
            cols = r.metrics if ctx == "proactive_disclosure" else tuple(c.key for c in t2.columns)
            values = cells[-len(cols):]
            if len(cells) <= len(cols) or not any(v == "" or _NUM.match(v) for v in values):
                continue
            if any((ctx, r.key, k2) in out for k2 in cols):
                continue  # first occurrence wins (a repeated header row, a duplicated label)
            for k2, raw in zip(cols, values):
                out[(ctx, r.key, k2)] = _val(raw)
    return out


def plumber_tables(data: bytes) -> tuple[list[list[list[str | None]]], int]:
    import pdfplumber

    tables = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        n = len(pdf.pages)
        for page in pdf.pages:
            tables.extend(page.extract_tables())
            page.close()
    return tables, n


def naive_pdfplumber(data: bytes) -> dict[Key, float | None]:
    return naive_map(plumber_tables(data)[0])


def plumber_words(data: bytes) -> int:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        n = 0
        for page in pdf.pages:
            page.extract_words()
            page.close()
            n += 1
    return n


def pdfium_text(data: bytes) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        n = len(pdf)
        for i in range(n):
            page = pdf[i]
            tp = page.get_textpage()
            tp.get_text_range()
            tp.close()
            page.close()
    finally:
        pdf.close()
    return n


def nianbao_extract(data: bytes, name: str, pdf_text_source: str = "pdfplumber") -> Any:
    from nianbao.pipeline import process_bytes

    return process_bytes(data, name, pdf_text_source=pdf_text_source)


# ----------------------------------------------------------------------------------------------
# Accuracy
# ----------------------------------------------------------------------------------------------

def aggregate(rows: list[dict[str, Any]], scores: dict[str, dict[str, Score]]) -> dict[str, Any]:
    """Given per-report rows (name, fmt) and per-report per-table scores, return all / by format /
    by table / by format and table / by variant."""
    out: dict[str, Any] = {}
    tot, by_fmt, by_tab, by_ft, by_var = Score(), defaultdict(Score), defaultdict(Score), defaultdict(Score), \
        defaultdict(Score)
    for r in rows:
        per = scores[r["name"]]
        rep = report_score(per)
        tot.add(rep)
        by_fmt[r["format"]].add(rep)
        if r.get("variant"):
            by_var[r["variant"]].add(rep)
        for t, s in per.items():
            by_tab[t].add(s)
            by_ft[f"{r['format']}/{t}"].add(s)
    out["all"] = tot.as_dict()
    out["by_format"] = {k: by_fmt[k].as_dict() for k in sorted(by_fmt)}
    out["by_table"] = {k: by_tab[k].as_dict() for k in TABLES if k in by_tab}
    out["by_format_table"] = {k: by_ft[k].as_dict() for k in sorted(by_ft)}
    if by_var:
        out["by_variant"] = {k: by_var[k].as_dict() for k in sorted(by_var)}
    return out


def accuracy_of_results(docs: list[Doc], results: dict[str, Any]) -> dict[str, Any]:
    """Given documents and nianbao's result for each (by sha256), return the accuracy block."""
    rows, scores = [], {}
    ident = {"reports": 0, "reports_agree": 0, "equations": 0, "gold_failing": 0, "both": 0, "missed": 0,
             "false_alarm": 0}
    lineage = {"pdf_cells": 0, "with_page_and_bbox": 0}
    for d in docs:
        res = results[d.sha]
        per, mistakes = score_published(nianbao_published(res), d.gold)
        scores[d.name] = per
        rep = report_score(per)
        ia = identity_agreement(res, d.gold)
        ident["reports"] += 1
        ident["reports_agree"] += int(ia["agree"])
        for k in ("equations", "gold_failing", "both"):
            ident[k] += ia[k]
        ident["missed"] += len(ia["missed"])
        ident["false_alarm"] += len(ia["false_alarm"])
        if d.fmt == "pdf":
            nums = [c for c in res.cells if c.kind == "number"]
            lineage["pdf_cells"] += len(nums)
            lineage["with_page_and_bbox"] += sum(c.origin.page is not None and c.origin.bbox is not None for c in nums)
        rows.append({"name": d.name, "format": d.fmt, "variant": d.variant, "status": res.status,
                     "error": res.error, **{k: v for k, v in rep.as_dict().items() if k != "reports"},
                     "fully_right": bool(rep.fully_right), "mistakes": mistakes[:20],
                     "identities": ia})
    agg = aggregate(rows, scores)
    ident["agreement"] = round((ident["equations"] - ident["missed"] - ident["false_alarm"])
                               / max(1, ident["equations"]), 6)
    agg["identities"] = ident
    agg["lineage"] = lineage
    agg["per_report"] = rows
    return agg


def bad_inputs(root: Path) -> list[dict[str, Any]]:
    exp_file = root / "expected.json"
    if not exp_file.is_file():
        return []
    expected = json.loads(exp_file.read_text(encoding="utf-8"))
    out = []
    for name in sorted(expected):
        f = root / name
        if not f.is_file():
            continue
        res = nianbao_extract(f.read_bytes(), name)
        codes = [p.check for p in res.problems if p.severity == "error"]
        reason = res.error or (codes[0] if codes else None)
        numbers = sum(1 for c in res.cells if c.kind == "number")
        out.append({"file": name, "expected": expected[name].get("problem"), "status": res.status,
                    "reason": reason, "numbers_published": numbers, "ok": numbers == 0 and bool(reason)})
    return out


# ----------------------------------------------------------------------------------------------
# Side by side: per-page CPU time and the baselines' accuracy on the same PDFs
# ----------------------------------------------------------------------------------------------

def camelot_python(arg: str | None) -> str | None:
    if arg:
        return arg
    env = os.environ.get("NIANBAO_BENCH_CAMELOT_PYTHON")
    if env:
        return env

    return sys.executable if importlib.util.find_spec("camelot") else None


def run_camelot(py: str, paths: list[Path], timeout: float) -> dict[str, Any]:
    try:
        proc = subprocess.run([py, str(Path(__file__).resolve()), "--camelot-worker"],
                              input=json.dumps([str(p) for p in paths]), capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    try:
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError) as exc:
        return {"error": f"bad output: {exc}"}


def side_by_side(docs: list[Doc], repeat: int, camelot_py: str | None, camelot_timeout: float
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the side-by-side block, nianbao's result per sha256 of the PDFs)."""
    methods = {"nianbao": lambda d: nianbao_extract(d, "x.pdf"),
               "nianbao_pdfium": lambda d: nianbao_extract(d, "x.pdf", "pdfium"), "extract_words": plumber_words,
               "naive_extract_tables": naive_pdfplumber, "pypdfium2_text": pdfium_text}
    pdfs = [d for d in docs if d.fmt == "pdf"]
    datas = [d.path.read_bytes() for d in pdfs]
    best: dict[str, list[float]] = {m: [float("inf")] * len(pdfs) for m in methods}
    outputs: dict[str, list[Any]] = {m: [None] * len(pdfs) for m in methods}
    pages = [0] * len(pdfs)
    # camelot runs in its own process meanwhile (its CPU time is measured there): the other core is used
    cam_got: dict[str, Any] = {}
    cam_thread = None
    if camelot_py and pdfs:
        log(f"camelot lattice on {len(pdfs)} PDFs with {camelot_py} (in parallel)")
        cam_thread = threading.Thread(target=lambda: cam_got.update(
            run_camelot(camelot_py, [d.path for d in pdfs], camelot_timeout)), daemon=True)
        cam_thread.start()
    if pdfs:
        for fn in methods.values():  # warm imports and module caches, not the documents
            fn(datas[0])
    for rnd in range(repeat):
        for i, data in enumerate(datas):
            for m, fn in methods.items():
                gc.collect()  # every method starts from a clean heap (a full collection inside one is noise)
                t = time.process_time()
                try:
                    got = fn(data)
                except Exception as exc:
                    got = exc
                best[m][i] = min(best[m][i], time.process_time() - t)
                if rnd == 0:
                    outputs[m][i] = got
        log(f"side by side: pass {rnd + 1}/{repeat} done")
    for i, res in enumerate(outputs["nianbao"]):
        words = outputs["extract_words"][i]
        pages[i] = words if isinstance(words, int) else (getattr(res, "page_count", None) or 0)
    cam: dict[str, Any] = {"available": False}
    if cam_thread is not None:
        cam_thread.join()
        got = cam_got
        log("camelot lattice done")
        if "results" in got:
            cam = {"available": True, "python": camelot_py, "version": got.get("version")}
            res = got["results"]
            best["camelot_lattice"] = [res[str(d.path)]["cpu"] for d in pdfs]
            outputs["camelot_lattice"] = [naive_map(res[str(d.path)]["tables"]) if not res[str(d.path)]["error"]
                                          else RuntimeError(res[str(d.path)]["error"]) for d in pdfs]
        else:
            cam = {"available": False, "error": got.get("error")}
    elif not camelot_py:
        cam["error"] = "camelot-py is not installed (pip install camelot-py, or --camelot-python PY)"
    total_pages = sum(pages)
    per_page = {m: sum(v) / max(1, total_pages) for m, v in best.items()}
    block: dict[str, Any] = {"files": len(pdfs), "pages": total_pages, "repeat": repeat, "camelot": cam,
                             "cpu_ms_per_page": {m: round(v * 1000, 2) for m, v in per_page.items()}}
    floors = ("extract_words", "naive_extract_tables", "pypdfium2_text")
    block["ratios"] = {m: {f"x_{f}": round(per_page[m] / per_page[f], 3) for f in floors if per_page.get(f)}
                       for m in per_page}
    per_file = []
    for i, d in enumerate(pdfs):
        w = best["extract_words"][i]
        per_file.append({"name": d.name, "corpus": d.corpus, "pages": pages[i],
                         "cpu_ms": {m: round(best[m][i] * 1000, 1) for m in best},
                         "nianbao_x_words": round(best["nianbao"][i] / w, 3) if w else None})
    ratios = [f["nianbao_x_words"] for f in per_file if f["nianbao_x_words"]]
    block["nianbao_x_words_per_file"] = {"median": round(statistics.median(ratios), 3) if ratios else None,
                                         "max": max(ratios) if ratios else None,
                                         "over_2x": sorted(f["name"] for f in per_file
                                                           if (f["nianbao_x_words"] or 0) > GOAL_WORDS_RATIO)}
    # the pdfium source must publish exactly what the pdfplumber one does (setting pdf_text_source)
    differ = []
    for i, d in enumerate(pdfs):
        x, y = outputs["nianbao"][i], outputs["nianbao_pdfium"][i]
        if isinstance(x, Exception) or isinstance(y, Exception) or published_rows(x) != published_rows(y):
            differ.append(d.name)
        per_file[i]["pdfium_x_words"] = (round(best["nianbao_pdfium"][i] / best["extract_words"][i], 3)
                                         if best["extract_words"][i] else None)
    block["pdfium_source"] = {"files": len(pdfs), "differing": differ,
                              "x_extract_words": block["ratios"].get("nianbao_pdfium", {}).get("x_extract_words"),
                              "x_nianbao_pdfplumber": round(per_page["nianbao_pdfium"] / per_page["nianbao"], 3)
                              if per_page.get("nianbao") else None}
    block["per_file"] = per_file
    # accuracy of each table reader on the same files
    acc = {}
    for m in ("nianbao", "nianbao_pdfium", "naive_extract_tables", "camelot_lattice"):
        if m not in outputs:
            continue
        rows, scores, errors = [], {}, []
        for i, d in enumerate(pdfs):
            got = outputs[m][i]
            if isinstance(got, Exception):
                errors.append(f"{d.name}: {type(got).__name__}: {got}"[:200])
                pub: dict[Key, float | None] = {}
            else:
                pub = nianbao_published(got) if m.startswith("nianbao") else got
            scores[d.name] = score_published(pub, d.gold)[0]
            rows.append({"name": d.name, "format": "pdf", "variant": d.variant})
        a = aggregate(rows, scores)
        acc[m] = {"all": a["all"], "by_table": a["by_table"], "errors": errors}
        if "by_variant" in a:
            acc[m]["by_variant"] = a["by_variant"]
    block["accuracy"] = acc
    results = {pdfs[i].sha: r for i, r in enumerate(outputs["nianbao"]) if not isinstance(r, Exception)}
    return block, results


# ----------------------------------------------------------------------------------------------
# The throughput batch
# ----------------------------------------------------------------------------------------------

@dataclass
class BatchItem:
    path: Path
    fmt: str
    origin: str  # fresh:<variant> | copy:<source name> | bad:<name>
    gold: dict[str, Any] | None = None
    variant: str = ""
    source_sha: str = ""
    generated: bool = True  # made by the fixture generator (fresh, or a copy of a generated fixture)


def _distinct_bytes(data: bytes, fmt: str, k: int) -> bytes:
    """A copy of a document with different bytes and the same content."""
    tag = f"nianbao-bench copy {k}"
    if fmt == "pdf":
        return data.rstrip(b"\r\n") + f"\n%{tag}\n".encode()
    if fmt == "docx":
        src = zipfile.ZipFile(io.BytesIO(data))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info.filename))
            dst.comment = tag.encode()
        return buf.getvalue()
    if fmt == "html":
        return data + f"\n<!-- {tag} -->\n".encode()
    return data + b"\n" * (k + 1)


def build_batch(dst: Path, size: int, seed: int, pool: list[Doc], bad_dir: Path | None) -> list[BatchItem]:
    """Write a seeded batch of ``size`` reports in the realistic mix (plus the broken inputs) into ``dst``."""
    rng = random.Random(f"nianbao-bench-{seed}")
    counts = {f: round(size * share) for f, share in MIX}
    counts["pdf"] += size - sum(counts.values())
    by_fmt: dict[str, list[Doc]] = defaultdict(list)
    seen = set()
    for d in pool:
        if d.sha not in seen:
            seen.add(d.sha)
            by_fmt[d.fmt].append(d)
    import generate_fixtures as gf

    # without the WenQuanYi font file only the STSong-Light (non-embedded CID font) variants can be made
    variants = RL_VARIANTS if os.path.exists(gf.WQY_FONT) else tuple(v for v in RL_VARIANTS if "-cid-" in v)
    plan: list[tuple[str, Any]] = []
    n_fresh = counts["pdf"] // 2 if by_fmt["pdf"] else counts["pdf"]
    plan += [("fresh", variants[i % len(variants)]) for i in range(n_fresh)]
    for fmt in FORMATS:
        n = counts[fmt] - (n_fresh if fmt == "pdf" else 0)
        src = by_fmt.get(fmt) or []
        if not src:  # no document of this format in the corpora: fill with fresh reportlab PDFs
            plan += [("fresh", variants[(n_fresh + i) % len(variants)]) for i in range(n)]
            continue
        plan += [("copy", src[i % len(src)]) for i in range(n)]
    rng.shuffle(plan)
    fresh = [v for kind, v in plan if kind == "fresh"]
    reps = []
    if fresh:
        reps = gf.assemble(10_000 + seed, [(v, None) for v in fresh])
    items: list[BatchItem] = []
    copies: Counter[str] = Counter()
    fi = 0
    for i, (kind, v) in enumerate(plan):
        if kind == "fresh":
            rep = reps[fi]
            fi += 1
            path = dst / f"b{i:04d}-{rep.stem}.pdf"
            gf.write_rl(rep, path)
            items.append(BatchItem(path, "pdf", f"fresh:{rep.variant}", gf.gold_json(rep), rep.variant))
        else:
            d: Doc = v
            copies[d.sha] += 1
            path = dst / f"b{i:04d}-{d.path.name.split('.')[0]}.{d.path.name.split('.', 1)[1]}"
            path.write_bytes(_distinct_bytes(d.path.read_bytes(), d.fmt, copies[d.sha]))
            items.append(BatchItem(path, d.fmt, f"copy:{d.name}", d.gold, d.variant, d.sha,
                                   d.corpus == "generated" or "variant" in d.gold))
    if bad_dir is not None and (bad_dir / "expected.json").is_file():
        for name in sorted(json.loads((bad_dir / "expected.json").read_text(encoding="utf-8"))):
            if (bad_dir / name).is_file():
                path = dst / f"bad-{name}"
                shutil.copyfile(bad_dir / name, path)
                items.append(BatchItem(path, "bad", f"bad:{name}"))
    return items


class TreeMemory:
    """Samples the RSS of this process and all its descendants; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.peak_child = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            import psutil

            me = psutil.Process()
            procs = [me, *me.children(recursive=True)]
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    continue  # the process ended meanwhile
            self.peak = max(self.peak, sum(rss))
            if len(rss) > 1:
                self.peak_child = max(self.peak_child, max(rss[1:]))
        except ImportError:
            import resource

            self.peak = max(self.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        f = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        tck = os.sysconf("SC_CLK_TCK")
        idle = f[3] + (f[4] if len(f) > 4 else 0)
        return (sum(f) - idle) / tck, sum(f) / tck
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def _own_cpu() -> float:
    """CPU seconds of this process, its reaped children and its live descendants."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    try:
        import psutil

        for p in psutil.Process().children(recursive=True):
            try:
                c = p.cpu_times()
                own += c.user + c.system
            except psutil.Error:
                pass
    except ImportError:
        pass
    return own


def run_batch(items: list[BatchItem], workers: int, cache_dir: Path, out_dir: Path, timeout: float) -> dict[str, Any]:
    """Process the batch on the real per-report path with ``workers`` threads; return figures + results."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from nianbao.ingest.sources import SourceItem
    from nianbao.runtime.report import ingest_item, process_ingested
    from nianbao.settings import load_settings

    cfg = load_settings(env={}, out_dir=str(out_dir), cache_dir=str(cache_dir), report_timeout_seconds=timeout,
                        max_workers=workers, task_runner="threads")

    def one(it: BatchItem) -> Any:
        return process_ingested(ingest_item(SourceItem(str(it.path)), cfg), cfg, None)

    busy0, tot0 = _machine_busy()
    own0 = _own_cpu()
    with TreeMemory() as mem, ThreadPoolExecutor(max_workers=workers) as ex:
        t = time.perf_counter()
        outcomes = list(ex.map(one, items))
        wall = time.perf_counter() - t
    busy1, tot1 = _machine_busy()
    own = _own_cpu() - own0
    machine = busy1 - busy0
    results = [o.result for o in outcomes]
    pdf_pages = sum(r.page_count or 0 for r in results if r.source_format == "pdf")
    statuses = Counter(r.status for r in results)
    errors = Counter(r.error for r in results if r.error)
    per_fmt: dict[str, list[float]] = defaultdict(list)
    for it, r in zip(items, results):
        per_fmt[it.fmt].append(r.seconds)
    return {
        "workers": workers, "reports": len(items), "wall_seconds": round(wall, 3),
        "reports_per_second": round(len(items) / wall, 3), "pdf_pages": pdf_pages,
        "pdf_pages_per_second": round(pdf_pages / wall, 3),
        "cache_hits": sum(o.cache_hit for o in outcomes),
        "peak_rss_mb": round(mem.peak / 2**20, 1), "peak_worker_rss_mb": round(mem.peak_child / 2**20, 1),
        "status": dict(sorted(statuses.items())), "errors": dict(sorted(errors.items())),
        "mean_parse_seconds_by_format": {f: round(statistics.mean(v), 4) for f, v in sorted(per_fmt.items())},
        "cpu_seconds_this_tree": round(own, 1),
        "cpu_seconds_other_processes": round(max(0.0, machine - own), 1),
        "machine_cpu_seconds_available": round((tot1 - tot0), 1),
        "_results": results,
    }


def warm_workers(items: list[BatchItem], workers: int, timeout: float) -> float:
    """Start and warm ``workers`` isolation children (imports), outside the timed runs."""
    from nianbao.runtime.isolation import process_isolated

    pick = [it for it in items if it.fmt in ("pdf", "docx", "html")]
    picks = sorted(pick, key=lambda it: it.path.stat().st_size)[:1] or items[:1]
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for it in picks:
            path = str(it.path)
            list(ex.map(lambda p: process_isolated(p, p, report_id="warm", size=0, max_file_bytes=1 << 30,
                                                   max_pages=500, timeout=timeout), [path] * workers))
    return time.perf_counter() - t


def throughput(items: list[BatchItem], workers_list: list[int], work: Path, timeout: float,
               publish: bool) -> tuple[dict[str, Any], list[Any]]:
    mix = Counter(it.fmt for it in items)
    origin = Counter(it.origin.split(":")[0] for it in items)
    block: dict[str, Any] = {"reports": len(items), "mix": dict(sorted(mix.items())), "origin": dict(origin),
                             "path": "nianbao.runtime.report.ingest_item + process_ingested (result cache, then "
                                     "nianbao.runtime.isolation.process_isolated in warm worker processes) on a "
                                     "ThreadPoolExecutor", "runs": []}
    last: dict[str, Any] | None = None
    for w in workers_list:
        block.setdefault("warmup_seconds", {})[str(w)] = round(warm_workers(items, w, timeout), 2)
        log(f"throughput: {len(items)} reports with {w} worker(s)")
        run = run_batch(items, w, work / f"cache-w{w}", work / f"out-w{w}", timeout)
        log(f"  {run['reports_per_second']} reports/s, {run['pdf_pages_per_second']} PDF pages/s, "
            f"peak RSS {run['peak_rss_mb']} MB")
        last = run
        block["runs"].append({k: v for k, v in run.items() if k != "_results"})
    assert last is not None
    w = workers_list[-1]
    log(f"throughput: unchanged rerun with {w} worker(s) (cache hits)")
    rerun = run_batch(items, w, work / f"cache-w{w}", work / f"out-w{w}", timeout)
    block["rerun"] = {k: v for k, v in rerun.items() if k != "_results"}
    results = last["_results"]
    if publish:
        try:
            from nianbao.batch.plan import assign_years, drop_duplicates
            from nianbao.publish.parquet import publish_results as publish_batch

            t = time.perf_counter()
            kept = drop_duplicates(list(results))
            plan = assign_years(kept, None)
            files = publish_batch(kept, plan.year_of, plan.years, str(work / "published"), "bench", None,
                                  {"batch_id": "bench"})
            block["publish"] = {"seconds": round(time.perf_counter() - t, 2), "files": len(files),
                                "reports": len(kept)}
        except Exception as exc:
            block["publish"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return block, results


# ----------------------------------------------------------------------------------------------
# Machine, gaps, markdown
# ----------------------------------------------------------------------------------------------

def code_fingerprint() -> str:
    """sha256 of the pipeline's code (nianbao/, tasks/): the report says if it changed during the run."""
    h = hashlib.sha256()
    for f in sorted([*(REPO / "nianbao").rglob("*.py"), *(REPO / "tasks").rglob("*.py")]):
        h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def machine_info() -> dict[str, Any]:
    from importlib import metadata

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    pkgs = {}
    for p in ("nianbao", "pdfplumber", "pdfminer.six", "pypdfium2", "python-docx", "lxml", "reportlab", "prefect",
              "polars", "pyarrow", "psutil"):
        try:
            pkgs[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pkgs[p] = None
    from nianbao import PARSER_VERSION

    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "ram_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "packages": pkgs, "parser_version": PARSER_VERSION,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def find_gaps(rep: dict[str, Any]) -> list[str]:
    gaps: list[str] = []
    for cname, c in rep["accuracy"]["corpora"].items():
        generated = cname in ("generated", "batch-generated")
        for label, s in [("all", c["all"])] + [(f"format {k}", v) for k, v in c["by_format"].items()] + \
                [(f"{k}", v) for k, v in c["by_format_table"].items()]:
            if s["precision"] is not None and s["precision"] < GOAL_PRECISION:
                gaps.append(f"{cname} / {label}: precision {s['precision']:.4f} < 1.0 "
                            f"({s['wrong']} wrong, {s['value_where_blank']} number(s) where gold is blank)")
            if generated and s["recall"] is not None and s["recall"] < GOAL_RECALL_GENERATED:
                gaps.append(f"{cname} / {label}: recall {s['recall']:.4f} < {GOAL_RECALL_GENERATED} "
                            f"({s['missing']} of {s['gold_cells']} gold cells missing)")
        for r in c["per_report"]:
            if r["name"].startswith("real-hongze-2023") and (r["recall"] or 0) < GOAL_RECALL_HONGZE:
                gaps.append(f"{cname} / {r['name']}: recall {r['recall']:.4f} < {GOAL_RECALL_HONGZE} (issue 3)")
        ident = c["identities"]
        if ident["missed"] or ident["false_alarm"]:
            names = [r["name"] for r in c["per_report"] if not r["identities"]["agree"]]
            gaps.append(f"{cname}: identity checks disagree with gold in {len(names)} report(s): "
                        f"{ident['missed']} failing identit(y/ies) not reported, {ident['false_alarm']} reported "
                        f"that balance on the gold values ({', '.join(names[:6])}{' …' if len(names) > 6 else ''})")
        lin = c["lineage"]
        if lin["pdf_cells"] and lin["with_page_and_bbox"] < lin["pdf_cells"]:
            gaps.append(f"{cname}: {lin['pdf_cells'] - lin['with_page_and_bbox']} PDF value(s) without page and "
                        "bounding box (issue 3)")
    for b in rep["accuracy"].get("bad_inputs", []):
        if not b["ok"]:
            gaps.append(f"bad input {b['file']}: {b['numbers_published']} number(s) published, reason "
                        f"{b['reason']!r} (issue 3: none published, a reason given)")
    for scan in (rep.get("ocr") or {}).get("docs", []):
        if scan["wrong"] + scan["value_where_blank"]:
            gaps.append(f"OCR of {scan['file']}: {scan['wrong'] + scan['value_where_blank']} wrong number(s) "
                        "published (the gate must withhold)")
    sbs = rep.get("side_by_side")
    if sbs and sbs["files"]:
        r = sbs["ratios"].get("nianbao", {}).get("x_extract_words")
        if r is not None and r > GOAL_WORDS_RATIO:
            gaps.append(f"nianbao's whole extraction is {r:.2f}x pdfplumber extract_words per page "
                        f"(goal <= {GOAL_WORDS_RATIO}x, issue 3)")
        ps = sbs.get("pdfium_source")
        if ps:
            if ps["differing"]:
                gaps.append(f"the pdfium source publishes differently from pdfplumber on {len(ps['differing'])} "
                            f"PDF(s): {', '.join(ps['differing'][:8])} (issue 16: identical cells)")
            if (ps["x_extract_words"] or 0) > GOAL_PDFIUM_RATIO:
                gaps.append(f"nianbao with the pdfium source is {ps['x_extract_words']:.2f}x extract_words per page "
                            f"(goal <= {GOAL_PDFIUM_RATIO}x, issue 16)")
        over = sbs["nianbao_x_words_per_file"]["over_2x"]
        if over:
            gaps.append(f"{len(over)} PDF(s) over {GOAL_WORDS_RATIO}x extract_words per page: {', '.join(over[:8])}")
        acc = sbs["accuracy"]
        nb = acc.get("nianbao", {}).get("all")
        for m, a in acc.items():
            if m.startswith("nianbao") or nb is None:
                continue
            if a["all"]["precision"] is not None and (nb["precision"] or 0) < a["all"]["precision"]:
                gaps.append(f"nianbao precision {nb['precision']:.4f} below {m}'s {a['all']['precision']:.4f} "
                            "on the same PDFs (issue 7)")
            if (a["all"]["recall"] or 0) > (nb["recall"] or 0):
                gaps.append(f"nianbao recall {nb['recall']:.4f} below {m}'s {a['all']['recall']:.4f} on the same PDFs")
        if not sbs["camelot"].get("available"):
            gaps.append(f"camelot lattice not compared: {sbs['camelot'].get('error')}")
    tp = rep.get("throughput")
    if tp:
        if tp.get("copies_reading_differently"):
            gaps.append(f"{len(tp['copies_reading_differently'])} batch copies read differently from their source "
                        f"documents: {', '.join(tp['copies_reading_differently'][:6])}")
        if tp["reports"] < 500:
            gaps.append(f"throughput batch has {tp['reports']} reports (< 500: a reduced run)")
        for run in tp["runs"]:
            bad = {k: v for k, v in run["errors"].items() if k in ("timeout", "crashed", "internal_error")}
            if bad:
                gaps.append(f"throughput run with {run['workers']} worker(s): {bad}")
        if tp.get("rerun") and tp["rerun"]["cache_hits"] < tp["reports"]:
            n_det = tp["rerun"]["reports"] - tp["rerun"]["cache_hits"]
            gaps.append(f"unchanged rerun: {n_det} report(s) not served from the cache")
    if rep["code"]["start"] != rep["code"]["end"]:
        gaps.append("nianbao's code changed during the run (nianbao/ or tasks/ edited): the figures mix versions; "
                    "run again")
    if rep["duration_seconds"] > GOAL_MINUTES * 60:
        gaps.append(f"the benchmark took {rep['duration_seconds'] / 60:.1f} min (> {GOAL_MINUTES:g} min, issue 7)")
    if rep.get("layouts"):
        gaps += _layouts().gaps(rep["layouts"])
    if rep.get("scale"):
        gaps += _tool("bench_scale").gaps(rep["scale"])
    return gaps


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def markdown(rep: dict[str, Any]) -> str:
    m = rep["machine"]
    L = ["# nianbao benchmark", "",
         f"Date: {rep['date']} · duration {rep['duration_seconds'] / 60:.1f} min · command `{rep['command']}`", "",
         f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['ram_gb']} GB RAM, Python {m['python']} "
         f"({m['platform']}); load average at start {m['loadavg_start']}, at end {m.get('loadavg_end')}.",
         "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v) + f"; {m['parser_version']}; "
         f"code {rep['code'].get('git', '?')} (fingerprint {rep['code']['start']}).",
         ""]
    tp = rep.get("throughput")
    if tp:
        other = sum(r["cpu_seconds_other_processes"] for r in tp["runs"])
        avail = sum(r["machine_cpu_seconds_available"] for r in tp["runs"])
        L += [f"Other processes on the machine used {other:.0f} of {avail:.0f} CPU-seconds during the throughput "
              "runs; the per-page figures are CPU time (least of interleaved runs), less sensitive to that.", ""]
    L += ["## Gaps (figures below the goals of issues 3 and 7)", ""]
    L += [f"- {g}" for g in rep["gaps"]] or ["- none"]
    below = []
    for cname, c in rep["accuracy"]["corpora"].items():
        bad = [r for r in c["per_report"] if not r["fully_right"] or r["status"] != "ok"]
        if bad:
            desc = ", ".join(f"{r['name']} ({r['status']}, {r['missing']} missing, {r['wrong']} wrong)"
                             for r in bad[:8])
            below.append(f"- {cname}: {len(bad)} of {c['all']['reports']} report(s) not fully right or not "
                         f"`ok`: {desc}{' …' if len(bad) > 8 else ''}")
    if below:
        L += ["", "Below perfect but within the goals (reports not fully right, or with status `partial`):", ""]
        L += below
    L += ["", "## Accuracy", "",
          "Strict cell precision (a number where the gold is blank counts as wrong, as `score.py`), recall, "
          "reports fully right (every gold number, nothing wrong), identity checks (equations of "
          "`nianbao.validate.identities` on the gold values vs the identity problems nianbao reported).", "",
          "| corpus | format | reports | gold cells | precision | recall | fully right | identity agreement |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for cname, c in rep["accuracy"]["corpora"].items():
        idn = c["identities"]
        L.append(f"| {cname} | **all** | {c['all']['reports']} | {c['all']['gold_cells']} | "
                 f"{_pct(c['all']['precision'])} | {_pct(c['all']['recall'])} | "
                 f"{c['all']['fully_right']}/{c['all']['reports']} | {idn['agreement']:.4f} "
                 f"({idn['reports_agree']}/{idn['reports']} reports) |")
        for f, s in c["by_format"].items():
            L.append(f"| {cname} | {f} | {s['reports']} | {s['gold_cells']} | {_pct(s['precision'])} | "
                     f"{_pct(s['recall'])} | {s['fully_right']}/{s['reports']} | |")
    L += ["", "Per table (fully right counts tables):", "",
          "| corpus | table | gold cells | precision | recall | fully right |", "|---|---|---:|---:|---:|---:|"]
    for cname, c in rep["accuracy"]["corpora"].items():
        for t, s in c["by_table"].items():
            L.append(f"| {cname} | {t} | {s['gold_cells']} | {_pct(s['precision'])} | {_pct(s['recall'])} | "
                     f"{s['fully_right']}/{s['reports']} |")
    L += ["", "Identity checks (failing on gold: equations that do not balance on the gold values, blank as 0; "
          "missed: of those, not reported by nianbao; false alarms: reported but balanced on gold):", "",
          "| corpus | equations | failing on gold | reported too | missed | false alarms |",
          "|---|---:|---:|---:|---:|---:|"]
    for cname, c in rep["accuracy"]["corpora"].items():
        i = c["identities"]
        L.append(f"| {cname} | {i['equations']} | {i['gold_failing']} | {i['both']} | {i['missed']} | "
                 f"{i['false_alarm']} |")
    bad = rep["accuracy"].get("bad_inputs")
    if bad:
        L += ["", "Broken inputs (`tests/fixtures/bad`):", "",
              "| file | expected | status | reason | numbers published |", "|---|---|---|---|---:|"]
        L += [f"| {b['file']} | {b['expected']} | {b['status']} | {b['reason']} | {b['numbers_published']} |"
              for b in bad]
    ocr = rep.get("ocr")
    if ocr is not None:
        import bench_ocr

        L += ["", "## OCR of scanned reports and pictures of tables (`tools/generate_scans.py`)", "",
              "Each document is a generated gold report degraded one way (or born-digital with its tables as "
              "pictures). A number read by OCR is published only when tesseract read the same, or the identities "
              "balance with it, or a unique one-digit fix is confirmed by a second reading "
              "(`nianbao/validate/ocrgate.py`); the rest is withheld with an `ocr_*` warning.", ""]
        L += bench_ocr.markdown(ocr)
    sbs = rep.get("side_by_side")
    if sbs and sbs["files"]:
        cam = sbs["camelot"]
        rr = rep.get("side_by_side_rerun")
        L += ["", "## Side by side on the same PDFs", ""]
        if rr:
            L += [f"This section was rerun on its own on {rr['date']} (`{rr['command']}`, code "
                  f"{rr['code'].get('git', '?')}, load average at the start "
                  f"{rr['machine'].get('loadavg_start', rr['machine'].get('loadavg', '?'))}); the other sections are "
                  "from the full run above.", ""]
        L += [
              f"{sbs['files']} PDFs with gold, {sbs['pages']} pages; CPU time per page, least of {sbs['repeat']} "
              "interleaved runs from the bytes (camelot: one run, in a child process, CPU incl. its children). "
              + ("camelot-py " + str(cam.get("version")) + "." if cam.get("available")
                 else f"camelot: not run ({cam.get('error')})."), "",
              "| method | CPU ms/page | × extract_words | × extract_tables (naive) | × pypdfium2 text | precision | "
              "recall | fully right |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        names = {"nianbao": "nianbao (whole per-report extraction), pages read by pdfplumber",
                 "nianbao_pdfium": "nianbao (whole per-report extraction), pages read by pdfium",
                 "extract_words": "pdfplumber extract_words",
                 "naive_extract_tables": "naive: pdfplumber extract_tables + label lookup",
                 "camelot_lattice": "camelot lattice + label lookup", "pypdfium2_text": "pypdfium2 plain text"}
        for meth, ms in sbs["cpu_ms_per_page"].items():
            r = sbs["ratios"][meth]
            a = sbs["accuracy"].get(meth, {}).get("all")
            L.append(f"| {names.get(meth, meth)} | {ms:.1f} | {r.get('x_extract_words', 0):.2f} | "
                     f"{r.get('x_naive_extract_tables', 0):.2f} | {r.get('x_pypdfium2_text', 0):.2f} | "
                     + (f"{_pct(a['precision'])} | {_pct(a['recall'])} | {a['fully_right']}/{a['reports']} |"
                        if a else "— | — | — |"))
        pf = sbs["nianbao_x_words_per_file"]
        L += ["", f"nianbao / extract_words per file: median {pf['median']}, max {pf['max']}."]
        ps = sbs.get("pdfium_source")
        if ps:
            L += ["", f"**pdfium source** (setting `pdf_text_source = \"pdfium\"`, issue 16): "
                  f"{ps['x_extract_words']}x extract_words per page (goal <= {GOAL_PDFIUM_RATIO}x), "
                  f"{ps['x_nianbao_pdfplumber']}x the pdfplumber source; published rows (status, sections, "
                  f"problems, every cell with value, kind, text, page and bbox) identical to the pdfplumber "
                  f"source on {ps['files'] - len(ps['differing'])} of {ps['files']} PDFs"
                  + (f" (differing: {', '.join(ps['differing'])})." if ps["differing"] else ".")]
        meths = [m for m in ("nianbao", "naive_extract_tables", "camelot_lattice") if m in sbs["accuracy"]]
        variants = sorted(sbs["accuracy"]["nianbao"].get("by_variant", {}))
        if variants:
            L += ["", "Precision / recall by kind of PDF:", "",
                  "| PDF kind | files | " + " | ".join(names[m] for m in meths) + " |",
                  "|---|---:|" + "---|" * len(meths)]
            for v in variants:
                cells = []
                for m in meths:
                    s = sbs["accuracy"][m].get("by_variant", {}).get(v)
                    cells.append(f"{_pct(s['precision'])} / {_pct(s['recall'])}" if s else "—")
                n = sbs["accuracy"]["nianbao"]["by_variant"][v]["reports"]
                L.append(f"| {v} | {n} | " + " | ".join(cells) + " |")
    if tp:
        L += ["", "## Throughput", "",
              f"{tp['reports']} reports ({', '.join(f'{k} {v}' for k, v in tp['mix'].items())}; "
              f"{', '.join(f'{k} {v}' for k, v in tp['origin'].items())}), seed {rep['settings']['seed']}. "
              f"Path: {tp['path']}; worker processes warmed first "
              f"({', '.join(f'{k}: {v} s' for k, v in tp.get('warmup_seconds', {}).items())}). "
              "PDF pages/s = PDF pages of the mixed batch / its wall time.", "",
              "| workers | wall s | reports/s | PDF pages/s | peak RSS MB (tree) | peak worker RSS MB | "
              "CPU used by other processes | status |",
              "|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in tp["runs"] + [dict(tp["rerun"], workers=f"{tp['rerun']['workers']} (rerun, cache)")]:
            other = r["cpu_seconds_other_processes"] / max(1e-9, r["machine_cpu_seconds_available"])
            L.append(f"| {r['workers']} | {r['wall_seconds']:.1f} | {r['reports_per_second']:.2f} | "
                     f"{r['pdf_pages_per_second']:.1f} | {r['peak_rss_mb']:.0f} | {r['peak_worker_rss_mb']:.0f} | "
                     f"{other:.0%} | {', '.join(f'{k} {v}' for k, v in r['status'].items())} |")
        runs = {r["workers"]: r for r in tp["runs"]}
        if 1 in runs and 2 in runs:
            L += ["", f"Speed-up 2 vs 1 worker: {runs[2]['reports_per_second'] / runs[1]['reports_per_second']:.2f}×; "
                      f"unchanged rerun: {tp['rerun']['cache_hits']}/{tp['rerun']['reports']} cache hits in "
                      f"{tp['rerun']['wall_seconds']:.1f} s."]
        if sbs and sbs["files"] and 1 in runs:
            floor = 1000 / sbs["cpu_ms_per_page"]["extract_words"]
            L += [f"One core of extract_words alone would do {floor:.1f} pages/s; nianbao's whole extraction "
                  f"{1000 / sbs['cpu_ms_per_page']['nianbao']:.1f} pages/s of CPU."]
        pub = tp.get("publish") or {}
        if "seconds" in pub:
            L += [f"Publishing the last run's {pub['reports']} results (validated Parquet, {pub['files']} files, "
                  f"`nianbao.publish.parquet.publish_results`): {pub['seconds']:.1f} s."]
        elif pub:
            L += [f"Publishing failed: {pub.get('error')}"]
    if rep.get("layouts"):
        L += [""] + _layouts().markdown(rep["layouts"])
    # measured apart (tools/bench_scale.py, tools/bench_runners.py) and kept across runs of this benchmark
    if rep.get("scale"):
        L += [""] + _tool("bench_scale").markdown(rep["scale"])
    if rep.get("runners"):
        L += [""] + _tool("bench_runners").markdown(rep["runners"])
    L += ["", "Every figure, per report and per file, is in `report.json`. Accuracy figures are deterministic "
          "(sorted files, seeded batch); timings vary with the machine's load.", ""]
    return "\n".join(L)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def default_corpora() -> list[tuple[str, Path]]:
    fixtures = REPO / "tests" / "fixtures"
    out = [("committed", fixtures / "corpus"), ("generated", fixtures / "generated")]
    shared = Path(os.environ.get("NIANBAO_SHARED_CORPUS", REPO.parent / "shared" / "corpus"))
    out.append(("shared", shared))
    return [(n, p) for n, p in out if p.is_dir()]


def _tool(name: str) -> Any:
    """A sibling script of this one, e.g. ``bench_scale`` (this folder is on sys.path: see the top)."""
    return importlib.import_module(name)


def _layouts() -> Any:
    return _tool("bench_layouts")


def _only_layouts(out: Path) -> int:
    """Run the real-layouts section alone and update it in ``out``/report.json and report.md."""
    path = out / "report.json"
    report = json.loads(path.read_text("utf-8")) if path.exists() else {}
    mod = _layouts()
    log("real layouts (tools/generate_layouts.py)")
    report["layouts"] = mod.run()
    report["layouts"]["date"] = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    report["gaps"] = [g for g in report.get("gaps", []) if not g.startswith("layouts /")] + mod.gaps(report["layouts"])
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    if "accuracy" in report:
        (out / "report.md").write_text(markdown(report), encoding="utf-8")
    else:
        (out / "report.md").write_text("\n".join(mod.markdown(report["layouts"])) + "\n", encoding="utf-8")
    log(f"layouts: {report['layouts']['documents']} documents in {report['layouts']['seconds']:.0f} s; wrote {path}")
    return 0


def _replace_side_by_side(out: Path, fresh: dict[str, Any], started: _dt.datetime, t0: float) -> int:
    """Put a rerun side-by-side section into the existing report (json and md), saying when and with which
    code it was measured; the other sections stay as the full run left them."""
    path = out / "report.json"
    if not path.is_file():
        log(f"--only-side-by-side needs an existing {path}: run the full benchmark once first")
        return 2
    rep = json.loads(path.read_text(encoding="utf-8"))
    rep["side_by_side"] = fresh["side_by_side"]
    fresh["code"]["end"] = code_fingerprint()
    rep["side_by_side_rerun"] = {"date": started.strftime("%Y-%m-%d %H:%M %Z"), "command": fresh["command"],
                                 "code": fresh["code"], "machine": fresh["machine"],
                                 "seconds": round(time.perf_counter() - t0, 1)}
    rep["gaps"] = find_gaps(rep)
    if fresh["code"]["start"] != fresh["code"]["end"]:
        rep["gaps"].append("nianbao's code changed during the side-by-side rerun: run it again")
    path.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(rep), encoding="utf-8")
    log(f"replaced the side-by-side section of {path} and {out / 'report.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nianbao bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench", help="report directory (default: bench/)")
    ap.add_argument("--corpus", action="append", default=None, metavar="[NAME=]DIR",
                    help="corpus directory (repeatable; default: tests/fixtures/corpus, tests/fixtures/generated, "
                         "../shared/corpus)")
    ap.add_argument("--max-files", type=int, default=None, help="at most N documents per corpus")
    ap.add_argument("--batch-size", type=int, default=520, help="throughput batch size (default 520; 0: skip)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2, help="interleaved timing runs per PDF (least is kept)")
    ap.add_argument("--workers", default="1,2", help="worker counts for the throughput runs (default 1,2)")
    ap.add_argument("--camelot-python", default=None,
                    help="an interpreter with camelot-py (default: this one if it has it, or "
                         "$NIANBAO_BENCH_CAMELOT_PYTHON)")
    ap.add_argument("--no-camelot", action="store_true")
    ap.add_argument("--no-ocr", action="store_true", help="do not score OCR on generated scans")
    ap.add_argument("--ocr-scans", type=Path, default=None,
                    help="scan corpus for the OCR section (default: --ocr-per documents per degradation, generated "
                         "in a temporary directory)")
    ap.add_argument("--ocr-per", type=int, default=1, help="documents per degradation when generating (default 1)")
    ap.add_argument("--no-publish", action="store_true", help="do not time the Parquet publish of the batch")
    ap.add_argument("--bad-dir", type=Path, default=REPO / "tests" / "fixtures" / "bad")
    ap.add_argument("--timeout", type=float, default=600.0, help="per-report timeout in the throughput runs")
    ap.add_argument("--work-dir", type=Path, default=None, help="where the batch and caches go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only-side-by-side", action="store_true",
                    help="run only the per-page PDF comparison (section 2) and replace that section of an existing "
                         "<out>/report.json / report.md (the other sections are kept as they were); same as "
                         "--only side-by-side")
    ap.add_argument("--no-layouts", action="store_true", help="skip the real-layouts section")
    ap.add_argument("--only", choices=["layouts", "side-by-side"], default=None,
                    help="run only this section and update it in the existing report (layouts: the real-layout "
                         "corpus of tools/generate_layouts.py, per class; side-by-side: the per-page PDF comparison)")
    a = ap.parse_args(argv)
    if a.only == "layouts":
        return _only_layouts(a.out)
    a.only_side_by_side = a.only_side_by_side or a.only == "side-by-side"
    started, t0 = _dt.datetime.now().astimezone(), time.perf_counter()
    own_prefect_home = None
    if "PREFECT_HOME" not in os.environ:  # prefect is imported (not run): keep it off the user's profile
        own_prefect_home = tempfile.mkdtemp(prefix="nianbao-bench-prefect-")
        os.environ["PREFECT_HOME"] = own_prefect_home
    corpora = []
    for spec in a.corpus or []:
        name, _, path = spec.rpartition("=")
        p = Path(path)
        corpora.append((name or p.name, p))
    corpora = corpora or default_corpora()
    report: dict[str, Any] = {"date": started.strftime("%Y-%m-%d %H:%M %Z"), "started_at": started.isoformat(),
                              "command": " ".join(["tools/bench.py", *(argv if argv is not None else sys.argv[1:])]),
                              "settings": {"seed": a.seed, "repeat": a.repeat, "batch_size": a.batch_size,
                                           "workers": a.workers, "max_files": a.max_files},
                              "machine": machine_info(), "code": {"start": code_fingerprint()}}
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "nianbao", "tasks"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        report["code"]["git"] = head + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    docs: list[Doc] = []
    for name, path in corpora:
        got = load_corpus(name, path, a.max_files)
        log(f"corpus {name}: {len(got)} documents with gold ({path})")
        docs += got
    # 2. side by side (also gives nianbao's result for every PDF), then nianbao on the other documents
    distinct_pdfs = list({d.sha: d for d in docs if d.fmt == "pdf"}.values())
    distinct_pdfs.sort(key=lambda d: (d.corpus != "generated", d.name))
    cam_py = None if a.no_camelot else camelot_python(a.camelot_python)
    log(f"side by side on {len(distinct_pdfs)} PDFs, {a.repeat} pass(es)")
    sbs, results = side_by_side(distinct_pdfs, a.repeat, cam_py, camelot_timeout=900)
    report["side_by_side"] = sbs
    if a.only_side_by_side:
        return _replace_side_by_side(a.out, report, started, t0)
    for d in docs:
        if d.sha not in results:
            results[d.sha] = nianbao_extract(d.path.read_bytes(), d.name)
    corpora_acc: dict[str, Any] = {}
    for name, _ in corpora:
        cd = [d for d in docs if d.corpus == name]
        if cd:
            corpora_acc[name] = accuracy_of_results(cd, results)
    report["accuracy"] = {"corpora": corpora_acc,
                          "bad_inputs": bad_inputs(a.bad_dir) if a.bad_dir.is_dir() else []}
    if not a.no_ocr:
        import bench_ocr

        scans = a.ocr_scans or Path(tempfile.mkdtemp(prefix="nianbao-bench-scans-"))
        scans.mkdir(parents=True, exist_ok=True)
        log(f"OCR on generated scans ({scans})")
        report["ocr"] = bench_ocr.run(scans, a.ocr_per, a.seed, log)
    # 3. throughput
    if a.batch_size > 0:
        work = a.work_dir or Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
        batch_dir = work / "batch"
        shutil.rmtree(batch_dir, ignore_errors=True)
        batch_dir.mkdir(parents=True)
        try:
            t = time.perf_counter()
            items = build_batch(batch_dir, a.batch_size, a.seed, docs, a.bad_dir if a.bad_dir.is_dir() else None)
            gen_s = time.perf_counter() - t
            log(f"batch: {len(items)} files in {gen_s:.1f} s")
            workers = [int(x) for x in a.workers.split(",") if x.strip()]
            tp, bres = throughput(items, workers, work, a.timeout, not a.no_publish)
            tp["generation_seconds"] = round(gen_s, 1)
            report["throughput"] = tp
            bdocs: dict[str, list[Doc]] = defaultdict(list)
            bresults = {}
            for it, r in zip(items, bres):
                if it.gold is None:
                    continue
                name = "batch-generated" if it.generated else "batch-real"
                bdocs[name].append(Doc(name, it.path, it.gold, it.fmt, r.report_id, it.variant))
                bresults[r.report_id] = r
            for name in sorted(bdocs):
                corpora_acc[name] = accuracy_of_results(bdocs[name], bresults)
            # the copies must read exactly like their sources (the distinct-bytes trick changes nothing)
            differ = []
            for it, r in zip(items, bres):
                if it.source_sha and it.source_sha in results:
                    mine, src = nianbao_published(r), nianbao_published(results[it.source_sha])
                    if mine != src:
                        keys = sorted(k for k in set(mine) | set(src) if mine.get(k, "-") != src.get(k, "-"))
                        differ.append(f"{it.path.name}: " + "; ".join(f"{k}: {src.get(k, '-')} -> {mine.get(k, '-')}"
                                                                     for k in keys[:3]))
            tp["copies_reading_differently"] = differ
        finally:
            if not a.keep and a.work_dir is None:
                shutil.rmtree(work, ignore_errors=True)
    if not a.no_layouts:
        log("real layouts (tools/generate_layouts.py)")
        report["layouts"] = _layouts().run()
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["code"]["end"] = code_fingerprint()
    report["duration_seconds"] = round(time.perf_counter() - t0, 1)
    report["gaps"] = find_gaps(report)
    for name, c in corpora_acc.items():  # keep the batch's per-report rows short: only the imperfect ones
        if name.startswith("batch"):
            c["per_report"] = [r for r in c["per_report"]
                               if not r["fully_right"] or r["status"] != "ok" or not r["identities"]["agree"]]
            c["per_report_note"] = "only reports not fully right, not ok, or whose identity checks disagree"
    a.out.mkdir(parents=True, exist_ok=True)
    if (a.out / "report.json").is_file():  # the sections measured by their own tools stay
        earlier = json.loads((a.out / "report.json").read_text(encoding="utf-8"))
        for key in ("scale", "runners"):
            if key in earlier:
                report[key] = earlier[key]
        report["gaps"] = find_gaps(report)
    (a.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n",
                                       encoding="utf-8")
    (a.out / "report.md").write_text(markdown(report), encoding="utf-8")
    if own_prefect_home:
        shutil.rmtree(own_prefect_home, ignore_errors=True)
    log(f"wrote {a.out / 'report.json'} and {a.out / 'report.md'} in {report['duration_seconds']:.0f} s; "
        f"{len(report['gaps'])} gap(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
