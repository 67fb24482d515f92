"""Work done in a forked child process, its result sent back through a pipe.

Rule mining runs in a child: pyfim's C code never returns to Python until it is done, so
neither a signal nor a memory check could reach it in the ``dmrun`` process. The parent polls
the memory the child adds and kills it past a budget. ``dmrun.trainers.rules.run_bounded``
forks such a child for one piece of work; ``dmrun.data.read_ahead`` forks one that reads a
basket file first and is given its work later.

Messages are pickled, and only ever unpickled from a child this process forked.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
from typing import Any, Callable

from dmrun.errors import DmrunError, TrainerError

# prctl option that names the signal a process gets when its parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1
# Seconds between two checks of the child's memory.
POLL_SECONDS = 0.05
_LENGTH = struct.Struct("<Q")


def fork_available() -> bool:
    """Tell whether work can run in a forked child whose memory this process can watch."""
    return hasattr(os, "fork") and os.path.exists("/proc/self/statm")


def resident_bytes(pid: int) -> int:
    """Return the resident memory of process ``pid``, or 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def fork() -> int:
    """Fork as ``os.fork`` does, and set up the child with ``in_child``."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        in_child(parent)
    return pid


def in_child(parent: int) -> None:
    """Set up a new child of process ``parent``: SIGINT and SIGTERM end it at once, and so does the parent's end.

    On Linux the kernel sends the child SIGKILL when its parent ends, however it ends, so a
    killed ``dmrun`` leaves no child reading or mining on its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        pass  # no prctl outside Linux: the parent's cleanup is all there is
    if os.getppid() != parent:
        os._exit(1)  # the parent ended before the signal was set up


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send_message(fd: int, value: Any) -> None:
    """Write one length-prefixed pickled message, for ``read_message`` on the other end."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    write_all(fd, _LENGTH.pack(len(payload)) + payload)


def read_exactly(fd: int, size: int) -> bytes | None:
    """Read ``size`` bytes, or return None if the pipe ends first."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> Any:
    """Read one message written by ``send_message``; None if the pipe ends before it is whole."""
    header = read_exactly(fd, _LENGTH.size)
    if header is None:
        return None
    payload = read_exactly(fd, _LENGTH.unpack(header)[0])
    return None if payload is None else pickle.loads(payload)  # from our own child, never from elsewhere


def outcome(work: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``work`` and return ``("ok", result)``, ``("raise", error)`` or ``("error", text)`` for ``unpack_outcome``.

    A ``DmrunError`` travels whole, so the parent raises it with its message, hint and exit
    code. Any other failure travels as text.
    """
    try:
        return "ok", work()
    except DmrunError as err:
        return "raise", err
    except BaseException as err:  # noqa: BLE001 - every failure is reported to the parent
        return "error", f"{type(err).__name__}: {err}"


def unpack_outcome(result: tuple[str, Any], task: str) -> Any:
    """Return the result of an ``outcome``, or raise its error (as a ``TrainerError`` when it is not a ``DmrunError``)."""
    kind, value = result
    if kind == "raise":
        raise value
    if kind != "ok":
        raise TrainerError(f"{task} failed: {value}")
    return value


def send_result(fd: int, work: Callable[[], Any]) -> None:
    """Run ``work`` in the child, write its ``outcome`` to ``fd`` and close it."""
    payload = pickle.dumps(outcome(work), protocol=pickle.HIGHEST_PROTOCOL)
    write_all(fd, payload)
    os.close(fd)


def collect(
    pid: int,
    fd: int,
    budget: int,
    over_budget: Callable[[], Exception],
    meanwhile: Callable[[], Any] | None = None,
    task: str = "mining",
) -> Any:
    """Wait for the result ``send_result`` writes in child ``pid``, and return it.

    The child is killed once it has added more than ``budget`` bytes of resident memory to what
    it had when this was called, and ``over_budget()`` is raised. A SIGINT or SIGTERM in the
    parent kills it too. ``meanwhile`` is called first, while the child works.
    """
    chunks: list[bytes] = []
    start = resident_bytes(pid)
    peak = 0
    status = None
    try:
        if meanwhile is not None:
            meanwhile()
        while True:
            readable, _, _ = select.select([fd], [], [], POLL_SECONDS)
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            peak = max(peak, resident_bytes(pid) - start)
            if peak > budget:
                raise over_budget()
    finally:
        os.close(fd)
        if not chunks or peak > budget:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    if not chunks:
        cause = f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit status {os.waitstatus_to_exitcode(status)}"
        raise TrainerError(
            f"{task} failed: its process ended without a result ({cause})",
            hint="the machine may have run out of memory. A higher support (--support) or --max-len needs less",
        )
    return unpack_outcome(pickle.loads(b"".join(chunks)), task)  # written by send_result in our own child
