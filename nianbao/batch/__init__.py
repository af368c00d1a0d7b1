"""Batch: a batch of report results (year assignment, duplicates, summary) and the result cache keyed by content."""
