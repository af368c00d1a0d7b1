#!/usr/bin/env python3
"""Benchmark the PDF reader against plain pdfplumber on the same pages.

Usage (from the repo root)::

    python tools/bench_pdf.py [PDF ...] [--repeat N] [--no-procs]

Default inputs: tests/fixtures/generated/*.pdf and tests/fixtures/corpus/real-hongze-2023.pdf. For each
PDF it prints the CPU time per page (``time.process_time``, least of ``--repeat`` interleaved runs, each
from the bytes with a fresh pdfplumber document: robust when other processes share the machine) of

* ``words``:  ``pdfplumber.open`` + ``page.extract_words()`` on every page (the brief's yardstick),
* ``tables``: ``pdfplumber.open`` + ``page.extract_tables()`` on every page,
* ``read_pdf``: ``nianbao.readers.pdf.read_pdf`` on the whole document,

and the ratio read_pdf / words. Then it runs read_pdf over all inputs in a process pool of 1 and of 2
processes and prints reports per second in wall time (each report read once per pass, three passes,
best pass).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pdfplumber  # noqa: E402

from nianbao.readers.pdf import read_pdf  # noqa: E402


def _words(data: bytes) -> int:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        n = 0
        for page in pdf.pages:
            page.extract_words()
            page.close()
            n += 1
        return n


def _tables(data: bytes) -> int:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        n = 0
        for page in pdf.pages:
            page.extract_tables()
            page.close()
            n += 1
        return n


def _read(data: bytes) -> int:
    doc = read_pdf(data)
    return doc.page_count or 0


def _times(data: bytes, repeat: int) -> tuple[float, float, float, int]:
    """Least CPU seconds of words / tables / read_pdf over ``repeat`` interleaved runs, and the page count."""
    best = [float("inf")] * 3
    pages = 0
    for _ in range(repeat):
        for k, fn in enumerate((_words, _tables, _read)):
            t = time.process_time()
            pages = fn(data)
            best[k] = min(best[k], time.process_time() - t)
    return best[0], best[1], best[2], pages


def _read_file(path: str) -> int:
    return _read(Path(path).read_bytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pdfs", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-procs", action="store_true", help="skip the process-pool throughput runs")
    a = ap.parse_args(argv)
    pdfs = a.pdfs or sorted((REPO / "tests/fixtures/generated").glob("*.pdf")) + [
        REPO / "tests/fixtures/corpus/real-hongze-2023.pdf"]
    pdfs = [p for p in pdfs if p.exists()]
    if not pdfs:
        print("no PDFs found", file=sys.stderr)
        return 1
    print(f"{'file':44s} {'pages':>5s} {'words':>8s} {'tables':>8s} {'read_pdf':>9s} {'ratio':>6s}   (CPU ms/page)")
    tot = {"words": 0.0, "tables": 0.0, "read": 0.0}
    ratios = []
    n_pages = 0
    for p in pdfs:
        data = p.read_bytes()
        _read(data)  # warm imports and caches of the interpreter, not of the document
        tw, tt, tr, pages = _times(data, a.repeat)
        tot["words"] += tw
        tot["tables"] += tt
        tot["read"] += tr
        n_pages += pages
        ratios.append(tr / tw)
        print(f"{p.name[:44]:44s} {pages:5d} {tw / pages * 1000:8.1f} {tt / pages * 1000:8.1f} "
              f"{tr / pages * 1000:9.1f} {tr / tw:6.2f}")
    print(f"{'ALL (per page, page-weighted)':44s} {n_pages:5d} {tot['words'] / n_pages * 1000:8.1f} "
          f"{tot['tables'] / n_pages * 1000:8.1f} {tot['read'] / n_pages * 1000:9.1f} "
          f"{tot['read'] / tot['words']:6.2f}")
    print(f"ratio read_pdf/words: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")
    if a.no_procs:
        return 0
    files = [str(p) for p in pdfs]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"throughput (wall time; load average before: {load:.2f} on {os.cpu_count()} CPUs)")
    for procs in (1, 2):
        best = None
        with ProcessPoolExecutor(max_workers=procs) as ex:
            list(ex.map(_read_file, files))  # warm the workers
            for _ in range(3):
                t = time.perf_counter()
                list(ex.map(_read_file, files))
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
        assert best is not None
        print(f"{procs} process(es): {len(files) / best:6.2f} reports/s, {n_pages / best:6.1f} pages/s "
              f"({len(files)} reports, {n_pages} pages, best of 3 passes {best:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
