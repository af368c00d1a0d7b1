"""Where output goes: the one test of a local folder versus an object store URI."""

from __future__ import annotations

import os


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Given an output location, return True when it names an object store (``scheme://``, not ``file://``)."""
    s = os.fspath(location)
    return "://" in s and not s.startswith("file://")
