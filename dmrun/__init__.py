"""dmrun: a command-line experiment runner for deep learning and classic data mining."""

__version__ = "0.1.0"
