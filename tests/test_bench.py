"""Smoke test of the benchmark (tools/bench.py): a small run on the committed corpus writes both reports,
every accuracy figure lies in [0, 1], and nianbao's precision on the committed corpus is 1.0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT


def _figures(block: dict) -> list[tuple[str, float | None]]:
    out = []
    for name in ("all", "by_format", "by_table", "by_format_table", "by_variant"):
        part = block.get(name) or {}
        for label, s in ([(name, part)] if name == "all" else part.items()):
            for k in ("precision", "recall", "fully_right_share"):
                out.append((f"{label}.{k}", s.get(k)))
    return out


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench.py"), "--out", str(out), "--corpus", f"committed={CORPUS}",
         "--batch-size", "6", "--repeat", "1", "--workers", "1", "--no-camelot", "--no-publish", "--no-ocr", "--no-layouts",
         "--work-dir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    md = (out / "report.md").read_text(encoding="utf-8")
    for key in ("date", "machine", "settings", "accuracy", "side_by_side", "throughput", "gaps", "duration_seconds"):
        assert key in rep, key
    for heading in ("## Gaps", "## Accuracy", "## Side by side", "## Throughput"):
        assert heading in md, heading
    assert rep["machine"]["cpu"] and rep["machine"]["python"]

    corpora = rep["accuracy"]["corpora"]
    assert "committed" in corpora and any(n.startswith("batch") for n in corpora)
    for name, block in corpora.items():
        for label, v in _figures(block):
            assert v is None or 0.0 <= v <= 1.0, (name, label, v)
        assert 0.0 <= block["identities"]["agreement"] <= 1.0
    committed = corpora["committed"]
    assert committed["all"]["reports"] == len(list(CORPUS.glob("*.json")))
    assert committed["all"]["precision"] == 1.0, [r["mistakes"] for r in committed["per_report"] if r["mistakes"]]

    sbs = rep["side_by_side"]
    assert sbs["files"] >= 1 and sbs["pages"] >= 1
    for m in ("nianbao", "extract_words", "naive_extract_tables", "pypdfium2_text"):
        assert sbs["cpu_ms_per_page"][m] > 0
    assert "x_extract_words" in sbs["ratios"]["nianbao"]
    for a in sbs["accuracy"].values():
        for k in ("precision", "recall"):
            assert a["all"][k] is None or 0.0 <= a["all"][k] <= 1.0

    tp = rep["throughput"]
    assert tp["reports"] >= 6 and tp["runs"][0]["workers"] == 1
    assert tp["runs"][0]["reports_per_second"] > 0 and tp["runs"][0]["peak_rss_mb"] > 0
    assert tp["rerun"]["cache_hits"] == tp["reports"]
    assert tp["copies_reading_differently"] == []
    assert isinstance(rep["gaps"], list)
