"""Legacy word-processor files (.doc, .wps, .rtf) via a LibreOffice conversion to DOCX.

Each conversion runs ``soffice --headless --convert-to docx`` in its own temporary directory with
its own user profile (``-env:UserInstallation``), so parallel conversions never share a profile
or lock file and never attach to a LibreOffice the user has open. The converted DOCX is read by
``read_docx``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from nianbao.errors import ConverterMissingError, CorruptFileError, EmptyFileError
from nianbao.model import Document
from nianbao.processes import kill_group
from nianbao.read.docx import ENCRYPTED_STREAM, OLE_MAGIC, read_docx

LEGACY_SUFFIXES = (".doc", ".wps", ".rtf")
_EXECUTABLES = ("soffice", "libreoffice")


def find_soffice() -> str | None:
    """Return the path of the LibreOffice executable on PATH, or None."""
    for name in _EXECUTABLES:
        path = shutil.which(name)
        if path:
            return path
    return None


def convert_with_libreoffice(data: bytes, suffix: str, source: str = "", timeout: float = 120) -> bytes:
    """Given the bytes of a .doc/.wps/.rtf file and its suffix, return the bytes of the DOCX LibreOffice makes.

    Raises ``ConverterMissingError`` when LibreOffice is not on PATH, ``EmptyFileError`` for empty
    input and ``CorruptFileError`` when the conversion fails or takes longer than ``timeout`` seconds.
    """
    if not data:
        raise EmptyFileError("empty document", source=source)
    if data.startswith(OLE_MAGIC):
        _check_ole_header(data, source)
    soffice = find_soffice()
    if soffice is None:
        raise ConverterMissingError(
            "LibreOffice (soffice) is not on PATH; install LibreOffice to read .doc/.wps/.rtf files", source=source)
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    # The suffix is only a hint (a URL's, or a misnamed file's): LibreOffice detects the type from the content,
    # but a wrong suffix such as .docx on an OLE file can send it down the wrong import filter.
    if data.startswith(b"{\\rtf"):
        suffix = ".rtf"
    elif suffix not in (".doc", ".dot", ".wps", ".wpt", ".rtf"):
        suffix = ".doc"
    with tempfile.TemporaryDirectory(prefix="nianbao-lo-") as tmp:
        tmpdir = Path(tmp)
        src, out, profile = tmpdir / f"input{suffix}", tmpdir / "out", tmpdir / "profile"
        out.mkdir()
        src.write_bytes(data)
        cmd = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible", "--nologo",
               "--nodefault", "--nolockcheck", "--norestore", "--convert-to", "docx:MS Word 2007 XML",
               "--outdir", str(out), str(src)]
        env = dict(os.environ, HOME=str(tmpdir))  # keep LibreOffice's caches out of the real home
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=tmp, env=env, start_new_session=True)
        except OSError as exc:
            raise ConverterMissingError(f"cannot run LibreOffice ({soffice}): {exc}", source=source) from exc
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            raise CorruptFileError(f"LibreOffice did not convert the file within {timeout:g} s", source=source) from exc
        result = out / "input.docx"
        if not result.is_file() or result.stat().st_size == 0:
            reason = _tail(stderr) or _tail(stdout) or f"exit status {proc.returncode}"
            raise CorruptFileError(f"LibreOffice could not convert the {suffix} file: {reason}", source=source)
        return result.read_bytes()


def read_legacy(data: bytes, suffix: str, source: str = "", timeout: float = 120) -> Document:
    """Given the bytes of a .doc/.wps/.rtf file, return it as a Document (source_format "doc").

    A file that is really a DOCX under a legacy suffix is read directly (source_format "docx").
    """
    if data[:2] == b"PK" and _is_docx_zip(data):
        return read_docx(data, source)
    if data.startswith(OLE_MAGIC) and ENCRYPTED_STREAM in data:
        raise CorruptFileError("encrypted Office document (password-protected DOCX)", source=source)
    doc = read_docx(convert_with_libreoffice(data, suffix, source, timeout), source)
    doc.source_format = "doc"
    return doc


def _check_ole_header(data: bytes, source: str) -> None:
    """Reject a damaged compound-file header: LibreOffice would import such a file as plain text."""
    if len(data) < 1024 or data[28:30] != b"\xfe\xff" or int.from_bytes(data[30:32], "little") not in (9, 12):
        raise CorruptFileError("damaged OLE compound file header (not a readable .doc/.wps)", source=source)


def _is_docx_zip(data: bytes) -> bool:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "[Content_Types].xml" in z.namelist()
    except zipfile.BadZipFile:
        return False


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the conversion's own process group (soffice forks soffice.bin), then reap it."""
    kill_group(proc)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=10)


def _tail(raw: bytes, limit: int = 300) -> str:
    text = raw.decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if ln.strip() and "javaldx" not in ln]
    return " / ".join(lines)[-limit:]
