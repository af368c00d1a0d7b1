"""Readers: each turns the bytes of one input format into the document model."""
