"""Data: the 2-D generators and their shifts, the splits, the digits, uploaded tables."""
