"""The ``dmrun`` script and ``python -m dmrun``.

A Ctrl-C while Python imports the command-line modules ends the process with exit code 130
and one line, as it does once a command runs, instead of a traceback from the import system.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command line and run it (:func:`dmrun.cli.run`)."""
    try:
        from dmrun.cli import run as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    run_command_line()
