"""The two OCR engines: RapidOCR (primary) and tesseract (the second, independent reader of numbers).

**RapidOCR 3.10** (PP-OCRv6 detection and recognition, ONNX on onnxruntime) reads every text line of a
page with its box. Its models ship inside the ``rapidocr`` wheel; they are given to it by explicit path,
so it never looks for (or downloads) anything at run time. The engine is loaded once per process, on
first use (a module-level singleton guarded by a lock): the warm parsing child (``nianbao.runtime.isolation``) keeps
it between reports.

**tesseract** (Debian ``tesseract-ocr``) reads the same value cells once more, digits only, all cells
of a page stacked in one image and read in one run, each line mapped back to its cell. It is a different
model family, so its mistakes are not RapidOCR's: where both read the same number the number is taken
as read (``nianbao.ocrgate``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TESSERACT_HINT", "TextLine", "engine_missing", "read_lines", "recognise", "tesseract_cells",
           "tesseract_missing"]

Image = npt.NDArray[np.uint8]

TESSERACT_HINT = "apt-get install tesseract-ocr tesseract-ocr-chi-sim"
_MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Rec": "PP-OCRv6_rec_small.onnx",
           "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}
_TIMEOUT_S = 300.0
_LOCK = threading.Lock()
_ENGINE: Any = None


@dataclass(frozen=True)
class TextLine:
    """One text line read by RapidOCR: axis-aligned box (x0, top, x1, bottom) in pixels, text, score."""

    box: tuple[float, float, float, float]
    text: str
    score: float


def _model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def engine_missing() -> str | None:
    """Return None when RapidOCR and its bundled models are installed, else what is missing."""
    try:
        root = _model_dir()
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return f"the Python package {exc.name or 'rapidocr'} is not installed (bash scripts/setup.sh installs it)"
    missing = [name for name in _MODELS.values() if not (root / name).is_file()]
    if missing:
        return f"the RapidOCR models {', '.join(missing)} are missing from {root} (reinstall rapidocr)"
    return None


def _engine() -> Any:
    """The process's RapidOCR engine, loaded on first use."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            from rapidocr import RapidOCR

            root = _model_dir()
            threads = 1  # one page at a time per worker process; parallelism comes from the worker pool
            params: dict[str, Any] = {
                "Global.log_level": "error",
                "Global.use_cls": False,  # pages are upright after deskew; the angle classifier only costs
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": threads,
                "Det.limit_type": "max",
                "Det.limit_side_len": 1600,
                "Rec.rec_batch_num": 16,
            }
            params.update({f"{k}.model_path": str(root / name) for k, name in _MODELS.items()})
            _ENGINE = RapidOCR(params=params)
        return _ENGINE


def _rgb(img: Image) -> Image:
    return np.ascontiguousarray(np.stack([img] * 3, axis=-1)) if img.ndim == 2 else img


def read_lines(grey: Image) -> list[TextLine]:
    """Given a grey page image, return every text line RapidOCR detects and reads on it."""
    out = _engine()(_rgb(grey))
    if out.boxes is None or out.txts is None:
        return []
    lines = []
    for box, text, score in zip(out.boxes, out.txts, out.scores):
        xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
        lines.append(TextLine((min(xs), min(ys), max(xs), max(ys)), str(text), float(score)))
    return lines


def recognise(crops: list[Image]) -> list[str]:
    """Given one-line crops, return RapidOCR's reading of each (recognition only, no detection)."""
    if not crops:
        return []
    res = _engine().recognize_txt([_rgb(c) for c in crops])
    return [str(t) for t in (res.txts or ())]


def tesseract_missing() -> str | None:
    """Return None when the ``tesseract`` program can be run, else what is missing."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "the tesseract program is not installed"
    try:
        subprocess.run([exe, "--version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tesseract cannot be run ({type(exc).__name__}: {exc})"
    return None


def tesseract_cells(crops: list[Image], dpi: float) -> list[str] | None:
    """Given value-cell crops (grey), return tesseract's digits-only reading of each ("" where it reads
    nothing), or None when tesseract is not available. All crops go into one image, one per line, with
    white gutters, so a page costs one tesseract run."""
    if not crops or tesseract_missing() is not None:
        return None if crops else []
    from PIL import Image as PILImage

    gap = 40
    width = max(c.shape[1] for c in crops) + 2 * gap
    height = sum(c.shape[0] + gap for c in crops) + gap
    mosaic = np.full((height, width), 255, dtype=np.uint8)
    slots: list[tuple[int, int]] = []
    y = gap
    for c in crops:
        mosaic[y:y + c.shape[0], gap:gap + c.shape[1]] = c
        slots.append((y, y + c.shape[0]))
        y += c.shape[0] + gap
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with tempfile.TemporaryDirectory(prefix="nianbao-ocr-") as tmp:
        png = Path(tmp) / "cells.png"
        PILImage.fromarray(mosaic).save(png)
        try:
            out = subprocess.run(["tesseract", str(png), "stdout", "--dpi", str(round(dpi)), "-l", "eng", "--psm", "6",
                                  "-c", "tessedit_char_whitelist=0123456789/.-", "tsv"],
                                 capture_output=True, text=True, timeout=_TIMEOUT_S, env=env, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
    if out.returncode != 0:
        return None
    reads: list[list[tuple[int, str]]] = [[] for _ in crops]
    for row in out.stdout.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        left, top, h = int(f[6]), int(f[7]), int(f[9])
        cy = top + h / 2
        for k, (y0, y1) in enumerate(slots):
            if y0 - gap / 2 <= cy <= y1 + gap / 2:
                reads[k].append((left, f[11].strip()))
                break
    return ["".join(t for _, t in sorted(r)) for r in reads]
