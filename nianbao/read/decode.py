"""The one decoding rule for text-like inputs (plain text, Markdown, HTML, manifests): bytes → str.

Order: BOM; valid UTF-8 containing non-Latin text (self-authenticating, even against a wrong legacy
declaration); the declared charset (HTML ``<meta charset>``) if it decodes cleanly; UTF-8; GB18030; a
declared single-byte charset. GB2312/GBK are read as GB18030 (a superset).
"""

from __future__ import annotations

import codecs
import re

from nianbao.errors import DecodeError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with FF FE too
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (b"\x84\x31\x95\x33", "gb18030"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,1024}?charset\s*=\s*["']?\s*([a-z0-9._:\-]{1,40})|<\?xml[^>]{0,200}?encoding\s*=\s*["']([a-z0-9._:\-]{1,40})""",
    re.IGNORECASE,
)
_SNIFF_BYTES = 65536
# Declared labels we honour, mapped to the Python codec that reads them (supersets where one exists).
_MULTIBYTE = {
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "utf-16", "utf-16le", "utf-16be", "ucs-2"), "utf-8"),
    **dict.fromkeys(
        ("gb2312", "gbk", "gb18030", "gb_2312", "gb_2312-80", "x-gbk", "cp936", "ms936", "windows-936", "csgb2312",
         "chinese", "iso-ir-58", "euc-cn", "x-euc-cn", "gb2312-80", "csiso58gb231280"),
        "gb18030",
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "x-x-big5", "cn-big5", "csbig5", "cp950"), "big5hkscs"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "windows-31j", "cp932"), "cp932"),
    **dict.fromkeys(("euc-jp", "x-euc-jp"), "euc_jp"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "windows-949", "cp949"), "cp949"),
}
# Single-byte labels decode almost any bytes, so a wrong one (common on Chinese sites) must come last.
_SINGLE_BYTE = {
    **dict.fromkeys(("iso-8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "windows-1252", "cp1252"), "cp1252"),
}
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")


def _declared_charset(head: bytes) -> str | None:
    m = _META_CHARSET.search(head)
    if not m:
        return None
    return (m.group(1) or m.group(2)).decode("ascii").strip().lower()


def decode_html(data: bytes, source: str = "") -> str:
    """Given the bytes of an HTML page, return its text (``decode_bytes`` with the page's declared charset)."""
    return decode_bytes(data, source, declared=_declared_charset(data[len(_bom(data)):][:_SNIFF_BYTES]) or "")


def _bom(data: bytes) -> bytes:
    return next((bom for bom, _ in _BOMS if data.startswith(bom)), b"")


def decode_bytes(data: bytes, source: str = "", *, declared: str = "") -> str:
    """Given the bytes of a text, an HTML page or a manifest and the charset label it declares (if any), return
    its text; raise ``DecodeError`` if no encoding fits.

    Order: BOM; valid UTF-8 containing non-Latin text (self-authenticating, even against a wrong legacy
    declaration); the declared charset if it decodes cleanly; UTF-8; GB18030; a declared single-byte charset.
    The first clean (strict) decode wins: U+FFFD it holds are in the page itself (reading UTF-8 "\ufffd" as
    GB18030 would give 锟斤拷). If nothing decodes cleanly, the candidate with the fewest U+FFFD is used when
    they are at most 1 % of the text (a corrupted byte or two), else ``DecodeError``.
    """
    tries: list[tuple[str, bytes]] = [(codec, data[len(bom):]) for bom, codec in _BOMS if data.startswith(bom)]
    if tries:  # FF FE 00 00 is a UTF-32 BOM or a UTF-16 BOM and a NUL: both are tried, in that order
        data = tries[0][1] if tries[0][0] in ("utf-8", "gb18030") else data
    label = declared.strip().lower()
    try:
        wide_utf8 = any(ord(ch) >= 0x800 for ch in data.decode("utf-8"))
    except UnicodeDecodeError:
        wide_utf8 = False
    order = ["utf-8"] if wide_utf8 else []
    order += [c for c in (_MULTIBYTE.get(label), "utf-8", "gb18030", _SINGLE_BYTE.get(label)) if c]
    tries += [(codec, data) for codec in dict.fromkeys(order)]

    lenient: list[tuple[int, int, str]] = []  # (U+FFFD count, rank, text)
    for rank, (codec, raw) in enumerate(tries):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            replaced = raw.decode(codec, errors="replace")
            lenient.append((replaced.count("\ufffd"), rank, replaced))
    bad, _, text = min(lenient)
    if bad * 100 <= len(text):
        return text
    raise DecodeError("the bytes decode neither as their declared charset, UTF-8 nor GB18030", source=source)
