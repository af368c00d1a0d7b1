"""Progress on the terminal: a bar (done/total, rate, ETA) on a TTY, one plain line per report otherwise."""

from __future__ import annotations

import io

from flows.progress import Progress, choose_mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_mode_follows_the_stream_and_the_setting() -> None:
    assert choose_mode(True, _Tty()) == "bar"
    assert choose_mode(True, io.StringIO()) == "lines"
    assert choose_mode(False, _Tty()) == "off"


def test_plain_lines_carry_done_total_rate_and_eta() -> None:
    out = io.StringIO()
    p = Progress("lines", 3, out)
    for name in ("a.pdf: ok", "b.txt: skipped (unsupported_format)", "c.html: ok"):
        p.advance(name)
    p.close()
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all("reports/s, ETA " in line for line in lines)
    assert "b.txt: skipped (unsupported_format)" in lines[1]


def test_the_bar_shows_done_total_rate_and_eta() -> None:
    out = _Tty()
    p = Progress("bar", 4, out)
    p.advance("a.pdf: ok")
    p.advance("b.pdf: ok")
    p.close()
    text = out.getvalue()
    assert "2/4" in text and "ETA" in text and "/s" in text


def test_off_writes_nothing() -> None:
    out = io.StringIO()
    p = Progress("off", 2, out)
    p.advance("a: ok")
    p.close()
    assert out.getvalue() == "" and p.done == 1
