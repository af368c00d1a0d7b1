"""Readers: each turns the bytes of one input format into the document model.

``REPORT_SUFFIXES`` is the one list of file extensions a folder walk reads as reports (the ingest layer
takes it from here, so a reader added here is picked up by every walk). The format itself is always
sniffed from the bytes (``nianbao.pipeline.sniff_format``); an extension is only a hint. Files with
another extension, or none, are sniffed before deciding (``nianbao.ingest.walk.decide``).
"""

REPORT_SUFFIXES: frozenset[str] = frozenset({
    ".txt", ".text", ".html", ".htm", ".shtml", ".xhtml", ".pdf", ".docx", ".doc", ".wps", ".rtf",
})

# Formats that sniffing recognises by their own magic bytes (as opposed to "text", which any bytes
# without a NUL are): a file with a data or image extension is read only when it is one of these.
MAGIC_FORMATS: frozenset[str] = frozenset({"pdf", "docx"})
