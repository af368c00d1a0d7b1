"""The code registry (nianbao.codes) lists every code the project emits: found statically in the source, and
in what real runs over the fixtures and the corpus publish. docs/checks.md is generated from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import FIXTURES, ROOT

from nianbao.codes import CHECKS, ERRORS, all_codes, lookup
from nianbao.template import IDENTITIES
from nianbao.validate.textchecks import TEXT_CHECKS

SOURCE_DIRS = ("nianbao", "tasks", "flows", "schemas")
# Constructors whose first argument is a check code.
CHECK_CALLS = {"Problem", "ReaderProblem", "Equation", "Identity"}
# Calls whose code argument is a variable, each resolved by another rule of the scan: identities come from the
# template's Identity/Equation literals, reader problems from the ReaderProblem literals. A new dynamic site
# fails test_every_code_in_the_source_is_registered until it is added here with its justification.
# Calls whose check code is computed: identities (eq.check), reader problems (rp.code), the batch plan's
# hold-back codes (Problem literals given to _hold) and the OCR gate's withheld
# cells (code: one of ocrgate.CELL_CODES); both lists are asserted below.
DYNAMIC_SITES = {("Problem", "eq.check"), ("Problem", "rp.code"), ("Problem", "code")}
HOLD_BACK_CODES = ("year_mismatch", "year_not_found", "published_in_other_year")
# Helpers whose first argument is a code used both as a check and as the report's error (batch.plan._hold: a
# report held back): the scan registers the literals passed to them as both.
HOLD_CALLS = {"_hold"}


def _literals(node: ast.AST) -> list[tuple[str, bool]]:
    """String literals an expression can evaluate to: (text, is_prefix) — an f-string gives its constant head."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, False)]
    if isinstance(node, ast.JoinedStr):
        head = ""
        for v in node.values:
            if not (isinstance(v, ast.Constant) and isinstance(v.value, str)):
                return [(head, True)]
            head += v.value
        return [(head, False)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [x for v in node.values for x in _literals(v)]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Dict)):  # {ErrorType: "code", ...}.get(type(exc), "default")
        return [x for v in (*node.func.value.values, *node.args[1:]) for x in _literals(v)]
    return []


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)


def scan_source() -> tuple[set[tuple[str, bool, str]], set[tuple[str, bool]], set[tuple[str, str]]]:
    """Return (check codes, error codes, dynamic sites) found in the source: codes as (text, is_prefix, where)."""
    checks: set[tuple[str, bool, str]] = set()
    errors: set[tuple[str, bool]] = set()
    dynamic: set[tuple[str, str]] = set()
    for d in SOURCE_DIRS:
        for f in sorted((ROOT / d).rglob("*.py")):
            where = str(f.relative_to(ROOT))
            for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(n, ast.Call):
                    fn = _name(n.func)
                    if fn in CHECK_CALLS and n.args:
                        lits = _literals(n.args[0])
                        checks.update((t, p, where) for t, p in lits)
                        if not lits:
                            dynamic.add((fn, ast.unparse(n.args[0])))
                    if fn in HOLD_CALLS and n.args:
                        # _hold(r, Problem("code", ...)): the Problem's code is also the report's error
                        probs = [a for a in n.args if isinstance(a, ast.Call) and _name(a.func) == "Problem"]
                        lits = _literals(probs[0].args[0]) if probs and probs[0].args else _literals(n.args[0])
                        checks.update((t, p, where) for t, p in lits)
                        errors.update(lits)
                    for kw in n.keywords:
                        if kw.arg == "error":
                            errors.update(_literals(kw.value))
                elif isinstance(n, ast.Dict) and "severity" in {getattr(k, "value", None) for k in n.keys}:
                    # an issue row built as a dict (publish's schema rows); an artifact's placeholder row is not
                    for k, v in zip(n.keys, n.values, strict=True):
                        if isinstance(k, ast.Constant) and k.value in ("check", "error") and v is not None:
                            (checks if k.value == "check" else errors).update(
                                (t, p, where) if k.value == "check" else (t, p) for t, p in _literals(v))
                elif isinstance(n, ast.Assign):
                    target, value = n.targets[0], n.value
                    pairs = (list(zip(target.elts, value.elts, strict=True))
                             if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) else [(target, value)])
                    for t, v in pairs:
                        name = _name(t) or ""
                        if name in ("code", "error"):
                            errors.update(_literals(v))
                        elif name.startswith("CHECK_"):
                            checks.update((x, p, where) for x, p in _literals(v))
    return checks, errors, dynamic


def _registered(code: str, prefix: bool, kind: str) -> bool:
    table = CHECKS if kind == "check" else ERRORS
    if prefix:  # an f-string: some registered code (or family) must start with its constant head
        return any(k.startswith(code) or (k.endswith("*") and code.startswith(k[:-1])) for k in table)
    return lookup(code, kind) is not None  # type: ignore[arg-type]


def test_every_code_in_the_source_is_registered() -> None:
    checks, errors, dynamic = scan_source()
    assert len(checks) > 30 and len(errors) > 15  # the scan sees the code base
    missing = sorted(f"{c} ({w})" for c, p, w in checks if c and not _registered(c, p, "check"))
    assert missing == [], f"check codes emitted but not in nianbao/codes.py: {missing}"
    missing_e = sorted(c for c, p in errors if c and not _registered(c, p, "error"))
    assert missing_e == [], f"error codes emitted but not in nianbao/codes.py: {missing_e}"
    assert dynamic <= DYNAMIC_SITES, "a new call emits a computed check code: register its codes and list it here"
    plan = (ROOT / "nianbao" / "batch" / "plan.py").read_text(encoding="utf-8")
    assert set(re.findall(r'_hold\(r, (?:Problem\()?"(\w+)"', plan)) == set(HOLD_BACK_CODES)
    # a held-back report's error is its check code: registered as both
    assert all(lookup(c) is not None and lookup(c, "error") is not None for c in HOLD_BACK_CODES)
    from nianbao.validate.ocrgate import CELL_CODES

    gate = (ROOT / "nianbao" / "validate" / "ocrgate.py").read_text(encoding="utf-8")
    assert set(re.findall(r'why\[key\] = \("(\w+)"', gate)) == set(CELL_CODES)
    assert all(lookup(c) is not None for c in CELL_CODES)


def test_dynamic_families_are_registered() -> None:
    for code in (*TEXT_CHECKS, *(i.check for i in IDENTITIES)):
        assert lookup(code) is not None, code
    assert lookup("schema_isin") is CHECKS["schema_*"]
    assert lookup("no_such_code") is None


def test_the_scan_catches_an_unregistered_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The static scan is not vacuous: a Problem with a new code in a source file is reported."""
    fake = tmp_path / "nianbao"
    fake.mkdir()
    (fake / "x.py").write_text('Problem("brand_new_check", "error", None, "m")\nclass E:\n    code = "new_error"\n')
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    checks, errors, _ = scan_source()
    assert ("brand_new_check", False, "nianbao/x.py") in checks and ("new_error", False) in errors
    assert not _registered("brand_new_check", False, "check") and not _registered("new_error", False, "error")


def test_registry_entries_are_complete() -> None:
    for c in all_codes():
        assert c.meaning.strip() and c.action.strip(), c.code
        assert c.severities and set(c.severities) <= {"error", "warning", "info", "failed", "skipped"}, c.code
        assert (c.kind == "error") == (c.group == "failure"), c.code
    # One entry per code and kind: a second entry would silently shadow the first's meaning and action.
    pairs = [(c.code, c.kind) for c in all_codes()]
    assert sorted(p for p in set(pairs) if pairs.count(p) > 1) == []


def test_checks_doc_is_generated_from_the_registry() -> None:
    import gen_checks_doc  # tools/ (on sys.path through conftest)

    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert text == gen_checks_doc.render(), "docs/checks.md is out of date: run python tools/gen_checks_doc.py"
    for c in all_codes():
        assert f"`{c.code}`" in text


# --- codes emitted by real runs ----------------------------------------------------------------------

RUN_DIRS = ("corpus", "text", "html", "bad", "reliability", "generated")
SUFFIXES = {".txt", ".html", ".htm", ".pdf", ".docx", ".doc"}


def _emitted(results: list) -> tuple[set[tuple[str, str]], set[str]]:
    checks = {(p.check, p.severity) for r in results for p in r.problems}
    return checks, {r.error for r in results if r.error}


def _assert_registered(checks: set[tuple[str, str]], errors: set[str]) -> None:
    for code, severity in sorted(checks):
        entry = lookup(code)
        assert entry is not None, f"check {code} emitted by a run is not in nianbao/codes.py"
        assert severity in entry.severities, f"{code} emitted as {severity}, registered as {entry.severities}"
    for code in sorted(errors):
        assert lookup(code, "error") is not None, f"error {code} emitted by a run is not in nianbao/codes.py"


@pytest.mark.slow
@pytest.mark.slow  # parses every fixture and the corpus
def test_codes_emitted_by_the_fixtures_and_corpus_are_registered() -> None:
    from nianbao.batch.plan import assign_years, drop_duplicates
    from nianbao.pipeline import process_bytes

    files = [f for d in RUN_DIRS for f in sorted((FIXTURES / d).iterdir()) if f.suffix.lower() in SUFFIXES]
    scanned = sorted((FIXTURES / "scanned").glob("*.pdf"))[:1]  # one OCR run: read_by_ocr, ocr_unverified
    results = [process_bytes(f.read_bytes(), str(f)) for f in [*files, *scanned]]
    results.append(process_bytes(files[0].read_bytes(), str(files[0]) + ".copy"))  # a duplicate input
    results = drop_duplicates(results)
    assign_years(results, 2000)  # every report is about another year: held back
    checks, errors = _emitted(results)
    _assert_registered(checks, errors)
    # The run exercised many codes: failures, identities, recoveries, OCR, batch-level ones.
    seen = {c for c, _ in checks}
    assert {"year_mismatch", "duplicate_input", "read_by_ocr", "applications_balance"} <= seen, seen
    assert {"empty_file", "encrypted", "year_mismatch", "not_a_report"} <= errors, errors


@pytest.mark.slow  # parses every fixture and the corpus
def test_codes_published_by_a_batch_are_registered(tmp_path: Path) -> None:
    from test_crossyear import publish_planted

    from nianbao.bi import post_publish
    from nianbao.publish.parquet import read_dataset

    publish_planted(tmp_path)
    post_publish(tmp_path)
    issues = pl.concat([read_dataset(tmp_path, "validation_issues").select("check", "severity"),
                        pl.read_parquet(tmp_path / "crossyear_issues" / "crossyear_issues.parquet")
                        .select("check", "severity")])
    checks = {(str(c), str(s)) for c, s in issues.iter_rows()}
    errors = {e for e in read_dataset(tmp_path, "reports")["error"].to_list() if e}
    assert {c for c, _ in checks} >= {"crossyear_carried_forward", "crossyear_in_force"}
    _assert_registered(checks, errors)
