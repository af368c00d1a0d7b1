"""Template mapping: from the grids of a document to keyed cells of the three tables.

Steps: ``table_rows`` (grid rows split into label and value cells) → ``match_label``
(label-first, after normalisation) → ``merge_wrapped`` (labels split over two rows) →
``assign_values`` (by header column where columns are reliable, else by order when the
count is exact) → template-order fallback only when the row count equals a template
version's exactly. Cells that cannot be placed are left out and a ``Problem`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nianbao.grammar import parse_numbering
from nianbao.model import Cell, Grid
from nianbao.normalize import ParsedValue, normalize_label, parse_value, strip_spaces
from nianbao.results import CellValue, Problem
from nianbao.template import (
    APPLICANTS,
    OUTCOMES,
    PROCEEDINGS,
    TABLES,
    Row,
    TableTemplate,
    TemplateVersion,
)
from nianbao.variants import variants_of


@dataclass
class TableResult:
    table: str
    version: TemplateVersion | None
    cells: list[CellValue] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Rows identified by label but left out because their value count was wrong (candidates for
    # identity recovery); never published as they are.
    left_out: list[tuple[str, TableRow]] = field(default_factory=list)
    # Row keys placed by template order, not by a printed label (``rows_mapped_by_position``): an OCR'd
    # report publishes none of their cells (exchanged rows keep every identity balanced).
    positional: frozenset[str] = frozenset()


@dataclass
class TableRow:
    """A grid row split into its label cells and its value cells."""

    label_cells: list[Cell]
    value_cells: list[Cell]
    grid_index: int

    @property
    def label(self) -> str:
        return "".join(c.text for c in self.label_cells)

    @property
    def last_label(self) -> str:
        return self.label_cells[-1].text if self.label_cells else ""

    @property
    def has_values(self) -> bool:
        return any(parse_value(c.text).kind in ("number", "not_applicable") for c in self.value_cells)


def table_rows(grids: list[Grid]) -> list[TableRow]:
    """Given grids in reading order, return their rows split into label and value cells."""
    out: list[TableRow] = []
    for gi, grid in enumerate(grids):
        for r, cells in enumerate(grid.row_cells()):
            seen: set[int] = set()
            distinct: list[Cell] = []
            for c in cells:
                if id(c) in seen:
                    continue
                seen.add(id(c))
                distinct.append(c)
            last_text = -1
            for k, c in enumerate(distinct):
                if parse_value(c.text).kind == "text":
                    last_text = k
            labels = [c for c in distinct[: last_text + 1] if c.text.strip()]
            values = distinct[last_text + 1:]
            # A value cell that spans down from an earlier row belongs to that row only.
            values = [c for c in values if c.row == r or c.rowspan == 1]
            if not grid.positional:
                # Trailing empty fields stay: a row of 7 fields whose last is empty printed a blank total
                # (``_value_cells`` drops empty fields beyond the template's count).
                while values and not values[0].text.strip():
                    values.pop(0)
            out.append(TableRow(labels, values, gi))
    return out


def match_label(label: str, rows: tuple[Row, ...]) -> tuple[str | None, float]:
    """Given a printed label and template rows, return (row key, score) of the best unique match.

    Exact normalised match scores 3, a label ending with a variant 2, containing it 1 (plus a
    length bonus so longer variants win); variants of two characters or fewer (其他, 总计) match
    only exactly. Ties between different keys return (None, 0).
    """
    norm = normalize_label(label)
    if not norm:
        return None, 0.0
    best: dict[str, float] = {}
    for row in rows:
        for variant in (*row.labels, *variants_of(row.key)):
            v = normalize_label(variant)
            if not v:
                continue
            if norm == v:
                score = 3.0
            elif len(v) <= 2:
                continue  # 其他 / 总计 occur inside other labels: they identify a row only when exact
            elif norm.endswith(v):
                score = 2.0 + len(v) / 100
            elif v in norm:
                score = 1.0 + len(v) / 100
            else:
                continue
            best[row.key] = max(best.get(row.key, 0.0), score)
    if not best:
        return None, 0.0
    top = max(best.values())
    keys = [k for k, s in best.items() if s == top]
    return (keys[0], top) if len(keys) == 1 else (None, 0.0)


def _is_prefix_of_variant(label: str, rows: tuple[Row, ...]) -> bool:
    norm = normalize_label(label)
    return len(norm) >= 2 and any(
        normalize_label(v).startswith(norm) or norm in normalize_label(v)
        for r in rows for v in (*r.labels, *variants_of(r.key)))


def identify_rows(rows: list[TableRow], template_rows: tuple[Row, ...]) -> list[tuple[TableRow, str | None]]:
    """Given the value rows of a table, return each with its row key (None when unknown).

    The most specific (last) label cell is matched first, then the whole label; a label
    split over two grid rows (wrapped or cut by a page break) is joined with the text-only
    row before or after it when that makes it match.
    """
    out: list[tuple[TableRow, str | None]] = []
    for i, row in enumerate(rows):
        if not row.has_values:
            continue
        prev = rows[i - 1] if i > 0 and not rows[i - 1].has_values and rows[i - 1].label_cells else None
        nxt = rows[i + 1] if i + 1 < len(rows) and not rows[i + 1].has_values else None
        if not row.label_cells:
            # A detached label row: the label printed alone, its values on the next row (converters that
            # break a row at a line break in its label cell). Keyed only when that label names a row.
            key = None
            if prev is not None:
                key, score = match_label(prev.last_label, template_rows)
                if key is None:
                    whole, score = match_label(prev.label, template_rows)
                    key = whole if score >= 2 else None
            out.append((row, key))
            continue
        key, _ = match_label(row.last_label, template_rows)
        fragment = key is None and _is_prefix_of_variant(row.last_label, template_rows)
        if key is None:
            # A label split over two grid rows (wrapped, or cut by a page break): join it first, so a
            # fragment is never keyed through its group label (（六）其他处理 → other_handling). A row that
            # starts with item numbering or names a row by itself begins a new row: it is no continuation.
            candidates = []
            if nxt is not None and fragment and not _starts_new_row(nxt.label, template_rows):
                candidates.append(row.last_label + nxt.label)
            if prev is not None and not _starts_new_row(row.last_label, template_rows):
                candidates.append(prev.label + row.last_label)
                candidates.append(prev.last_label + row.last_label)
            for cand in candidates:
                key, _ = match_label(cand, template_rows)
                if key is not None:
                    break
        if key is None and not fragment:
            # The whole label (group cells included) only when it ends with a row's label.
            whole, score = match_label(row.label, template_rows)
            key = whole if score >= 2 else None
        out.append((row, key))
    return out


def _starts_new_row(label: str, template_rows: tuple[Row, ...]) -> bool:
    """True when a label fragment begins a row of its own: item numbering first, or a row's whole label."""
    n = parse_numbering(strip_spaces(label))
    return (n.style is not None and n.separated) or match_label(label, template_rows)[1] >= 3


def _value_cells(row: TableRow, n: int, col_map: dict[str, int] | None, keys: tuple[str, ...]
                 ) -> dict[str, Cell] | None:
    """Return key -> cell for a row: by header column when known, else by order when the count is n."""
    if col_map is not None and all(k in col_map for k in keys):
        by_col: dict[str, Cell] = {}
        for k in keys:
            col = col_map[k]
            hit = [c for c in row.value_cells if c.col <= col < c.col + c.colspan]
            if len(hit) != 1:
                break
            by_col[k] = hit[0]
        else:
            if len({id(c) for c in by_col.values()}) == len(keys):
                return by_col
    cells = row.value_cells
    if len(cells) > n and all(not c.text.strip() for c in cells[n:]):
        cells = cells[:n]
    if len(cells) == n:
        return dict(zip(keys, cells))
    return None


def _header_columns(rows: list[TableRow], grids: list[Grid], columns: tuple[str, ...],
                    labels: dict[str, tuple[str, ...]]) -> dict[str, int] | None:
    """Find the grid column of each column key from header cells (positional grids only)."""
    if not grids or not all(g.positional for g in grids):
        return None
    found: dict[str, int] = {}
    for grid in grids:
        for cell in grid.cells:
            norm = normalize_label(cell.text)
            for key in columns:
                if key in found:
                    continue
                if norm in {normalize_label(v) for v in labels[key]}:
                    found[key] = cell.col
        if len(found) == len(columns):
            break
    if len(found) != len(columns) or len(set(found.values())) != len(columns):
        return None
    return found


def _first_page(row: TableRow) -> int | None:
    return row.value_cells[0].origin.page if row.value_cells else None


def _cell_value(table: str, key1: str, key2: str, cell: Cell) -> CellValue:
    pv: ParsedValue = parse_value(cell.text)
    return CellValue(table, key1, key2, pv.value, pv.kind, cell.text, cell.origin, pv.unit)


def map_applications(grids: list[Grid]) -> TableResult:
    """Given the grids of section 3, return the keyed cells of the applications table."""
    result = TableResult("applications", None)
    rows = table_rows(grids)
    all_rows = APPLICATIONS_ALL_ROWS
    identified = identify_rows(rows, all_rows)
    if not identified:
        result.problems.append(Problem("table_missing", "error", "applications",
                                       "no applications table with values found in section 3"))
        return result
    keys = [k for _, k in identified]
    has_2021 = any(k in ("other_no_correction", "other_no_fee_paid", "other_other") for k in keys)
    has_2019 = "other_handling" in keys
    n = len(identified)
    version: TemplateVersion | None
    if has_2021 and not has_2019:
        version = "2021"
    elif has_2019 and not has_2021:
        version = "2019"
    elif n == len(TABLES[("applications", "2021")].rows):
        version = "2021"
    elif n == len(TABLES[("applications", "2019")].rows):
        version = "2019"
    else:
        version = None
    result.version = version
    template = TABLES[("applications", version or "2021")]
    order = template.row_keys
    # Template-order fallback for unlabelled rows: only when the count is exactly the version's, and
    # the labelled rows already sit where the template puts them.
    unknown = [i for i, k in enumerate(keys) if k is None]
    if unknown:
        versions: tuple[TemplateVersion, ...] = ("2021", "2019")
        exact = [v for v in versions if len(TABLES[("applications", v)].rows) == n]
        placed = False
        for v in exact:
            vorder = TABLES[("applications", v)].row_keys
            if all(k is None or k == vorder[i] for i, k in enumerate(keys)):
                result.positional = frozenset(vorder[i] for i in unknown)
                keys = list(vorder)
                result.version = v
                template = TABLES[("applications", v)]
                placed = True
                result.problems.append(Problem(
                    "rows_mapped_by_position", "warning", "applications",
                    f"{len(unknown)} rows without a readable label were mapped by template order "
                    f"({n} rows = template {v})"))
                break
        if not placed:
            result.problems.append(Problem(
                "unmapped_rows", "error", "applications",
                f"{len(unknown)} value rows have no readable label and the table has {n} rows, not "
                f"{len(TABLES[('applications', '2021')].rows)} or {len(TABLES[('applications', '2019')].rows)}: "
                "their cells are left out", actual=str(len(unknown)), page=_first_page(identified[unknown[0]][0])))
    counts: dict[str, int] = {}
    for k in keys:
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    col_keys = tuple(c.key for c in APPLICANTS)
    col_map = _header_columns(rows, grids, col_keys, {c.key: c.labels for c in APPLICANTS})
    for (row, _), key in zip(identified, keys):
        if key is None:
            continue
        if counts[key] > 1:
            result.problems.append(Problem("duplicate_row", "error", "applications",
                                           f"row {key} printed {counts[key]} times: its cells are left out", key1=key))
            counts[key] = -1
            continue
        if counts[key] < 0:
            continue
        if key not in order:
            result.problems.append(Problem("row_not_in_template", "warning", "applications",
                                           f"row {key} is not in template {template.version}", key1=key))
        cells = _value_cells(row, 7, col_map, col_keys)
        if cells is None:
            result.problems.append(Problem(
                "row_value_count", "error", "applications",
                f"row {key}: {len(row.value_cells)} value cells, expected 7; the row is left out",
                key1=key, expected="7", actual=str(len(row.value_cells)),
                page=row.value_cells[0].origin.page if row.value_cells else None))
            result.left_out.append((key, row))
            continue
        for col, cell in cells.items():
            result.cells.append(_cell_value("applications", key, col, cell))
    return result


_VERSIONS: tuple[TemplateVersion, ...] = ("2021", "2019")
APPLICATIONS_ALL_ROWS: tuple[Row, ...] = tuple(
    {r.key: r for v in _VERSIONS for r in TABLES[("applications", v)].rows}.values())


def map_proactive(grids: list[Grid]) -> TableResult:
    """Given the grids of section 2, return the keyed cells of the proactive-disclosure table."""
    result = TableResult("proactive_disclosure", None)
    text = "".join(normalize_label(c.text) for g in grids for c in g.cells)
    hits = {v: sum(1 for m in TABLES[("proactive_disclosure", v)].markers if normalize_label(m) in text)
            for v in ("2019", "2021")}
    if not grids or (hits["2019"] == 0 and hits["2021"] == 0):
        # Without a version marker the metrics cannot be told apart.
        if not grids:
            result.problems.append(Problem("table_missing", "error", "proactive_disclosure",
                                           "no proactive-disclosure table found in section 2"))
        else:
            result.problems.append(Problem("unknown_template", "error", "proactive_disclosure",
                                           "the table's column headers match neither template version"))
        return result
    version: TemplateVersion = "2019" if hits["2019"] > hits["2021"] else "2021"
    result.version = version
    template = TABLES[("proactive_disclosure", version)]
    seen: set[str] = set()
    for row in table_rows(grids):
        if not row.value_cells:
            continue  # a header or group row (a row printed with blank cells is kept: blank is not missing)
        key, score = match_label(row.last_label, template.rows)
        if key is None or score < 2:
            continue
        trow = next(r for r in template.rows if r.key == key)
        if key in seen:
            result.problems.append(Problem("duplicate_row", "warning", "proactive_disclosure",
                                           f"row {key} printed again; the first is kept", key1=key))
            continue
        seen.add(key)
        cells = _value_cells(row, len(trow.metrics), None, trow.metrics)
        if cells is None:
            result.problems.append(Problem(
                "row_value_count", "error", "proactive_disclosure",
                f"row {key}: {len(row.value_cells)} value cells, expected {len(trow.metrics)}; left out",
                key1=key, expected=str(len(trow.metrics)), actual=str(len(row.value_cells))))
            continue
        for metric, cell in cells.items():
            result.cells.append(_cell_value("proactive_disclosure", key, metric, cell))
    missing = [r.key for r in template.rows if r.key not in seen]
    if missing:
        result.problems.append(Problem("rows_missing", "warning", "proactive_disclosure",
                                       f"rows not found: {', '.join(missing)}", actual=",".join(missing)))
    return result


def map_reviews(grids: list[Grid]) -> TableResult:
    """Given the grids of section 4, return the keyed cells of the reviews/litigation table."""
    result = TableResult("reviews_litigation", "2021")
    keys = [(p.key, o.key) for p in PROCEEDINGS for o in OUTCOMES]
    width = len(keys)  # the whole table is printed as one row of numbers
    rows = [r for r in table_rows(grids) if r.has_values]
    values: list[Cell] | None = None
    for r in rows:
        if len(r.value_cells) == width:
            values = r.value_cells
            break
    if values is None:
        # The numbers may be split over consecutive rows (a page break, or 5 + 10).
        acc: list[Cell] = []
        for r in rows:
            acc.extend(r.value_cells)
            if len(acc) == width:
                values = acc
                break
            if len(acc) > width:
                break
    if values is None:
        result.version = None
        if rows:
            result.problems.append(Problem("row_value_count", "error", "reviews_litigation",
                                           f"no row of {width} values found; the table is left out", expected=str(width),
                                           actual=",".join(str(len(r.value_cells)) for r in rows)))
        else:
            result.problems.append(Problem("table_missing", "error", "reviews_litigation",
                                           "no reviews/litigation table with values found in section 4"))
        return result
    for (k1, k2), cell in zip(keys, values):
        result.cells.append(_cell_value("reviews_litigation", k1, k2, cell))
    result.version = None  # the table is the same in both versions
    return result


def template_of(table: str, version: TemplateVersion) -> TableTemplate:
    return TABLES[(table, version)]
