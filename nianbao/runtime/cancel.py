"""Cancellation of a running batch (Ctrl-C, SIGTERM): one process-wide flag, checked cooperatively.

Why cooperative: a signal that raises ``KeyboardInterrupt`` at an arbitrary point can land inside
Prefect's state handling or inside the publish, and worker threads keep parsing for minutes while the
interpreter waits for them. Instead the ``nianbao`` command's signal handler calls ``request()``:

* the flag is set, so no task starts parsing another report and the flow raises ``Cancelled`` at its
  next check (after each finished report, and before publishing) — nothing of the batch is published;
* every parsing child process is killed at once (``nianbao.runtime.isolation.kill_busy``), so the reports being
  parsed come back within a fraction of a second instead of at their timeout.

The publish step runs inside ``critical()``: a cancel that arrives while it runs lets it finish (it is
one atomic commit) and the batch stops right after it. This module must not import prefect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Cancelled(Exception):
    """The batch was cancelled (Ctrl-C / SIGTERM) before it published anything."""

    def __init__(self, message: str = "cancelled by a signal (Ctrl-C / SIGTERM) before publishing") -> None:
        super().__init__(message)


_EVENT = threading.Event()
_LOCK = threading.Lock()
_critical = 0
_reason = ""


def request(reason: str = "signal") -> None:
    """Cancel the batch: set the flag and kill every busy parsing child (safe from a signal handler)."""
    global _reason
    _reason = reason
    _EVENT.set()
    from nianbao.runtime.isolation import kill_busy

    kill_busy()


def requested() -> bool:
    """True once ``request()`` was called (until ``reset()``)."""
    return _EVENT.is_set()


def reason() -> str:
    return _reason


def check() -> None:
    """Raise ``Cancelled`` when the batch was cancelled."""
    if _EVENT.is_set():
        raise Cancelled(f"cancelled by {_reason or 'a signal'} before publishing; nothing was published")


def reset() -> None:
    """Clear the flag (a new batch in the same process, e.g. the next test)."""
    global _reason
    _EVENT.clear()
    _reason = ""


def in_critical() -> bool:
    """True while a step that must not be cut (the publish) is running."""
    return _critical > 0


@contextmanager
def critical() -> Iterator[None]:
    """Mark a step that a cancel lets finish (the atomic publish)."""
    global _critical
    with _LOCK:
        _critical += 1
    try:
        yield
    finally:
        with _LOCK:
            _critical -= 1
