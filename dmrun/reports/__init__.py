"""Plots of a finished run and self-contained reports of runs, comparisons and sweeps.

matplotlib is imported only inside the functions that draw, never when this package is imported.
"""
