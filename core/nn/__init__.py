"""Batched networks (M models as one tensor program) and their optimiser."""
