"""Divergences between domains and the shift report: numbers, never plots."""
