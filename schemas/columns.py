"""The column specs of every published dataset: one list per dataset, the allowed keys from the template.

The writer (polars schema), the validator (the pandera models in ``schemas.models``) and the data dictionary
(docs/data-model.md) are all derived from these lists, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from nianbao.normalize import VALUE_PRECISION, VALUE_SCALE
from nianbao.template import TABLE_KEY_COLUMNS, TABLE_KEYS, all_column_keys, all_row_keys

# Wide enough for every printed number exactly: 20 integer digits, 18 decimals (nianbao.normalize refuses
# to take a longer printed number as a number rather than round it).
VALUE_DTYPE = pl.Decimal(precision=VALUE_PRECISION, scale=VALUE_SCALE)
VALUE_KINDS = ("number", "blank", "not_applicable", "text")
STATUSES = ("ok", "partial", "failed", "skipped")
SEVERITIES = ("error", "warning", "info")
DERIVATIONS = ("printed", "identity", "split_by_identity", "ocr")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: Any
    nullable: bool
    description: str
    isin: tuple[str, ...] | None = None


LINEAGE: tuple[ColumnSpec, ...] = (
    ColumnSpec("parser_version", pl.String, False, "version of the nianbao parser that wrote the row"),
    ColumnSpec("batch_id", pl.String, False, "id of the batch (one flow run over one year's inputs)"),
    ColumnSpec("flow_run_id", pl.String, True, "Prefect flow run id, where run under Prefect"),
)
REPORT_KEY = ColumnSpec("report_id", pl.String, False, "sha256 of the source bytes")
YEAR = ColumnSpec("report_year", pl.Int32, False, "the year reported on (hive partition key)")

_CELL_TAIL: tuple[ColumnSpec, ...] = (
    ColumnSpec("template", pl.String, True, "template version of this table as found (2019/2021)", ("2019", "2021")),
    ColumnSpec("value", VALUE_DTYPE, True, "the printed number; null unless value_kind is number"),
    ColumnSpec("value_kind", pl.String, False, "number, blank, not_applicable (/, -, 无) or text", VALUE_KINDS),
    ColumnSpec("raw", pl.String, False, "the printed cell text"),
    ColumnSpec("unit", pl.String, False, "unit printed in the cell (元, 万元), empty if none"),
    ColumnSpec("derivation", pl.String, False,
               "printed; identity: a cell lost by the extract, recovered because the identities leave one value; "
               "split_by_identity: digits printed without separators, split the only way the identities allow; "
               "ocr: read from a scan by OCR, published only because every identity of its table balances",
               DERIVATIONS),
    ColumnSpec("page", pl.Int32, True, "1-based page of the cell (PDF)"),
    ColumnSpec("line", pl.Int32, True, "1-based line or block ordinal (text, HTML, DOCX)"),
    ColumnSpec("x0", pl.Float64, True, "cell bounding box, points from the left (PDF)"),
    ColumnSpec("top", pl.Float64, True, "cell bounding box, points from the top (PDF)"),
    ColumnSpec("x1", pl.Float64, True, "cell bounding box right edge (PDF)"),
    ColumnSpec("bottom", pl.Float64, True, "cell bounding box bottom edge (PDF)"),
)


def _cell_columns(table: str) -> tuple[ColumnSpec, ...]:
    k1, k2 = TABLE_KEY_COLUMNS[table]
    return (REPORT_KEY, YEAR,
            ColumnSpec(k1, pl.String, False, f"{table} row key (template.md)", tuple(all_row_keys(table))),
            ColumnSpec(k2, pl.String, False, f"{table} column key (template.md)", tuple(all_column_keys(table))),
            *_CELL_TAIL, *LINEAGE)


DATASETS: dict[str, tuple[ColumnSpec, ...]] = {
    "reports": (
        REPORT_KEY, YEAR,
        ColumnSpec("source_uri", pl.String, False, "where the bytes came from (path or URL)"),
        ColumnSpec("source_format", pl.String, True, "sniffed format: text, html, pdf, docx, doc"),
        ColumnSpec("source_bytes", pl.Int64, False, "size of the source in bytes"),
        ColumnSpec("title", pl.String, True, "report title as printed"),
        ColumnSpec("agency", pl.String, True, "issuing body as printed in the title or signature"),
        ColumnSpec("published", pl.Date, True, "publication date where printed"),
        ColumnSpec("template", pl.String, True, "template version of the report (from table 1, else table 2)",
                   ("2019", "2021")),
        ColumnSpec("template_applications", pl.String, True, "template version of the applications table",
                   ("2019", "2021")),
        ColumnSpec("status", pl.String, False,
                   "ok, partial (some content unreadable), failed, or skipped (not read on purpose: error says why)",
                   STATUSES),
        ColumnSpec("error", pl.String, True, "error code when failed (e.g. encrypted, needs_ocr, not_a_report)"),
        ColumnSpec("error_message", pl.String, True, "what went wrong and what to do"),
        ColumnSpec("page_count", pl.Int32, True, "pages (PDF)"),
        ColumnSpec("n_cells", pl.Int32, False, "cells published for this report"),
        ColumnSpec("n_issues", pl.Int32, False, "validation_issues rows of this report"),
        ColumnSpec("seconds", pl.Float64, False, "processing time"),
        *LINEAGE,
    ),
    "sections": (
        REPORT_KEY, YEAR,
        ColumnSpec("section_no", pl.Int32, False, "1..6 of the template outline"),
        ColumnSpec("section_key", pl.String, False, "overview, proactive_disclosure, applications, "
                   "reviews_litigation, problems, other_matters"),
        ColumnSpec("heading", pl.String, False, "the heading as printed"),
        ColumnSpec("text", pl.String, False, "the section's prose"),
        ColumnSpec("block_start", pl.Int32, False, "first block of the section in the document model"),
        ColumnSpec("block_end", pl.Int32, False, "end block (exclusive)"),
        ColumnSpec("page", pl.Int32, True, "page of the heading (PDF)"),
        *LINEAGE,
    ),
    **{t: _cell_columns(t) for t in TABLE_KEYS},
    "validation_issues": (
        REPORT_KEY, YEAR,
        ColumnSpec("check", pl.String, False, "name of the failed check or structural problem"),
        ColumnSpec("severity", pl.String, False, "error, warning or info", SEVERITIES),
        ColumnSpec("table_name", pl.String, True, "table the issue is about"),
        ColumnSpec("key1", pl.String, True, "row/category/proceeding key concerned"),
        ColumnSpec("key2", pl.String, True, "column/metric/outcome key concerned"),
        ColumnSpec("expected", pl.String, True, "expected value (e.g. sum of the parts)"),
        ColumnSpec("actual", pl.String, True, "printed value"),
        ColumnSpec("message", pl.String, False, "what does not hold, in words"),
        ColumnSpec("page", pl.Int32, True, "page concerned (PDF)"),
        *LINEAGE,
    ),
}

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


# The columns that identify a row of each dataset (pandera's ``unique``): a report once, a section once per
# report, a cell once per report and template key pair; validation issues may repeat.
UNIQUE: dict[str, tuple[str, ...]] = {
    "reports": ("report_id",),
    "sections": ("report_id", "section_no"),
    **{t: ("report_id", *TABLE_KEY_COLUMNS[t]) for t in TABLE_KEYS},
}


def polars_schema(dataset: str) -> pl.Schema:
    """Given a dataset name, return its polars schema."""
    return pl.Schema({c.name: c.dtype for c in DATASETS[dataset]})
