"""Every check code and error code nianbao emits, as data: what it means and what to do about it.

Two kinds of code:

- **check** codes are the ``check`` column of ``validation_issues`` / ``crossyear_issues``: a failed
  identity, a structural problem of a table, a recovery or a withheld table;
- **error** codes are the ``error`` column of ``reports`` (and the ``code`` of every ``NianbaoError``):
  why a report (or a whole batch) failed.

``group`` sorts the check codes for people reading the quality report: ``problem`` (the data may be
wrong or incomplete: look at it), ``recovery`` (a value was restored by an identity and published,
flagged), ``withheld`` (values were read but not published), ``note`` (information only).

``docs/checks.md`` is generated from this module (``tools/gen_checks_doc.py``; a test keeps it in
step), the quality report takes meanings and actions from it, and a test fails when the code base
emits a code this registry lacks. A code ending in ``*`` is a family (``schema_*``: pandera's check
name follows the prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["check", "error"]
Group = Literal["problem", "recovery", "withheld", "note", "failure"]


@dataclass(frozen=True)
class Code:
    """One code: ``severities`` are those it is emitted with (error codes: ``failed``)."""

    code: str
    kind: Kind
    severities: tuple[str, ...]
    group: Group
    table: str | None
    meaning: str
    action: str


_APP, _PRO, _RL = "applications", "proactive_disclosure", "reviews_litigation"
_ANY_TABLE = "any cell table"
_E, _W, _I = ("error",), ("warning",), ("info",)
_FAILED = ("failed",)
_SKIPPED = ("skipped",)

_CHECKS: tuple[Code, ...] = (
    # --- identities (勾稽关系) -----------------------------------------------------------------------
    Code("applications_balance", "check", _E, "problem", _APP,
         "new_received + carried_over ≠ total_handled + carried_forward in an applicant column "
         "(expected = the left side, actual = the right side as printed).",
         "Compare the printed table with the source (page link); the numbers are published as printed. "
         "Ask the agency for a correction if the source is wrong."),
    Code("applications_handled_total", "check", _E, "problem", _APP,
         "total_handled ≠ the sum of the handling-result rows in an applicant column.",
         "Check the handling-result rows against the source; a row left out or misread shows here too."),
    Code("applications_row_total", "check", _E, "problem", _APP,
         "A row's total column ≠ the sum of its six applicant columns.",
         "Check the row against the source; the agency may have mis-added it."),
    Code("reviews_litigation_total", "check", _E, "problem", _RL,
         "upheld + corrected + other + pending ≠ total for one proceeding (review, litigation).",
         "Check the proceeding's five numbers against the source."),
    Code("proactive_non_negative", "check", _E, "problem", _PRO,
         "A count in table 1 is negative (only the 2019 `change` column may be).",
         "Check the cell against the source: a minus sign or a misread dash."),
    # --- table structure ----------------------------------------------------------------------------
    Code("table_missing", "check", _E, "problem", _ANY_TABLE,
         "The section has no table of this kind with values: none of its cells is published.",
         "Open the source: the table may be an image, in another section, or missing from the report."),
    Code("unknown_template", "check", _E, "problem", _PRO,
         "Table 1's column headers match neither template version (2019, 2021): its cells are left out.",
         "Check the headers in the source; a new layout needs a template version, not a per-file rule."),
    Code("unmapped_rows", "check", _E, "problem", _APP,
         "Rows with values have no readable label and the row count does not equal a template version's: "
         "their cells are left out.",
         "Read the rows in the source (page link); labels lost to layout usually mean an unusual table."),
    Code("rows_mapped_by_position", "check", _W, "problem", _APP,
         "Rows without a readable label were mapped by template order (the row count equals a version's "
         "exactly).",
         "Spot-check the rows against the source; an exchange of two rows would balance every identity."),
    Code("duplicate_row", "check", ("error", "warning"), "problem", _ANY_TABLE,
         "A row label is printed twice: applications (error) leaves the row out; table 1 (warning) keeps the "
         "first.",
         "Check the source for a repeated or mislabelled row."),
    Code("row_not_in_template", "check", _W, "problem", _APP,
         "A row of the other template version was found in this table (e.g. 2019's 其他处理 in a 2021 table).",
         "Check which template the report uses; mixed tables are published as read."),
    Code("row_value_count", "check", _E, "problem", _ANY_TABLE,
         "A row has a different number of value cells than the template (expected vs actual): it is left out.",
         "Look at the row in the source: merged cells or a number split over two cells."),
    Code("rows_missing", "check", _W, "problem", _ANY_TABLE,
         "Template rows of table 1, or of a table printed as text, were not found (actual lists them).",
         "Check whether the report omits them or the layout hid them."),
    Code("section_missing", "check", ("error", "warning"), "problem", None,
         "A section heading (key1 = section number 1-6) was not found; sections 2-4 (tables) are errors.",
         "Check the headings in the source; a heading in an unusual form needs a grammar rule for its class."),
    Code("split_ambiguous", "check", _E, "problem", _ANY_TABLE,
         "Digits printed without separators split into numbers in more than one way that balances: the rows "
         "are left out.",
         "Read the numbers from the original document (the text dump lost the separators)."),
    Code("split_impossible", "check", _E, "problem", _ANY_TABLE,
         "Digits printed without separators have no split that balances the identities: left out.",
         "Read the numbers from the original document."),
    Code("dump_row_ambiguous", "check", _E, "withheld", _ANY_TABLE,
         "Rows of a table printed as text (a crawler dump) hold fewer or more values than the template's columns: "
         "a blank cell leaves no trace in such text, so which column each value belongs to is unknown; their cells "
         "are withheld (actual lists the rows).",
         "Read those rows from the original page or document (docs/layouts.md, text dumps)."),
    Code("dump_row_empty", "check", _W, "withheld", _ANY_TABLE,
         "Rows of a table printed as text have no value after their label: blank and lost cannot be told apart, "
         "so nothing is published for them.",
         "Check the rows in the original page; they are usually blank."),
    Code("year_not_found", "check", ("warning", "error"), "problem", None,
         "No report year in the document (title, statistics period, intro), its file name or its folder: none "
         "is assumed, and without --year the report is held back (error).",
         "Run the report with --year YEAR (or name the year in its file name)."),
    Code("year_from_path", "check", _I, "note", None,
         "The document prints no report year; the year (actual) was taken from its file name or folder.",
         "Check the year if the file name could be misleading."),
    Code("year_mismatch", "check", _E, "problem", None,
         "The report is about another year than the batch, or its OCR'd year differs from the year its file "
         "name or folder names (expected = that year, actual = report year): held back.",
         "Run it in the batch of its year (nianbao run --year ACTUAL)."),
    Code("published_in_other_year", "check", _E, "problem", None,
         "The same report (same bytes) is already published under another year (actual): held back, since a "
         "report is published under one year only.",
         "If it belongs to this year, republish the other year without it first."),
    Code("duplicate_input", "check", _I, "note", None,
         "The same bytes were given twice in the batch (actual = the other path): processed once.",
         "Nothing; remove the duplicate from the inbox if it is unintended."),
    # --- recoveries ---------------------------------------------------------------------------------
    Code("cell_recovered_by_identity", "check", _W, "recovery", _APP,
         "A row printed with a value missing; the identities leave exactly one complete row, published with "
         "derivation = identity.",
         "Nothing required; the recovered cells are flagged. Check them against the source if in doubt."),
    Code("cells_split_by_identity", "check", _W, "recovery", _ANY_TABLE,
         "Cells read from digits printed without separators; each split is the only one the identities "
         "allow (derivation = split_by_identity).",
         "Nothing required; prefer the original document over a text dump when available."),
    # --- reader problems (recorded as checks of severity error; the report is partial) ---------------
    Code("needs_ocr", "check", _E, "problem", None,
         "A page has no text layer (a scan) in a PDF that otherwise has text, and OCR is off or missing: that "
         "page is not read.",
         "Turn the setting ocr on (and run bash scripts/setup.sh): such pages are then OCR'd."),
    Code("unreadable_font", "check", _E, "problem", None,
         "Glyphs on a page have no Unicode mapping ((cid:N)); the page is not read, or those glyphs read as "
         "U+FFFD.",
         "Obtain another copy of the PDF or OCR the page."),
    Code("corrupt_page", "check", _E, "problem", None,
         "A page of the PDF cannot be parsed; the rest of the report is read.",
         "Re-download the file; check the page in a viewer."),
    Code("docx_alt_chunk", "check", _E, "problem", None,
         "The DOCX embeds content as an altChunk (imported HTML/RTF), which is not read.",
         "Open and re-save the file in Word or LibreOffice to inline the content."),
    Code("ocr_empty_page", "check", _E, "problem", None,
         "OCR found no text on a page (or picture) read by OCR.",
         "Check the scan: blank page, or too faint/low resolution for OCR."),
    # --- OCR ----------------------------------------------------------------------------------------
    Code("read_by_ocr", "check", _W, "note", None,
         "Pages or pictures of tables were read by OCR (RapidOCR, checked by tesseract). A number is published "
         "(derivation = ocr) only where both engines agree or the identities confirm it.",
         "Check the values withheld (the ocr_* warnings) against the scan by hand."),
    Code("ocr_unverified", "check", _W, "withheld", _ANY_TABLE,
         "Values of this OCR'd table were not published: its rows were not all placed by their printed labels, "
         "and exchanged rows keep every identity balanced. With key1: that row's label could not be read and "
         "it was placed by template order (the other rows are gated as usual); without: a duplicate row, the "
         "whole table (actual = number of values withheld).",
         "Key the row (or table) in by hand from the scan (page link)."),
    Code("ocr_disagreement", "check", _W, "withheld", _ANY_TABLE,
         "An OCR'd value was not published: tesseract read it differently (or not at all) and no balanced "
         "identity vouches for it (actual = RapidOCR's reading).",
         "Read the cell on the scan (page link) and key it in."),
    Code("ocr_unbalanced", "check", _W, "withheld", _ANY_TABLE,
         "An OCR'd value was not published: the engines differ and an identity containing it does not "
         "balance, with no unique one-digit fix confirmed by a second reading (actual = RapidOCR's reading).",
         "Read the cell and the identity's other cells on the scan (page link)."),
    Code("ocr_not_a_number", "check", _W, "withheld", _ANY_TABLE,
         "OCR read text where the template expects a number; not published (actual = the text).",
         "Read the cell on the scan (page link)."),
    Code("ocr_sign_unverified", "check", _W, "withheld", _PRO,
         "A non-zero OCR'd value in the 本年增/减 column (which may be negative) was not published: a minus "
         "sign is one short stroke that both engines can miss, and the cell's pixels did not show whether one is "
         "printed, or showed the other sign (actual = the reading).",
         "Read the cell on the scan (page link), sign included."),
    Code("ocr_not_read", "check", _W, "withheld", _ANY_TABLE,
         "A cell of an OCR'd table was recovered by an identity rather than read; not published.",
         "Read the cell on the scan (page link)."),
    Code("ocr_digit_confirmed", "check", _I, "recovery", _ANY_TABLE,
         "RapidOCR misread one digit: the only one-digit change that balances the identities gives a value "
         "that tesseract or a re-read at another scale read too; that value is published (expected = it, "
         "actual = the first reading).",
         "Nothing required; check the cell on the scan if in doubt."),
    Code("ocr_year_unconfirmed", "check", _W, "problem", None,
         "The report year read by OCR is not consistent (title, statistics period and text disagree or name "
         "it only once), so it is not used (actual = the title's year).",
         "Run the report in the batch of its year (--year)."),
    Code("ocr_agency_missing", "check", _W, "problem", None,
         "The agency could not be read from the title of an OCR'd report.",
         "Fill it in by hand or give it in a manifest."),
    # --- prose vs tables ------------------------------------------------------------------------------
    *(Code(f"text_vs_table_{what}", "check", _W, "problem", table,
           f"The prose states a {label} that differs from the table (expected = table, actual = prose).",
           "Check which one the source prints correctly; the table value is published as printed.")
      for what, table, label in (
          ("new_received", _APP, "number of new applications (本年新收)"),
          ("administrative_review", _RL, "number of administrative reviews (行政复议)"),
          ("litigation", _RL, "number of lawsuits (行政诉讼)"),
          ("fees", _PRO, "fee amount (收费金额)"),
          ("rules_issued", _PRO, "number of rules issued (规章 本年制发)"),
          ("normative_documents_issued", _PRO, "number of normative documents issued (规范性文件 本年制发)"))),
    # --- publish --------------------------------------------------------------------------------------
    Code("schema_*", "check", _E, "problem", _ANY_TABLE,
         "A row failed the dataset's pandera contract (the suffix names the check; key2 = column, actual = "
         "value): the row is left out of the dataset.",
         "File a bug with the report: the parser produced a value the contract forbids."),
    # --- across years -------------------------------------------------------------------------------
    Code("crossyear_carried_forward", "check", _E, "problem", _APP,
         "carried_over of year Y+1 ≠ carried_forward of year Y for the same body and applicant column "
         "(expected = Y's carried_forward).",
         "Compare both reports (related_report_id); one of them misprints, or the bodies were linked wrongly."),
    Code("crossyear_in_force", "check", _E, "problem", _PRO,
         "in_force (Y+1) ≠ in_force (Y) + issued (Y+1) − repealed (Y+1) for rules or normative documents "
         "(2021 template both years).",
         "Compare both reports' table 1."),
    Code("crossyear_agency_ambiguous", "check", _I, "note", None,
         "The agency name links to more than one body, or a body has two reports in a year: its cross-year "
         "checks are skipped where the link is unclear.",
         "Give the report a full agency name (with its region) in the manifest if the link matters."),
)

_ERRORS: tuple[Code, ...] = (
    Code("unsupported_format", "error", ("failed", "skipped"), "failure", None,
         "The file is none of the supported formats (status skipped: a file found in a folder whose name and "
         "bytes are not a report's, e.g. .json, .csv, images; failed: a file given explicitly).",
         "Supply .txt, .md, .html/.htm, .pdf, .docx, or .doc/.wps/.rtf with LibreOffice installed."),
    # --- inputs not read on purpose (reports.status = skipped): every entry of an input is accounted for ----
    Code("hidden", "error", _SKIPPED, "failure", None,
         "A hidden or private name in an input folder (starts with . or _, e.g. .git, .DS_Store): not read.",
         "Rename it, or give the file explicitly, if it is a report."),
    Code("symlink_dangling", "error", _SKIPPED, "failure", None,
         "A symbolic link in an input folder that points to nothing.", "Fix or remove the link."),
    Code("symlink_loop", "error", _SKIPPED, "failure", None,
         "A symbolic link that loops (on itself, or to a folder already walked): not followed again.",
         "Nothing to do if the folder was walked through another path; otherwise fix the link."),
    Code("not_regular_file", "error", _SKIPPED, "failure", None,
         "A FIFO, device or socket named as an input or found in a folder: never opened (it could block or "
         "never end).", "Copy the report into a regular file."),
    Code("unreadable", "error", _SKIPPED, "failure", None,
         "An entry of an input folder that could not be looked at or listed (permissions, I/O error).",
         "Check the permissions and the disk; rerun."),
    Code("outside_year_folder", "error", _SKIPPED, "failure", None,
         "With --year Y and an inbox that has a Y/ folder, an entry beside that folder: not read in the Y batch.",
         "Move it into Y/, or give it explicitly."),
    Code("other_year_folder", "error", _SKIPPED, "failure", None,
         "Another year's folder of an inbox (listed in the batch manifest and the summary, not in reports).",
         "Nothing: it is read by that year's batch."),
    Code("changed_while_read", "error", _FAILED, "failure", None,
         "The file changed while nianbao read it, or the bytes to parse are not the bytes hashed: nothing "
         "published or cached for it.", "Rerun once the file is complete."),
    Code("refused_url", "error", _FAILED, "failure", None,
         "A URL or a redirect to another scheme than http(s), or to a loopback, link-local or private address.",
         "Fix the URL; list an intranet host in the setting download_allow_private (host:port) if intended."),
    Code("download_timeout", "error", _FAILED, "failure", None,
         "The download (attempts, redirects, waits) outlasted download_total_seconds.",
         "Rerun later, or raise download_total_seconds."),
    Code("bad_manifest", "error", _FAILED, "failure", None,
         "A manifest that cannot be read: neither UTF-8 nor GB18030, no 'uri' column, not CSV/Parquet "
         "(a usage error: the command stops before any work).",
         "Save the manifest as UTF-8 CSV with a header row that has a 'uri' column."),
    Code("cancelled", "error", _FAILED, "failure", None,
         "The batch was cancelled (Ctrl-C / SIGTERM) before this report was parsed; nothing was published.",
         "Rerun the batch."),
    Code("empty_file", "error", _FAILED, "failure", None, "The file has no content.", "Re-download it."),
    Code("too_large", "error", _FAILED, "failure", None, "The file exceeds max_file_bytes.",
         "Raise max_file_bytes in the settings if the file is genuine."),
    Code("undecodable", "error", _FAILED, "failure", None,
         "The text cannot be decoded (UTF-8, GB18030 and the declared charset tried).",
         "Check the file's encoding; convert it to UTF-8."),
    Code("encrypted", "error", _FAILED, "failure", None, "The PDF or Office document needs a password.",
         "Obtain an unencrypted copy."),
    Code("corrupt", "error", _FAILED, "failure", None, "The file is truncated or damaged.", "Re-download it."),
    Code("needs_ocr", "error", _FAILED, "failure", None,
         "The PDF has no text layer and OCR is off or RapidOCR (with its models) is missing.",
         "bash scripts/setup.sh (installs rapidocr, onnxruntime and tesseract), and keep the setting ocr on."),
    Code("unreadable_font", "error", _FAILED, "failure", None,
         "The PDF's fonts have no usable Unicode map ((cid:N) text) on every page.", "OCR the pages."),
    Code("converter_missing", "error", _FAILED, "failure", None,
         "A .doc/.wps/.rtf file needs LibreOffice, which is not installed.",
         "apt-get install libreoffice-writer-nogui."),
    Code("not_a_report", "error", _FAILED, "failure", None,
         "The document has none of the template's sections or tables.",
         "Check it is a 政府信息公开工作年度报告; remove it from the inbox otherwise."),
    Code("page_limit", "error", _FAILED, "failure", None,
         "The document exceeds max_pages, or a page exceeded page_timeout_seconds.",
         "Raise max_pages / page_timeout_seconds if the file is genuine."),
    Code("year_mismatch", "error", _FAILED, "failure", None,
         "The report is about another year than the batch (or, read by OCR, than its file name or folder): "
         "held back (see the check of the same name).",
         "Run it in the batch of its year."),
    Code("year_not_found", "error", _FAILED, "failure", None,
         "No report year in the document, its file name or its folder, and the batch has no year: held back "
         "rather than published under a guessed year.",
         "Run it in a batch of its year (nianbao run --year YEAR), or put it in the inbox folder of its year."),
    Code("internal_error", "error", _FAILED, "failure", None, "An unexpected exception while parsing (a bug).",
         "File a bug with the file; the message names the exception."),
    Code("timeout", "error", _FAILED, "failure", None,
         "Parsing the report took longer than report_timeout_seconds; its worker process was stopped.",
         "Raise report_timeout_seconds if the file is genuine, or report it as a bug with the file."),
    Code("memory_limit", "error", _FAILED, "failure", None,
         "Parsing the report needed more memory than report_memory_mb; its worker process was stopped.",
         "Raise report_memory_mb if the file is genuine, or report it as a bug with the file."),
    Code("crashed", "error", _FAILED, "failure", None,
         "The task processing the report failed (its worker died, timed out or ran out of memory).",
         "Rerun; if it repeats, raise report_timeout_seconds / report_memory_mb or file a bug with the file."),
    Code("download_failed", "error", _FAILED, "failure", None,
         "The download kept failing on transient faults until the retries ran out.",
         "Rerun later (files already downloaded are not fetched again)."),
    Code("not_found", "error", _FAILED, "failure", None,
         "The input file does not exist, or the server says so (404/410; not retried).",
         "Check the path or URL in the manifest; the report may have moved."),
    Code("http_error", "error", _FAILED, "failure", None,
         "The server refused the download (401, 403, 400, ...; not retried).",
         "Check the URL and whether it needs a login."),
    Code("unsupported_uri", "error", _FAILED, "failure", None, "The input URI's scheme is not supported.",
         "Inputs are local paths or http(s) URLs."),
    Code("read_failed", "error", _FAILED, "failure", None,
         "The local input file could not be read (permissions, I/O error).",
         "Check the file's permissions and the disk; rerun."),
    Code("fetch_failed", "error", _FAILED, "failure", None,
         "Obtaining the input failed for another reason (the message names it).",
         "Read the message; rerun, or file a bug if it repeats."),
    Code("refused_source", "error", _FAILED, "failure", None,
         "A manifest entry nianbao will not read (path traversal, odd scheme, control characters).",
         "Manifest entries must be http(s) URLs, absolute paths or paths inside the manifest's folder; fix "
         "the entry and rerun."),
    Code("publish_refused", "error", _FAILED, "failure", None,
         "The batch may not replace published data (fewer reports than published, without consent).",
         "Nothing was replaced; check the input, or pass --allow-shrink if the smaller year is intended."),
    Code("nothing_to_publish", "error", _FAILED, "failure", None, "No input yielded a readable report.",
         "Nothing was replaced; check the input path and the failed reports."),
    Code("publish_conflict", "error", _FAILED, "failure", None, "Another run is publishing the same year.",
         "Wait for the other run to finish, then rerun."),
    Code("nothing_to_roll_back", "error", _FAILED, "failure", None,
         "nianbao rollback found no earlier published version of the year to go back to; nothing was changed.",
         "Check --year and --out; only versions published by this journal can be rolled back."),
    Code("published_in_other_year", "error", _FAILED, "failure", None,
         "The same report is already published under another year: held back (see the check of the same name).",
         "If it belongs to this year, republish the other year without it first."),
    Code("error", "error", _FAILED, "failure", None, "A generic nianbao error (base class; not normally emitted).",
         "Read the message; file a bug if it gives no specific cause."),
)

CHECKS: dict[str, Code] = {c.code: c for c in _CHECKS}
ERRORS: dict[str, Code] = {c.code: c for c in _ERRORS}


def lookup(code: str, kind: Kind = "check") -> Code | None:
    """Given an emitted code, return its registry entry (families ``prefix*`` match by prefix), or None."""
    table = CHECKS if kind == "check" else ERRORS
    if code in table:
        return table[code]
    return next((c for k, c in table.items() if k.endswith("*") and code.startswith(k[:-1])), None)


def all_codes() -> tuple[Code, ...]:
    """Every registered code: checks, then errors."""
    return (*_CHECKS, *_ERRORS)


__all__ = ["CHECKS", "ERRORS", "Code", "all_codes", "lookup"]
