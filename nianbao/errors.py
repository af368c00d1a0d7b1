"""Typed errors that say which report, page and table, and what to do."""

from __future__ import annotations

import errno


class NianbaoError(Exception):
    """Base error. ``code`` is the short machine-readable reason stored in ``reports.error``."""

    code = "error"
    hint = ""

    def __init__(self, message: str, *, source: str | None = None, page: int | None = None,
                 table: str | None = None) -> None:
        self.message, self.source, self.page, self.table = message, source, page, table
        where = ", ".join(f"{k} {v}" for k, v in (("report", source), ("page", page), ("table", table)) if v)
        full = f"{message}" + (f" ({where})" if where else "") + (f". {self.hint}" if self.hint else "")
        super().__init__(full)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild from the parts, not from the formatted text: unpickling (process pools, Dask) would
        # otherwise append the location and the hint a second time.
        return (_rebuild, (type(self), self.message, self.source, self.page, self.table))


def _rebuild(cls: type[NianbaoError], message: str, source: str | None, page: int | None,
             table: str | None) -> NianbaoError:
    return cls(message, source=source, page=page, table=table)


class UnsupportedFormatError(NianbaoError):
    code = "unsupported_format"
    hint = "Supported: .txt, .html/.htm, .pdf, .docx, and .doc/.wps/.rtf with LibreOffice installed"


class EmptyFileError(NianbaoError):
    code = "empty_file"
    hint = "The file has no content; re-download it"


class FileTooLargeError(NianbaoError):
    code = "too_large"
    hint = "Raise `max_file_bytes` in the settings if the file is genuine"


class DecodeError(NianbaoError):
    code = "undecodable"
    hint = "Check the file's encoding; nianbao tries UTF-8, GB18030 and the declared charset"


class EncryptedPdfError(NianbaoError):
    code = "encrypted"
    hint = "The PDF needs a password; obtain an unencrypted copy"


class EncryptedDocumentError(NianbaoError):
    code = "encrypted"
    hint = "The Office document needs a password; obtain an unencrypted copy"


class CorruptFileError(NianbaoError):
    code = "corrupt"
    hint = "The file is truncated or damaged; re-download it"


class NeedsOcrError(NianbaoError):
    code = "needs_ocr"
    hint = "The document has no text layer (a scan); OCR it first"


class UnreadableFontError(NianbaoError):
    code = "unreadable_font"
    hint = "The PDF's fonts have no usable Unicode map ((cid:N) text); OCR the pages"


class ConverterMissingError(NianbaoError):
    code = "converter_missing"
    hint = "Install LibreOffice (apt-get install libreoffice-writer-nogui) to read .doc/.wps/.rtf"


class NotAReportError(NianbaoError):
    code = "not_a_report"
    hint = "The document has none of the template's sections or tables; check it is a 政府信息公开工作年度报告"


class PageLimitError(NianbaoError):
    code = "page_limit"
    hint = "Raise `max_pages` or `page_timeout_seconds` in the settings if the file is genuine"


class SettingsError(ValueError):
    """A bad settings key or value; the message names it and lists the valid keys."""


class PublishRefusedError(NianbaoError):
    """The batch is not allowed to replace published data (nothing read, or fewer reports without consent).

    The previous data is left exactly as it was.
    """

    code = "publish_refused"
    hint = "Nothing was replaced; check the input, or pass --allow-shrink if the smaller year is intended"


class NothingToPublishError(PublishRefusedError):
    """No input yielded a readable report (no files, all downloads failed, every report failed)."""

    code = "nothing_to_publish"
    hint = "Nothing was replaced; check the input path and the failed reports listed above"


class ReportInOtherYearError(PublishRefusedError):
    """The commit would publish one readable report under two years (one report, one year)."""

    code = "published_in_other_year"
    hint = "Nothing was replaced; leave the report out of one of the two years' batches"


class NothingToRollBackError(PublishRefusedError):
    """``nianbao rollback`` found no earlier kept version of the year."""

    code = "nothing_to_roll_back"
    hint = "Nothing was changed; rollback goes back one kept version at a time (the last 5 are kept)"


class PublishConflictError(NianbaoError):
    """Another run is publishing the same year; this run gave up without writing."""

    code = "publish_conflict"
    hint = "Wait for the other run to finish, then rerun"


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` means the process ran out of memory (its address-space cap, ``report_memory_mb``),
    whatever its type: a MemoryError, a shared library (an extension module imported late, say) that cannot
    be mapped, or a system call refused with ENOMEM. Such a report hit a limit; it is not a bad input."""
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return True
    text = str(exc).lower()
    return isinstance(exc, ImportError) and ("failed to map segment" in text or "cannot allocate memory" in text)
