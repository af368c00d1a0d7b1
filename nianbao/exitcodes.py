"""The exit codes of the ``nianbao`` command: one meaning each, documented in docs/reliability.md.

0 means everything was read and published; every other outcome has its own code and one line on stderr
saying what to do.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Every input was read and every report published."""
    INTERNAL_ERROR = 1
    """An unexpected error (a bug): the message and the log say where; published data is unchanged."""
    USAGE = 2
    """Bad arguments or paths (year out of range, missing input, unwritable or nested --out); checked before any work."""
    PARTIAL = 3
    """Published, but some inputs were held back, failed or skipped: see the summary and the reports dataset."""
    NOTHING_PUBLISHED = 4
    """Nothing was published: nothing readable in the input, or the publish was refused; previous data unchanged."""
    PUBLISH_CONFLICT = 5
    """Another run holds the year (or the publish failed on I/O); previous data unchanged; rerun later."""
    INTERRUPTED = 130
    """Cancelled by Ctrl-C / SIGTERM; nothing half-done was published."""
