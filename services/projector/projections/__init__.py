"""Projections: pure functions from (document, event) to document. No I/O here."""
