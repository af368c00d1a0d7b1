"""The acceptance test of issue 5: a batch mixing 20 good reports with one of each bad input publishes
exactly the 20 good ones — cell-for-cell identical to a batch of only those 20 — and records every bad
one with its reason.

* The 20 good reports are generated ones (tests/fixtures/generated, with gold json) of one year (the year
  with the most of them), topped up with encoding variants of corpus reports of that year if fewer than
  20 exist. In the mixed batch two of them wear the wrong extension (a PDF named ``.txt``, an HTML page
  named ``.pdf``) and two have odd names (spaces, emoji, a newline): the bytes are the same, so are the cells.
* The bad inputs are built by tests/test_reliability.py (one test per case there). Inputs that nianbao
  reads correctly (wrong declared charset, copy-protected PDF with an empty user password) are not in the
  bad set: they would be published, and have their own tests.
* Compared: the cell datasets and ``sections`` exactly; ``reports`` and ``validation_issues`` of the good
  reports except the one ``duplicate_input`` note the mixed batch adds to the report that was given twice.
  Lineage columns (``batch_id``, ``flow_run_id``) and ``seconds`` are left out; ``source_uri`` is left out
  of ``reports`` (the names differ on purpose).

``test_mixed_batch_pure`` uses the pure core (fast); ``test_mixed_batch_through_the_prefect_flow`` runs the
real flow (isolated per-report processes, time limit, downloads) and adds a spinning PDF (``timeout``)
and a download that dies half-way (``download_failed``).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from conftest import CORPUS, FIXTURES
from test_reliability import (
    GOOD_A,
    RELIABILITY,
    SMALL_PDF,
    garbage_pdf,
    many_pages_pdf,
    run_batch,
    sparse_file,
    spinning_pdf,
    truncated_pdf,
    zip_archive,
)

from nianbao.ingest.sources import read_manifest
from nianbao.publish.parquet import read_dataset
from nianbao.settings import Settings

GENERATED = FIXTURES / "generated"
BAD = FIXTURES / "bad"
N_GOOD = 20
MB = 1 << 20
DROP = ["batch_id", "flow_run_id", "seconds"]
CELL_DATASETS = ["proactive_disclosure", "applications", "reviews_litigation", "sections"]
SETTINGS = Settings(max_file_bytes=64 * MB)


# --- the good reports -----------------------------------------------------------------------------------

def _gold_year(doc: Path) -> int | None:
    gold = doc.with_suffix(".json")
    if not gold.exists():
        return None
    try:
        return int(json.loads(gold.read_text(encoding="utf-8"))["year"])
    except (ValueError, KeyError, TypeError):
        return None


def _generated() -> dict[int, list[Path]]:
    by_year: dict[int, list[Path]] = {}
    for doc in sorted(GENERATED.glob("*")) if GENERATED.exists() else []:
        if doc.suffix.lower() in (".pdf", ".docx", ".html", ".htm", ".txt") and (y := _gold_year(doc)):
            by_year.setdefault(y, []).append(doc)
    return by_year


def _text_variants(year: int) -> list[tuple[str, bytes]]:
    """Encoding variants (distinct bytes, same report) of the corpus text reports of ``year``, clean ones first."""
    out: list[tuple[str, bytes]] = []
    sources = [p for p in sorted(CORPUS.glob("*.txt")) if _gold_year(p) == year]
    for src in sorted(sources, key=lambda p: not p.name.startswith("seed-00")):  # seeds before crawler dumps
        text = src.read_text(encoding="utf-8")
        out += [(f"{src.stem}.txt", text.encode("utf-8")), (f"{src.stem}-gbk.txt", text.encode("gb18030")),
                (f"{src.stem}-utf16.txt", text.encode("utf-16")),
                (f"{src.stem}-bom-crlf.txt", ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))]
    if year == 2021 and SMALL_PDF.exists():
        out.append(("small-report-2021.pdf", SMALL_PDF.read_bytes()))
    return out


@dataclass(frozen=True)
class GoodSet:
    year: int | None  # the batch year (None: every report under its own year)
    files: list[tuple[str, bytes]]  # (clean name, bytes)
    spare: tuple[str, bytes]  # a 21st good report (the target of the path traversal)
    other_year: tuple[str, bytes] | None  # a good report of another year (held back in a year batch)
    from_generated: int


def good_set(mode: str) -> GoodSet:
    """``mode`` "year": a year batch — the year with the most good reports available (generated first, then
    text variants); "all-years": 20 generated reports of any year, each published under its own year."""
    by_year = _generated()
    if mode == "all-years":
        pool = [(p.name, p.read_bytes()) for y in sorted(by_year) for p in by_year[y]]
        pool.sort(key=lambda nb: nb[0])
        if len(pool) < N_GOOD + 1:
            pytest.fail(f"only {len(pool)} generated reports: regenerate tests/fixtures/generated (make fixtures)")
        return GoodSet(None, pool[:N_GOOD], pool[N_GOOD], None, N_GOOD)
    years = set(by_year) | {y for p in CORPUS.glob("*.txt") if (y := _gold_year(p))}

    def available(y: int) -> tuple[int, int]:
        return len(by_year.get(y, [])) + len(_text_variants(y)), len(by_year.get(y, []))

    year = max(sorted(years), key=available)
    files = [(p.name, p.read_bytes()) for p in by_year.get(year, [])][:N_GOOD]
    n_gen = len(files)
    pool = files + [v for v in _text_variants(year) if v[1] not in {b for _, b in files}]
    if len(pool) < N_GOOD + 1:
        pytest.fail(f"only {len(pool)} good reports of {year} available: regenerate the fixtures")
    others = [p for y, ps in sorted(by_year.items()) if y != year for p in ps]
    other = (others[0].name, others[0].read_bytes()) if others else ("seed-004-2023.txt", (
        CORPUS / "seed-004-linjiang-huashu-2023.txt").read_bytes())
    return GoodSet(year, pool[:N_GOOD], pool[N_GOOD], other, n_gen)


# --- the bad inputs -------------------------------------------------------------------------------------

SCRIPT_ONLY = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>年度报告</title>
<script>require('fs').writeFileSync('{pwned}', 'x');
document.write('<p>一、总体情况</p><p>二、主动公开政府信息情况</p><table><tr><td>规章</td><td>3</td></tr></table>');</script>
</head><body><noscript>请启用JavaScript查看年度报告</noscript><script>document.write('三、收到和处理政府信息公开申请情况');</script>
</body></html>"""


def bad_inputs(tmp: Path) -> dict[str, tuple[bytes | None, str]]:
    """File name → (bytes, or None when the test makes the file itself; expected error code)."""
    bad = {
        "empty.pdf": (b"", "empty_file"),
        "truncated.pdf": ((BAD / "truncated-half.pdf").read_bytes() if (BAD / "truncated-half.pdf").exists()
                          else truncated_pdf(), "corrupt"),
        "garbage.pdf": (garbage_pdf(), "corrupt"),
        "3000-pages.pdf": (many_pages_pdf(3000), "page_limit"),
        "huge.pdf": (None, "too_large"),
        "政府工作报告.txt": ((RELIABILITY / "government-work-report-2023.txt").read_bytes(), "not_a_report"),
        "通知.txt": ((RELIABILITY / "notice-2023.txt").read_bytes(), "not_a_report"),
        "script-only.html": (SCRIPT_ONLY.replace("{pwned}", str(tmp / "pwned")).encode(), "not_a_report"),
        "reports.zip": (zip_archive({"2022/report.txt": GOOD_A.read_bytes()}), "unsupported_format"),
    }
    enc = BAD / "encrypted-user-password.pdf"
    if enc.exists():
        bad["encrypted.pdf"] = (enc.read_bytes(), "encrypted")
    else:
        from test_reliability import encrypted_pdf

        bad["encrypted.pdf"] = (encrypted_pdf("nianbao"), "encrypted")
    return bad


@dataclass
class Mixed:
    """The mixed inbox: its manifest, the expected code of every bad entry, and the good files."""

    manifest: Path
    expected: dict[str, str]  # source uri (as the manifest resolves it) → error code
    good_uris: list[str]
    duplicate_uri: str
    duplicated_uri: str
    extra_items: list[str]  # sources added by the flow variant (URLs)


def build_mixed(tmp: Path, goods: GoodSet) -> Mixed:
    inbox = tmp / "mixed" / "inbox"
    inbox.mkdir(parents=True)
    names = [n for n, _ in goods.files]
    # Wrong extensions and odd names for four of the good ones (same bytes, so the same cells).
    renamed = dict(zip(names, names, strict=True))
    pdfs = [n for n in names if n.endswith(".pdf")]
    htmls = [n for n in names if n.endswith((".html", ".htm"))]
    if pdfs:
        renamed[pdfs[0]] = Path(pdfs[0]).stem + ".txt"
    if htmls:
        renamed[htmls[0]] = Path(htmls[0]).stem + ".pdf"
    rest = [n for n in names if renamed[n] == n]
    renamed[rest[0]] = "年报 2022 📄 " + rest[0]
    renamed[rest[1]] = "line\nbreak " + rest[1]
    rows: list[str] = []
    good_uris = []
    for name, data in goods.files:
        (inbox / renamed[name]).write_bytes(data)
        rows.append(renamed[name])
        good_uris.append(str(inbox.resolve() / renamed[name]))
    expected: dict[str, str] = {}
    for name, (data, code) in bad_inputs(tmp).items():
        if data is None:
            sparse_file(inbox / name, 8 << 30)
        else:
            (inbox / name).write_bytes(data)
        rows.append(name)
        expected[str(inbox.resolve() / name)] = code
    if goods.other_year is not None:
        other_name = "other-year-" + goods.other_year[0]
        (inbox / other_name).write_bytes(goods.other_year[1])
        rows.append(other_name)
        expected[str(inbox.resolve() / other_name)] = "year_mismatch"
    # The same bytes twice: a copy of a good report under another name.
    dup_src = goods.files[2]
    (inbox / ("copy of " + dup_src[0])).write_bytes(dup_src[1])
    rows.append("copy of " + dup_src[0])
    # A path traversal: the target is a readable good report of the year, outside the manifest's folder.
    (tmp / "mixed" / goods.spare[0]).write_bytes(goods.spare[1])
    rows.append("../" + goods.spare[0])
    manifest = inbox / "manifest.csv"
    pl.DataFrame({"uri": rows, "year": [str(goods.year or "")] * len(rows)}).write_csv(manifest)
    return Mixed(manifest, expected, good_uris, str(inbox.resolve() / ("copy of " + dup_src[0])),
                 str(inbox.resolve() / renamed[dup_src[0]]), [])


def only_good(tmp: Path, goods: GoodSet) -> Path:
    inbox = tmp / "only" / "inbox"
    inbox.mkdir(parents=True)
    for name, data in goods.files:
        (inbox / name).write_bytes(data)
    out = tmp / "only" / "out"
    run_batch(sorted(inbox.iterdir()), out, year=goods.year, settings=SETTINGS, batch_id="only")
    return out


# --- comparison -----------------------------------------------------------------------------------------

def _frame(out: Path, name: str) -> pl.DataFrame:
    df = read_dataset(out, name).drop(DROP, strict=False)
    return df.sort(df.columns, nulls_last=True)


def assert_same_good_output(mixed_out: Path, only_out: Path, duplicated_id: str) -> None:
    only_reports = _frame(only_out, "reports")
    good_ids = set(only_reports["report_id"])
    assert len(good_ids) == N_GOOD
    for name in CELL_DATASETS:
        a, b = _frame(mixed_out, name), _frame(only_out, name)
        assert set(a["report_id"]) <= good_ids, f"{name}: rows of a bad input were published"
        assert a.equals(b), f"{name} differs between the mixed batch and the batch of only the good reports"
    reports = _frame(mixed_out, "reports")
    published = reports.filter(pl.col("status") != "failed")
    assert set(published["report_id"]) == good_ids and published.height == N_GOOD
    issues = _frame(mixed_out, "validation_issues")
    dup = issues.filter(pl.col("check") == "duplicate_input")
    assert dup["report_id"].to_list() == [duplicated_id]
    mine = issues.filter(pl.col("report_id").is_in(list(good_ids)) & (pl.col("check") != "duplicate_input"))
    assert mine.equals(_frame(only_out, "validation_issues"))
    adjusted = published.with_columns(
        pl.when(pl.col("report_id") == duplicated_id).then(pl.col("n_issues") - 1).otherwise(pl.col("n_issues"))
        .alias("n_issues")).drop("source_uri")
    assert adjusted.sort(adjusted.columns, nulls_last=True).equals(only_reports.drop("source_uri").sort(
        adjusted.columns, nulls_last=True))


def assert_every_bad_one_recorded(out: Path, mixed: Mixed, extra: dict[str, str] | None = None,
                                  held: dict[str, tuple[str, str]] | None = None) -> None:
    """Every bad input is recorded with its code and a message saying what to do: as a failed row of the
    year's ``reports``, or, held back (year unknown, or a report of another year), in ``held``
    ({uri: (error, message)}, from the results or the batch manifest) and in no partition."""
    reports = read_dataset(out, "reports")
    expected = dict(mixed.expected) | (extra or {})
    failed = reports.filter(pl.col("status") == "failed")
    recorded = {r["source_uri"]: (r["error"], r["error_message"]) for r in failed.to_dicts()}
    assert not set(recorded) & set(held or {}), "a held-back input was published too"
    recorded |= held or {}
    got = {u: e for u, (e, _) in recorded.items()}
    refused = {u: e for u, e in got.items() if u.startswith("refused:")}
    assert list(refused.values()) == ["refused_source"], refused
    assert {u: e for u, e in got.items() if not u.startswith("refused:")} == expected
    for error, message in recorded.values():  # each message says what to do
        assert ADVICE[error] in (message or ""), (error, message)
    assert not (out.parent / "pwned").exists()


def held_back(out: Path, results: list) -> dict[str, tuple[str, str]]:
    """The results published under no year (held back), as {uri: (error, message)}."""
    published = set(read_dataset(out, "reports")["report_id"])
    return {r.source_uri: (r.error, r.error_message) for r in results if r.report_id not in published}


ADVICE = {"empty_file": "re-download", "corrupt": "re-download", "page_limit": "max_pages",
          "too_large": "max_file_bytes", "not_a_report": "check it is a 政府信息公开工作年度报告",
          "unsupported_format": "Supported:", "encrypted": "password", "year_mismatch": "batch",
          "refused_source": "fix the entry in the manifest", "timeout": "report_timeout_seconds",
          "crashed": "report_memory_mb", "memory_limit": "report_memory_mb", "download_failed": "rerun"}


# --- the tests ------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", ["year", "all-years"])
def test_mixed_batch_pure(tmp_path: Path, mode: str) -> None:
    goods = good_set(mode)
    mixed = build_mixed(tmp_path, goods)
    items = read_manifest(mixed.manifest)
    n_rows = len(items)
    mixed_out = tmp_path / "mixed" / "out"
    batch = run_batch(items, mixed_out, year=goods.year, settings=SETTINGS, batch_id="mixed")
    assert len(batch.results) == n_rows - 1  # every input accounted for; the duplicate folded into one
    only_out = only_good(tmp_path, goods)
    dup_id = next(r.report_id for r in batch.results if r.source_uri == mixed.duplicated_uri)
    assert_same_good_output(mixed_out, only_out, dup_id)
    assert_every_bad_one_recorded(mixed_out, mixed, held=held_back(mixed_out, batch.results))


# --- through the real flow ------------------------------------------------------------------------------

class _Cut(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cut_server() -> Iterator[str]:
    _Cut.body = GOOD_A.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Cut)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/cut-report.txt"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_mixed_batch_through_the_prefect_flow(tmp_path: Path, cut_server: str, prefect_server: None) -> None:
    from flows.annual import annual_batch

    goods = good_set("year")
    mixed = build_mixed(tmp_path, goods)
    inbox = mixed.manifest.parent
    (inbox / "spinning.pdf").write_bytes(spinning_pdf())
    rows = pl.read_csv(mixed.manifest, infer_schema=False)
    extra = pl.DataFrame({"uri": ["spinning.pdf", cut_server], "year": [str(goods.year or "")] * 2})
    pl.concat([rows, extra]).write_csv(mixed.manifest)
    out = tmp_path / "mixed" / "out"
    summary = annual_batch(sources=[str(mixed.manifest)], year=goods.year, out=str(out), settings={
        "max_file_bytes": SETTINGS.max_file_bytes, "report_timeout_seconds": 20.0, "download_retries": 1,
        "download_timeout_seconds": 5.0, "cache_dir": str(tmp_path / "cache"), "progress": False,
        "max_workers": 2, "download_allow_private": cut_server.split("/")[2]})
    n_inputs = len(read_manifest(mixed.manifest))
    assert summary["reports"] == n_inputs - 1
    only_out = only_good(tmp_path, goods)
    reports = read_dataset(out, "reports")
    dup_id = reports.filter(pl.col("source_uri") == mixed.duplicated_uri)["report_id"].item()
    assert_same_good_output(out, only_out, dup_id)
    manifests = sorted((out / "_manifests").glob("*.json"))
    inputs = json.loads(manifests[-1].read_text(encoding="utf-8"))["inputs"]
    held = {rec["uri"]: (rec["error"], rec["error_message"]) for rec in inputs
            if rec["partition_year"] is None and "duplicate_of" not in rec}
    # The spinning page grows without end: cut off by the time limit, or (pdfium allocates faster) by the
    # memory cap first; either way it is recorded failed with what to raise, and the batch goes on.
    spinning = str(inbox.resolve() / "spinning.pdf")
    how = next(rec["error"] for rec in inputs if rec["uri"] == spinning)
    assert how in ("timeout", "crashed", "memory_limit"), how
    assert_every_bad_one_recorded(out, mixed, {spinning: how, cut_server: "download_failed"}, held)
    assert Counter("duplicate_of" in rec for rec in inputs)[True] == 1
    assert next(rec for rec in inputs if "duplicate_of" in rec)["uri"] == mixed.duplicate_uri


@pytest.mark.parametrize("mode", ["year", "all-years"])
def test_the_good_set_is_what_the_issue_asks_for(mode: str) -> None:
    """Which reports the acceptance test uses (printed with -rA): 20 distinct good inputs."""
    goods = good_set(mode)
    assert len(goods.files) == N_GOOD and len({b for _, b in goods.files}) == N_GOOD
    print(f"{mode} (batch year {goods.year}): {goods.from_generated} generated + "
          f"{N_GOOD - goods.from_generated} text variants")
