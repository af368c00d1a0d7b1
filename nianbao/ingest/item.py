"""One input of a batch (``SourceItem``): what every source (folder walk, manifest, file, URL) yields and every
later step reads. A module of its own so that the walk, the local reader and the manifest reader all build on it
without importing each other in a circle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceItem:
    """One input: its URI (local path or http(s) URL) and what a manifest says about it.

    ``refused`` is set (the reason) for a manifest entry that must not be read; such an item is
    recorded as a failed report (``refused_source``) so every manifest row is accounted for.
    """

    uri: str
    agency: str | None = None
    region: str | None = None
    year: int | None = None
    published_at: str | None = None
    refused: str | None = None
    skip: str | None = None  # why it is not read (code: not_regular_file, symlink_loop, hidden, ...)
    note: str | None = None  # the reason in words, for a skipped item
    sniff: bool = False  # found in a folder under a name that is not a report's: sniff the bytes first
