"""Property tests (hypothesis) for the invariants of the core."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nianbao.model import Document, Origin, TextBlock
from nianbao.normalize import normalize_label, parse_value
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, validate_frames, write_partitions
from nianbao.read.text import read_text
from nianbao.results import CellValue, Problem, ReportResult, SectionOut
from nianbao.segment import segment
from nianbao.template import SECTIONS, TABLES

LABEL_CHARS = st.sampled_from(list("一二三四五六七八九十（）()、.．1234567890 “”\"'总计其他不予公开属于国家秘密　\t，：/-"))


@given(st.text(alphabet=LABEL_CHARS, max_size=40) | st.text(max_size=40))
def test_normalize_label_is_idempotent(text: str) -> None:
    once = normalize_label(text)
    assert normalize_label(once) == once


@given(st.text(max_size=30))
def test_parse_value_never_raises_and_blank_is_never_zero(text: str) -> None:
    pv = parse_value(text)
    assert pv.kind in ("number", "blank", "not_applicable", "text")
    assert (pv.value is not None) == (pv.kind == "number")
    if not text.strip():
        assert pv.kind == "blank" and pv.value is None


@given(st.integers(min_value=-10**9, max_value=10**9), st.sampled_from(["", "件", "元", "万元"]))
def test_parse_value_reads_printed_integers(n: int, unit: str) -> None:
    pv = parse_value(f"{n}{unit}")
    assert pv.kind == "number" and pv.value == Decimal(n)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60), max_size=40))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_text_reader_never_crashes(lines: list[str]) -> None:
    doc = read_text("\n".join(lines).encode("utf-8"), "fuzz.txt")
    assert isinstance(doc, Document)


@given(st.lists(st.sampled_from([s.title for s in SECTIONS] + ["正文一段。", "（一）主动公开情况", "表格\t0\t1"]),
                max_size=30))
def test_sections_are_ordered_and_disjoint(lines: list[str]) -> None:
    doc = Document(blocks=[TextBlock(t, Origin(line=i)) for i, t in enumerate(lines)], source_format="text")
    spans = segment(doc)
    numbers = [s.section.number for s in spans]
    assert numbers == sorted(set(numbers))
    for a, b in itertools.pairwise(spans):
        assert a.start <= a.end <= b.heading < b.start
    for s in spans:
        assert 0 <= s.heading < s.start <= s.end <= len(doc.blocks)


_APP_KEYS = TABLES[("applications", "2021")].cell_keys()
cell_value = st.one_of(
    st.builds(lambda v: (Decimal(v), "number", str(v)), st.integers(0, 10**6)),
    st.just((None, "blank", "")),
    st.just((None, "not_applicable", "/")),
)


@pytest.mark.slow  # 25 publishes and reads of a Parquet dataset
@given(st.lists(cell_value, min_size=1, max_size=len(_APP_KEYS)))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parquet_round_trip(tmp_path_factory, values) -> None:  # type: ignore[no-untyped-def]
    out: Path = tmp_path_factory.mktemp("rt")
    cells = [CellValue("applications", k1, k2, v, kind, raw, Origin(page=1, bbox=(1.0, 2.0, 3.0, 4.0)))
             for (k1, k2), (v, kind, raw) in zip(_APP_KEYS, values)]
    r = ReportResult("a" * 64, "x.txt", "text", 10, status="ok", report_year=2022, cells=cells,
                     table_templates={"applications": "2021"},
                     sections=[SectionOut(1, "overview", "一、总体情况", "正文", 1, 2, None)],
                     problems=[Problem("c", "warning", "applications", "m", "granted", "total")])
    lin = Lineage("b1", "run-1")
    frames = validate_frames(build_frames([r], {r.report_id: 2022}, lin), lin, "p")
    write_partitions(frames, out, [2022], "b1")
    back = read_dataset(out, "applications").sort("row", "applicant")
    want = frames["applications"].sort("row", "applicant")
    assert back.equals(want)
    assert back.filter(pl.col("value_kind") == "blank")["value"].null_count() == back.filter(
        pl.col("value_kind") == "blank").height


@given(message=st.text(min_size=1, max_size=40), page=st.none() | st.integers(1, 999))
def test_errors_survive_pickling_unchanged(message: str, page: int | None) -> None:
    # Errors cross process boundaries (process pools, Dask): the text must not grow on the way.
    import pickle

    from nianbao.errors import CorruptFileError

    err = CorruptFileError(message, source="a.pdf", page=page, table="applications")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is CorruptFileError
    assert str(back) == str(err)
    assert (back.source, back.page, back.table) == ("a.pdf", page, "applications")
