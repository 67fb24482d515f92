"""The ``dmrun`` script and ``python -m dmrun``.

A Ctrl-C or SIGTERM while Python imports the command-line modules ends the process with exit
code 130 or 143 and the line ``interrupted``, as it does once a command runs. Without this, a
Ctrl-C printed a traceback from the import system and a SIGTERM ended the process silently.
With ``--json``, stdout still gets one document.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from dmrun.errors import EXIT_SIGINT, EXIT_SIGTERM, RunInterrupted


def _terminate(signum: int, frame: object) -> None:
    raise RunInterrupted(EXIT_SIGTERM)


def _open_closed_streams() -> None:
    """Point a closed stdin, stdout or stderr (``>&-``) at the null device.

    Python sets such a stream to None, and the next file dmrun opened would get its number, so
    output meant for the stream could land in a run file.
    """
    for number, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(number)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != number:
                os.dup2(null, number)
                os.close(null)
            if getattr(sys, name) is None:
                setattr(sys, name, open(number, "r" if number == 0 else "w", encoding="utf-8", closefd=False))


def run() -> None:
    """Import the command line and run it (:func:`dmrun.cli.run`)."""
    _open_closed_streams()
    # A run installs its own handler and puts this one back when it ends.
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        from dmrun.cli import run as run_command_line
    except (KeyboardInterrupt, RunInterrupted) as interrupt:
        code = interrupt.exit_code if isinstance(interrupt, RunInterrupted) else EXIT_SIGINT
        sys.stderr.write("interrupted\n")
        if "--json" in sys.argv[1:]:
            error = {"type": "Interrupted", "message": f"interrupted by {'SIGINT' if code == EXIT_SIGINT else 'SIGTERM'}"}
            document = {"run_dir": None, "status": "interrupted", "exit_code": code, "error": {**error, "hint": None, "details": []}}
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        raise SystemExit(code) from None
    run_command_line()
