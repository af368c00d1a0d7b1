"""Ingest: where the inputs come from (folders, files, manifests) and fetching them (HTTP with retries, into a content-addressed store)."""
