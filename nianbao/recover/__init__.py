"""Recover: table cells run together or lost in the extract (crawler dumps), restored only where the
identities leave exactly one possibility; always flagged."""
