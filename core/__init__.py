"""Domain Shift Lab's engine: scenarios, shifted domains, divergences, training and figures.

Nothing in this package imports streamlit: the pages, the command line (``python -m core``),
the tests and the benchmarks all call the same functions.
"""
