"""Extract: grid rows of the document to keyed cells of the three statistical tables (label-first mapping, run-together recovery)."""
