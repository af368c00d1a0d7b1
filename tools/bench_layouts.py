"""Benchmark section "Real layouts": nianbao scored per layout class on the whole generate_layouts corpus.

Every gold report (tests/fixtures/generated and, where present, ../shared/corpus/gold) is rendered in every
class of tools/generate_layouts.py (fixed seed), read by ``nianbao.pipeline.process_bytes`` and scored with
``nianbao.goldscore`` (strict precision: a number where the gold is blank counts as wrong). Also counted:
agency and year right, and the checks that withheld cells. Run alone with ``tools/bench.py --only layouts``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL_PRECISION, GOAL_RECALL = 1.0, 0.98
# Classes whose recall is bounded by the document itself (cells that leave no trace are withheld by design).
BOUNDED = {"dump_blank_cells": "a blank cell vanishes from a text dump, so the row's other values cannot be "
                               "placed: those rows are withheld (dump_row_ambiguous)"}


def _generator() -> Any:
    import generate_layouts  # a sibling script: the tools folder is on sys.path (script folder, or conftest)

    return generate_layouts


def run(seed: int = 14) -> dict[str, Any]:
    """Score nianbao on every rendering; return the section's figures."""
    from nianbao.goldscore import Score, score_cells
    from nianbao.pipeline import process_bytes

    gl = _generator()
    golds = gl.load_golds(list(gl.DEFAULT_GOLD_DIRS))
    per: dict[str, Score] = defaultdict(Score)
    meta: dict[str, Counter[str]] = defaultdict(Counter)
    checks: dict[str, Counter[str]] = defaultdict(Counter)
    mistakes: list[str] = []
    t0 = time.perf_counter()
    n_docs = 0
    for cls in gl.CLASSES:
        for i, g in enumerate(golds):
            if cls == "dump_blank_cells" and not any(c["value"] is None for c in g["cells"]):
                continue
            ext, data, gold = gl.render(g, cls, seed)
            name = f"lay-{cls}-{i:03d}.{ext}"
            r = process_bytes(data, name)
            n_docs += 1
            s, m = score_cells(r.cells, gold)
            per[cls].add(s)
            mistakes += [f"{name} ({g['source_name']}): {x}" for x in m]
            agency = (r.agency or "").replace(" ", "")
            meta[cls]["year_ok"] += r.report_year == gold["year"]
            meta[cls]["agency_ok"] += bool(agency) and (agency in gold["agency"] or gold["agency"] in agency)
            meta[cls][f"status_{r.status}"] += 1
            for p in r.problems:
                if p.check in ("dump_row_ambiguous", "dump_row_empty", "split_ambiguous", "cells_split_by_identity",
                               "rows_missing", "table_missing", "section_missing", "row_value_count"):
                    checks[cls][p.check] += 1
    classes = {}
    for cls, s in per.items():
        d = s.as_dict()
        d.update({k: v for k, v in meta[cls].items()})
        d["checks"] = dict(checks[cls])
        classes[cls] = d
    total = Score()
    for s in per.values():
        total.add(s)
    return {"seed": seed, "gold_reports": len(golds), "documents": n_docs, "classes": classes,
            "all": total.as_dict(), "mistakes": mistakes[:50], "seconds": round(time.perf_counter() - t0, 1)}


def gaps(section: dict[str, Any]) -> list[str]:
    out = []
    for cls, d in section["classes"].items():
        if d["precision"] is not None and d["precision"] < GOAL_PRECISION:
            out.append(f"layouts / {cls}: strict precision {d['precision']:.4f} < 1.0")
        if d["recall"] is not None and d["recall"] < GOAL_RECALL:
            why = f" (bounded by the document: {BOUNDED[cls]})" if cls in BOUNDED else ""
            out.append(f"layouts / {cls}: recall {d['recall']:.4f} < {GOAL_RECALL}{why}")
    return out


def markdown(section: dict[str, Any]) -> list[str]:
    """Given the section's figures, return its Markdown lines."""
    L = ["## Real layouts (tools/generate_layouts.py)", "",
         f"{section['documents']} documents: {section['gold_reports']} gold reports rendered in every layout class "
         f"(seed {section['seed']}; `dump_blank_cells` only for reports with blank cells), read by "
         f"`process_bytes` in {section['seconds']:.0f} s. Strict precision counts a number published where the "
         "gold is blank as wrong. Classes: see docs/layouts.md.", "",
         "| class | docs | gold cells | correct | wrong | number where blank | missing | strict precision | recall "
         "| year ok | agency ok | withheld by |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for cls, d in section["classes"].items():
        prec = "—" if d["precision"] is None else f"{d['precision']:.4f}"
        rec = "—" if d["recall"] is None else f"{d['recall']:.4f}"
        withheld = ", ".join(f"{k} {v}" for k, v in sorted(d["checks"].items()) if k.startswith(("dump", "split")))
        L.append(f"| {cls} | {d['reports']} | {d['gold_cells']} | {d['correct']} | {d['wrong']} | "
                 f"{d['value_where_blank']} | {d['missing']} | {prec} | {rec} | {d.get('year_ok', 0)} | "
                 f"{d.get('agency_ok', 0)} | {withheld} |")
    a = section["all"]
    L += ["", f"All classes: strict precision {a['precision']}, recall {a['recall']} "
          f"({a['correct']} of {a['gold_cells']} gold numbers).", ""]
    for cls, why in BOUNDED.items():
        if cls in section["classes"]:
            L += [f"`{cls}`: {why}; its recall measures what such a dump leaves, not a reading error.", ""]
    if section["mistakes"]:
        L += ["Mistakes (first 50):", ""] + [f"- {m}" for m in section["mistakes"]] + [""]
    return L
