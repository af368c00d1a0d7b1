"""Validate: the template identities, text-versus-table checks and the OCR gate. Each returns problems; none alters a printed number."""
