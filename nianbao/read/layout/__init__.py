"""The layout engine: characters and ruling lines of a page into tables and text blocks.

Shared by the PDF reader (characters and rules from the text layer, ``nianbao.read.pdf``) and the OCR
reader (characters from RapidOCR, rules from the pixels, ``nianbao.read.ocr``); neither knows how the
other made its input. Everything is in PDF points, top-down (y grows downwards). Pure: no I/O.

The interface, in the order a reader uses it:

- ``Char`` (one glyph with its box and font size) and ``Rule`` (one ruling-line piece); ``cluster``
  is the chain clustering used throughout (sorted values, a new cluster at each gap over a tolerance);
  ``merge_rules`` snaps rules at nearly the same position together and joins collinear pieces;
  ``find_lattices`` finds the ruled tables (``Lattice`` of ``LatticeCell``) among merged rules;
  ``SNAP`` / ``TOUCH`` are its tolerances (points), for readers that need to know which pixels a
  table's rules cover.
- ``layout_page(chars, hs, vs, page_no, height, problems, carry)`` lays out one page: characters
  in ruled-table cells make lattice grids (``lattice``), the rest visual lines (``lines``), of which
  runs with numbers make unruled-table grids; page numbers in the margins are dropped. It returns a
  ``PageLayout``; its ``carry`` goes into the next page's call (the value columns of an unruled table
  running on).
- ``assemble(pages, title, problems, n_pages, ocr)`` turns the laid-out pages into the ``Document``
  (``document``): running headers dropped, ruled tables continued over pages given one column system,
  visual lines joined into paragraphs.
"""

from nianbao.read.layout.chars import Char, cluster
from nianbao.read.layout.document import assemble
from nianbao.read.layout.lattice import SNAP, TOUCH, Lattice, LatticeCell, Rule, find_lattices, merge_rules
from nianbao.read.layout.page import PageLayout, layout_page

__all__ = ["SNAP", "TOUCH", "Char", "Lattice", "LatticeCell", "PageLayout", "Rule", "assemble", "cluster",
           "find_lattices", "layout_page", "merge_rules"]
