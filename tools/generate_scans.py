"""Scanned and image-table variants of the generated gold reports, for OCR tests and the benchmark.

Each document is made from one generated report PDF (``tests/fixtures/generated``, whose gold JSON gives
what the report prints) by one degradation:

* ``clean``      200 dpi grey scan, JPEG quality 80
* ``rotate``     the page turned by 1-3 degrees either way
* ``blur``       Gaussian blur (radius 0.9-1.5 px at 200 dpi)
* ``jpeg``       JPEG quality 30-40
* ``salt``       salt-and-pepper noise (0.3-1 % of the pixels)
* ``dpi150`` / ``dpi300``   scanned at 150 / 300 dpi
* ``stamp``      colour scan with one or two red seals over the text and the tables
* ``mixed``      all of it at once: rotation, blur, JPEG 30-80, noise, 150-300 dpi, a seal
* ``wrapper``    every page an image inside a form XObject, at 70 % of the page, the page number as text
* ``image_tables``  born-digital: the prose stays text, every table is pasted in as a picture
* ``scanned_pages`` born-digital with the table pages scanned (image-only pages inside a text PDF)

The gold JSON of a document is its source's gold plus ``source_name``, ``variant`` and ``scan`` (the
degradation and its drawn parameters). Everything is drawn from one ``random.Random(seed)``, so a
corpus is the same on every run.

    python tools/generate_scans.py --out bench/scans --per 6           # the bench corpus (72 documents)
    python tools/generate_scans.py --out /tmp/s --per 1 --only rotate   # one document
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parent.parent
GENERATED = REPO / "tests" / "fixtures" / "generated"
FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
DEGRADATIONS = ("clean", "rotate", "blur", "jpeg", "salt", "dpi150", "dpi300", "stamp", "mixed", "wrapper",
                "image_tables", "scanned_pages")
# Sources with ruled tables (the layouts scans of these reports have); both templates.
SOURCES = (
    "gen-002-rl-emb-grid-2019", "gen-024-rl-emb-grid-2021", "gen-001-lo-pdf-2019", "gen-006-lo-pdf-2021",
    "gen-040-rl-emb-grid-2019", "gen-025-rl-cid-grid-2021", "gen-013-lo-pdf-tblheader-2019",
    "gen-022-lo-pdf-tblheader-2021", "gen-010-rl-emb-fakebold-2019", "gen-029-rl-emb-fakebold-2021",
    "gen-017-rl-emb-split-2019", "gen-034-rl-emb-split-2021", "gen-026-lo-pdf-2019", "gen-037-lo-pdf-2021",
)


# --------------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------------

def render(src: Path, dpi: int, colour: bool = False) -> list[Image.Image]:
    """Render every page of a PDF at ``dpi`` (grey, or RGB for colour scans)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(src))
    try:
        return [pdf[i].render(scale=dpi / 72).to_pil().convert("RGB" if colour else "L") for i in range(len(pdf))]
    finally:
        pdf.close()


def seal(img: Image.Image, rng: random.Random, dpi: int, centre: tuple[float, float] | None = None) -> None:
    """Draw a red official seal (ring, star, arc of text) over the image, in place (RGB)."""
    d = ImageDraw.Draw(img, "RGBA")
    r = rng.uniform(0.75, 0.95) * dpi  # about 4-5 cm across
    cx, cy = centre or (rng.uniform(0.3, 0.75) * img.width, rng.uniform(0.2, 0.8) * img.height)
    red = (220, rng.randint(20, 60), rng.randint(20, 60), rng.randint(150, 200))
    w = max(3, round(dpi / 40))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=w)
    star = [(cx + (0.3 * r if k % 2 == 0 else 0.12 * r) * math.sin(k * math.pi / 5),
             cy - (0.3 * r if k % 2 == 0 else 0.12 * r) * math.cos(k * math.pi / 5)) for k in range(10)]
    d.polygon(star, fill=red)
    font = ImageFont.truetype(FONT, round(r * 0.22))
    text = "政府信息公开专用章"
    for k, ch in enumerate(text):
        a = math.radians(-120 + 240 * k / (len(text) - 1))
        x, y = cx + 0.7 * r * math.sin(a), cy - 0.7 * r * math.cos(a)
        d.text((x, y), ch, fill=red, font=font, anchor="mm")


def salt(img: Image.Image, rng: random.Random, share: float) -> Image.Image:
    """Salt-and-pepper noise: ``share`` of the pixels set to white or black."""
    out = img.copy()
    px = out.load()
    assert px is not None
    n = int(share * img.width * img.height)
    white = 255 if img.mode == "L" else (255, 255, 255)
    black = 0 if img.mode == "L" else (0, 0, 0)
    for _ in range(n):
        px[rng.randrange(img.width), rng.randrange(img.height)] = white if rng.random() < 0.5 else black
    return out


def jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def degrade(img: Image.Image, spec: dict[str, Any], rng: random.Random) -> Image.Image:
    """Apply a drawn degradation spec to one page image (seal, rotation, blur, noise; JPEG is applied when
    the page is written)."""
    dpi = spec["dpi"]
    if spec.get("seals"):
        img = img.convert("RGB")
        for _ in range(spec["seals"]):
            seal(img, rng, dpi)
    if spec.get("angle"):
        fill = 255 if img.mode == "L" else (255, 255, 255)
        img = img.rotate(spec["angle"], resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
    if spec.get("blur"):
        img = img.filter(ImageFilter.GaussianBlur(spec["blur"] * dpi / 200))
    if spec.get("salt"):
        img = salt(img, rng, spec["salt"])
    return img


def draw_spec(kind: str, rng: random.Random) -> dict[str, Any]:
    """The parameters of one degradation, drawn from ``rng``."""
    spec: dict[str, Any] = {"kind": kind, "dpi": 200, "quality": 80}
    if kind == "rotate":
        spec["angle"] = round(rng.choice((-1, 1)) * rng.uniform(1.0, 3.0), 2)
    elif kind == "blur":
        spec["blur"] = round(rng.uniform(0.9, 1.5), 2)
    elif kind == "jpeg":
        spec["quality"] = rng.randint(30, 40)
    elif kind == "salt":
        spec["salt"] = round(rng.uniform(0.003, 0.01), 4)
    elif kind in ("dpi150", "dpi300"):
        spec["dpi"] = int(kind[3:])
    elif kind == "stamp":
        spec["seals"] = rng.randint(1, 2)
    elif kind == "mixed":
        spec.update(angle=round(rng.uniform(-3.0, 3.0), 2), blur=round(rng.uniform(0.5, 1.2), 2),
                    quality=rng.randint(30, 80), salt=round(rng.uniform(0.001, 0.006), 4),
                    dpi=rng.choice((150, 200, 250, 300)), seals=1)
    elif kind in ("image_tables", "scanned_pages"):
        spec["quality"] = rng.randint(60, 85)
    return spec


# --------------------------------------------------------------------------------------------
# PDFs
# --------------------------------------------------------------------------------------------

def _canvas(buf: io.BytesIO) -> Any:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(buf, invariant=1, pageCompression=1)
    c.setProducer("scanner")
    return c


def _image(c: Any, data: bytes, x: float, y: float, w: float, h: float) -> None:
    from reportlab.lib.utils import ImageReader

    c.drawImage(ImageReader(io.BytesIO(data)), x, y, width=w, height=h)


def scan_pdf(src: Path, spec: dict[str, Any], rng: random.Random) -> bytes:
    """Every page of ``src`` as a degraded page image (one JPEG per page, no text layer)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(src))
    sizes = [(float(pdf[i].get_width()), float(pdf[i].get_height())) for i in range(len(pdf))]
    pdf.close()
    imgs = render(src, spec["dpi"], colour=bool(spec.get("seals")))
    buf = io.BytesIO()
    c = _canvas(buf)
    for (w, h), img in zip(sizes, imgs):
        c.setPageSize((w, h))
        data = jpeg(degrade(img, spec, rng), spec["quality"])
        if spec["kind"] == "wrapper":
            # A phone-scanner PDF: the page image inside a form XObject, shrunk to 70 % with a margin (under
            # half the page area), and the page number as the only text.
            name = f"page{c.getPageNumber()}"
            c.beginForm(name)
            _image(c, data, 0.15 * w, 0.15 * h, 0.7 * w, 0.7 * h)
            c.endForm()
            c.doForm(name)
            c.setFont(_font(), 9)
            c.drawCentredString(w / 2, 30, f"- {c.getPageNumber()} -")
        else:
            _image(c, data, 0, 0, w, h)
        c.showPage()
    c.save()
    return buf.getvalue()


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "WQYZenHei" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQYZenHei", FONT, subfontIndex=0))
    return "WQYZenHei"


def _table_boxes(page: Any) -> list[tuple[float, float, float, float]]:
    """The bounding boxes (x0, top, x1, bottom) of a page's ruled tables, a little enlarged."""
    return [(t.bbox[0] - 2, t.bbox[1] - 2, t.bbox[2] + 2, t.bbox[3] + 2) for t in page.find_tables()]


def born_digital_pdf(src: Path, spec: dict[str, Any], rng: random.Random) -> bytes:
    """``image_tables``: the prose as text (re-drawn character by character), every ruled table as a JPEG
    picture of it. ``scanned_pages``: pages with a table become whole-page scans, the others stay text."""
    import pdfplumber

    dpi = spec["dpi"]
    imgs = render(src, dpi)
    font = _font()
    buf = io.BytesIO()
    c = _canvas(buf)
    with pdfplumber.open(src) as pdf:
        for page, img in zip(pdf.pages, imgs):
            w, h = float(page.width), float(page.height)
            c.setPageSize((w, h))
            boxes = _table_boxes(page)
            if boxes and spec["kind"] == "scanned_pages":
                _image(c, jpeg(img, spec["quality"]), 0, 0, w, h)
                c.showPage()
                continue
            k = dpi / 72
            for x0, top, x1, bottom in boxes:
                crop = img.crop((round(x0 * k), round(top * k), round(x1 * k), round(bottom * k)))
                _image(c, jpeg(crop, spec["quality"]), x0, h - bottom, x1 - x0, bottom - top)
            for ch in page.dedupe_chars().chars:
                cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
                if not ch["text"].strip() or any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes):
                    continue
                size = float(ch["size"])
                c.setFont(font, size)
                c.drawString(float(ch["x0"]), h - float(ch["bottom"]) + 0.12 * size, ch["text"])
            c.showPage()
    c.save()
    return buf.getvalue()


def make_document(src_stem: str, kind: str, rng: random.Random, generated: Path = GENERATED
                  ) -> tuple[bytes, dict[str, Any]]:
    """Return the PDF bytes and gold JSON of one degraded copy of a generated report."""
    spec = draw_spec(kind, rng)
    src = generated / f"{src_stem}.pdf"
    data = born_digital_pdf(src, spec, rng) if kind in ("image_tables", "scanned_pages") else scan_pdf(src, spec, rng)
    gold = json.loads((generated / f"{src_stem}.json").read_text(encoding="utf-8"))
    # the template version in the source's name ("-2021") is not a year: keep it out of the file name, where
    # it would be taken for the report year (nianbao.segment.meta.year_from_path)
    stem = f"scan-{kind}-{src_stem}".replace("-2019", "-t19").replace("-2021", "-t21")
    gold.update(source_name=stem, variant=f"scan-{kind}", scan={"source": src_stem, **spec})
    return data, gold


def plan(per: int, kinds: Sequence[str], seed: int) -> list[tuple[str, str]]:
    """(source stem, degradation) pairs: ``per`` documents per degradation, sources taken in turn so that
    each degradation gets both templates."""
    rng = random.Random(seed)
    out = []
    for kind in kinds:
        start = rng.randrange(len(SOURCES))  # consecutive sources alternate the 2019 and 2021 templates
        out.extend((SOURCES[(start + i) % len(SOURCES)], kind) for i in range(per))
    return out


def generate(out: Path, per: int, kinds: Sequence[str] = DEGRADATIONS, seed: int = 2026,
             generated: Path = GENERATED) -> list[Path]:
    """Write ``per`` documents per degradation (PDF + gold JSON) to ``out``; return the PDF paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (src_stem, kind) in enumerate(plan(per, kinds, seed)):
        rng = random.Random(f"{seed}-{i}-{kind}-{src_stem}")
        data, gold = make_document(src_stem, kind, rng, generated)
        path = out / f"{gold['source_name']}.pdf"
        path.write_bytes(data)
        path.with_suffix(".json").write_text(json.dumps(gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per", type=int, default=6, help="documents per degradation (default 6)")
    ap.add_argument("--only", nargs="*", choices=DEGRADATIONS, help="only these degradations")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--generated", type=Path, default=GENERATED, help="generated reports with gold JSON")
    a = ap.parse_args(argv)
    paths = generate(a.out, a.per, a.only or DEGRADATIONS, a.seed, a.generated)
    print(f"{len(paths)} documents written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
