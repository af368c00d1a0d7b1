"""Progress of a batch on the terminal: a bar (reports done/total, rate, ETA) on a TTY, plain lines otherwise.

Mode ``"bar"``: a ``rich`` progress bar on stderr, with the last finished report under it.
Mode ``"lines"``: one line per finished report on stderr (logs, CI, pipes), with done/total, the rate
and the ETA. Mode ``"off"``: nothing. stderr, so that ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Literal, TextIO

Mode = Literal["bar", "lines", "off"]


def choose_mode(enabled: bool, stream: TextIO | None = None) -> Mode:
    """``bar`` on a terminal, ``lines`` otherwise, ``off`` when the setting ``progress`` is false."""
    if not enabled:
        return "off"
    s = stream or sys.stderr
    return "bar" if getattr(s, "isatty", lambda: False)() else "lines"


def _eta(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Given the number of inputs, report each finished one (``advance``) and close at the end."""

    def __init__(self, mode: Mode, total: int, stream: TextIO | None = None) -> None:
        self.mode, self.total, self.done = mode, total, 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        if mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("reports"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                                     console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task("reports", total=total, rate="", last="")

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, line: str, n: int = 1) -> None:
        """``n`` more inputs finished (one, or a chunk read back whole); ``line`` says which and how they ended."""
        self.done += n
        if self.mode == "off":
            return
        rate = self.rate()
        if self.mode == "bar":
            self._bar.update(self._task, advance=n, rate=f"{rate:.2f}/s", last=line[:60])
            return
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        self.stream.write(f"[{self.done}/{self.total}] {line} ({rate:.2f} reports/s, ETA {_eta(left)})\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
