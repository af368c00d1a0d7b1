"""OCR benchmark: the scan corpus of ``tools/generate_scans.py`` scored per degradation.

For every document (PDF + gold JSON) of the corpus: nianbao's published cells against the gold (strict
precision: a number where the report prints nothing is wrong), whether the report year is right (or the
report held back with a message), the agency, CPU and wall seconds per OCR'd page, and the process's
peak RSS (the OCR models are loaded once per process, so the peak is what one worker needs).

    python tools/bench_ocr.py --scans bench/scans --per 5      # generate (if empty) and score, 60 documents
    python tools/bench_ocr.py --scans DIR --out bench/ocr      # writes DIR's scores to bench/ocr/ocr.{json,md}

``tools/bench.py`` calls ``run`` for its OCR section (``--ocr-scans``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _round_robin(paths: list[Path]) -> list[Path]:
    """The documents in turns over the degradations (one of each, then the next of each...), so that a run
    stopped early, or a shard, still covers every degradation."""
    groups: dict[str, list[Path]] = {}
    for p in sorted(paths):
        groups.setdefault(p.name.split("-gen-")[0], []).append(p)
    out: list[Path] = []
    for i in range(max((len(g) for g in groups.values()), default=0)):
        out.extend(g[i] for g in groups.values() if i < len(g))
    return out


def run(scan_dir: Path, per: int = 5, seed: int = 2026, log: Callable[[str], None] = print,
        shard: tuple[int, int] = (0, 1), partial: Path | None = None) -> dict[str, Any]:
    """Score every document of ``scan_dir`` (generated there first when it holds none); ``shard`` (i, n):
    only every n-th document from the i-th (to spread a long run over processes; see ``combine``)."""
    from nianbao.goldscore import score_cells
    from nianbao.pipeline import process_bytes
    from nianbao.read.ocr import ocr_missing

    missing = ocr_missing()
    if missing:
        return {"available": False, "reason": missing, "docs": [], "by_degradation": {}}
    if not any(scan_dir.glob("*.pdf")):
        import generate_scans

        log(f"generating the scan corpus ({per} per degradation) in {scan_dir}")
        generate_scans.generate(scan_dir, per, seed=seed)
    docs = []
    paths = _round_robin(list(scan_dir.glob("*.pdf")))[shard[0]::shard[1]]
    for i, path in enumerate(paths, 1):
        gold = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        cpu, wall = _cpu(), time.perf_counter()
        result = process_bytes(path.read_bytes(), path.name)
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        score, mistakes = score_cells(result.cells, gold)
        held = result.error == "year_mismatch"
        row = {"file": path.name, "degradation": gold["scan"]["kind"], "template": gold["template"],
               "pages": result.page_count, "status": result.status, "error": result.error,
               "year_ok": result.report_year == gold["year"] or held, "year_held_back": held,
               "agency": result.agency or "", "agency_ok": bool(result.agency),
               "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
               "peak_rss_mb": round(_peak_mb()), **score.as_dict(), "mistakes": mistakes[:5]}
        docs.append(row)
        if partial is not None:  # what is scored so far, for a run that has to be cut short
            partial.write_text(json.dumps(summarise(docs), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        log(f"[{i}/{len(paths)}] {path.name}: {score.correct}/{score.gold} correct, {score.wrong + score.value_where_blank} "
            f"wrong, year {'ok' if row['year_ok'] else 'WRONG'}, {cpu:.1f} s CPU")
    return summarise(docs)


def summarise(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The report of scored documents: per degradation and overall."""
    from nianbao.goldscore import Score

    by: dict[str, dict[str, Any]] = {}
    for kind in sorted({d["degradation"] for d in docs}) + ["all"]:
        rows = [d for d in docs if kind in ("all", d["degradation"])]
        tot = Score()
        for d in rows:
            tot.add(Score(gold=d["gold_cells"], correct=d["correct"], wrong=d["wrong"], missing=d["missing"],
                          value_where_blank=d["value_where_blank"]))
        pages = sum(d["pages"] or 0 for d in rows)
        by[kind] = {"documents": len(rows), "templates": sorted({d["template"] for d in rows}), "pages": pages,
                    "gold_cells": tot.gold, "correct": tot.correct, "wrong": tot.wrong + tot.value_where_blank,
                    "precision": round(tot.precision, 4) if tot.correct + tot.wrong + tot.value_where_blank else None,
                    "recall": round(tot.recall, 4), "year_ok": sum(d["year_ok"] for d in rows),
                    "held_back": sum(d["year_held_back"] for d in rows), "agency_ok": sum(d["agency_ok"] for d in rows),
                    "cpu_seconds_per_page": round(sum(d["cpu_seconds"] for d in rows) / max(1, pages), 2)}
    return {"available": True, "docs": docs, "by_degradation": by,
            "peak_rss_mb": max((d["peak_rss_mb"] for d in docs), default=round(_peak_mb()))}


def markdown(rep: dict[str, Any]) -> list[str]:
    """The per-degradation table of a ``run`` report, as markdown lines."""
    if not rep["available"]:
        return [f"Not measured: {rep['reason']}."]
    if "by_degradation" not in rep:  # a report.json written by an older bench (before the scan generator)
        return ["Not measured by the current scan bench: this report's OCR section is from an older run; rerun "
                "`tools/bench.py` with OCR on to score the generated scans per degradation."]
    born = ("image_tables", "scanned_pages")
    lines = ["| degradation | docs | templates | pages | gold cells | correct | wrong | precision | recall | "
             "year right / held back | agency | CPU s/page |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, r in rep["by_degradation"].items():
        name = f"**{kind}**" if kind == "all" else (f"{kind} (born-digital)" if kind in born else kind)
        lines.append(f"| {name} | {r['documents']} | {', '.join(r['templates'])} | {r['pages']} | {r['gold_cells']} | "
                     f"{r['correct']} | {r['wrong']} | {r['precision']} | {r['recall']} | "
                     f"{r['year_ok']} / {r['held_back']} | {r['agency_ok']} | {r['cpu_seconds_per_page']} |")
    lines += ["", f"Peak RSS of the OCR process (models loaded once): {rep['peak_rss_mb']} MB."]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=Path, required=True, help="scan corpus (generated there when empty)")
    ap.add_argument("--per", type=int, default=5, help="documents per degradation when generating (default 5)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "ocr")
    ap.add_argument("--shard", default="0/1", help="i/n: score only every n-th document from the i-th")
    ap.add_argument("--combine", type=Path, nargs="*", help="combine the ocr.json of shard runs instead")
    a = ap.parse_args(argv)
    if a.combine:
        rep = summarise([d for f in a.combine for d in json.loads(f.read_text(encoding="utf-8"))["docs"]])
    else:
        a.scans.mkdir(parents=True, exist_ok=True)
        i, n = (int(v) for v in a.shard.split("/"))
        a.out.mkdir(parents=True, exist_ok=True)
        rep = run(a.scans, a.per, a.seed, shard=(i, n), partial=a.out / "ocr.json")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "ocr.json").write_text(json.dumps(rep, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (a.out / "ocr.md").write_text("\n".join(markdown(rep)) + "\n", encoding="utf-8")
    print("\n".join(markdown(rep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
