"""Start many dmrun commands at the same moment, as forks of one process that imported dmrun.

Usage: ``python forked_launch.py COUNT OUTPUT_DIR MODULES DMRUN_ARGS...``. Each child imports
nothing itself, so 50 children start within milliseconds of each other even on two cores;
they then race for run folder names and write their files concurrently. MODULES is a
comma-separated list of modules to import before forking. Each child's stdout and stderr go to
OUTPUT_DIR/<index>.log, and the parent prints the exit codes as one JSON list.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def main() -> None:
    count, output_dir, modules, *arguments = sys.argv[1:]
    import dmrun.cli

    for module in filter(None, modules.split(",")):
        importlib.import_module(module)
    start_read, start_write = os.pipe()
    children = []
    for index in range(int(count)):
        pid = os.fork()
        if pid == 0:
            os.close(start_write)
            os.read(start_read, 1)  # returns once the parent closes its end: every child starts together
            log = os.open(os.path.join(output_dir, f"{index}.log"), os.O_WRONLY | os.O_CREAT, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.argv = ["dmrun", *arguments]
            code = 0
            try:
                dmrun.cli.main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        children.append(pid)
    os.close(start_write)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print(json.dumps(codes))


if __name__ == "__main__":
    main()
