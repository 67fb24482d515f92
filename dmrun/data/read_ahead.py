"""Read a basket file in a forked child while ``dmrun mine`` starts up, and mine it there.

Before it reads its data, ``dmrun mine`` spends a few tenths of a second importing and checking
the config and setting up the run folder. With the pyfim engine the baskets are needed only by
the miner, which runs in a forked child anyway (see ``dmrun.forking``). ``start`` forks that
child at once: it reads the file while the parent does the rest, sends back the summary and
the item counts, and waits for its mining work. The baskets never come back to the parent.

Reading here is an optimisation only. When the dataset the run reads is not the one started
here, or reading fails in the child, the parent reads the file itself, so the results, messages
and exit codes are those of an ordinary read.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, Callable

from dmrun import forking
from dmrun.data.types import Baskets
from dmrun.errors import TrainerError

logger = logging.getLogger(__name__)


class ReadAheadTransactions:
    """Placeholder for ``Baskets.transactions`` while the baskets stay in the child that read them.

    ``len`` gives the number of baskets once they are read. ``call`` and ``run`` send the child
    a function to call on its ``Baskets`` and return the result. Iterating over it is a
    programming error.
    """

    def __init__(self, pid: int, results: int, requests: int, key: tuple) -> None:
        self.pid, self.results, self.requests, self.key = pid, results, requests, key
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        raise TypeError("these baskets are in the process that read them: use call() or run()")

    def receive(self) -> Any:
        return forking.read_message(self.results)

    def call(self, function: Callable[..., Any], arguments: tuple) -> Any:
        """Call ``function(baskets, *arguments)`` in the child and return its result or raise its ``DmrunError``."""
        try:
            forking.send_message(self.requests, (function, arguments, False))
        except BrokenPipeError:
            pass  # the child is gone, so no reply comes
        reply = self.receive()
        if reply is None:
            raise TrainerError("the process that read the baskets ended without a reply")
        return forking.unpack_outcome(reply, "mining")

    def run(
        self,
        function: Callable[..., Any],
        arguments: tuple,
        budget: int,
        over_budget: Callable[[], Exception],
        meanwhile: Callable[[], Any] | None = None,
    ) -> Any:
        """Call ``function(baskets, *arguments)`` in the child as its last work, under the memory budget of ``forking.collect``."""
        global _pending
        try:
            forking.send_message(self.requests, (function, arguments, True))
        except BrokenPipeError:
            pass  # the child is gone: collect reports that it ended without a result
        finally:
            os.close(self.requests)
        if _pending is self:
            _pending = None  # collect reaps the child from here on
        return forking.collect(self.pid, self.results, budget, over_budget, meanwhile)

    def close(self) -> None:
        """Kill the child and wait for it."""
        for fd in (self.results, self.requests):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


_pending: ReadAheadTransactions | None = None


def _key(path: Path, options: dict[str, Any]) -> tuple:
    return (str(Path(path).resolve()), tuple(sorted((name, repr(value)) for name, value in options.items())))


def start(path: Path, options: dict[str, Any], preload: tuple[str, ...] = ()) -> None:
    """Fork a child that reads ``path`` with ``readers.read_baskets(path, **options)``.

    Once it has read the file, the child imports the modules named in ``preload``, which its
    work will need, while it waits. Does nothing without ``os.fork``, or while another child
    is pending.
    """
    global _pending
    if _pending is not None or not forking.fork_available():
        return
    results_read, results_write = os.pipe()
    requests_read, requests_write = os.pipe()
    pid = forking.fork()
    if pid == 0:
        os.close(results_read)
        os.close(requests_write)
        try:
            _serve(Path(path), options, preload, results_write, requests_read)
        finally:
            os._exit(0)
    os.close(results_write)
    os.close(requests_read)
    _pending = ReadAheadTransactions(pid, results_read, requests_write, _key(path, options))


def take(path: Path, options: dict[str, Any]) -> Baskets | None:
    """Return the baskets the pending child read, if it read ``path`` with these options.

    Returns None when no child is pending, when it read another file or used other options, or
    when its reading failed. The caller then reads the file itself. The log records of the
    child's reading are logged here, once the run's log file is open.
    """
    child = _pending  # stays pending while this waits, so that close() ends it on an interrupt
    if child is None:
        return None
    if child.key != _key(path, options):
        logger.debug("read ahead %s, but the run reads %s; reading it now", child.key, _key(path, options))
        close()
        return None
    message = child.receive()
    if not message or message[0] != "read":
        close()
        return None
    _, source, summary, item_counts, child.count, records = message
    for name, level, text in records:
        logging.getLogger(name).log(level, "%s", text)
    return Baskets(transactions=child, source=source, summary=summary, item_counts=item_counts)


def close() -> None:
    """End the pending child, if there is one. The command calls this however it ends."""
    global _pending
    child, _pending = _pending, None
    if child is not None:
        child.close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _serve(path: Path, options: dict[str, Any], preload: tuple[str, ...], results: int, requests: int) -> None:
    """Read the baskets in the child and report them, then run the work the parent sends.

    Each request is a function, its arguments and whether it is the last. The reply to the
    last one is streamed by ``forking.send_result`` for ``forking.collect``, which watches the
    memory it takes. Each earlier one gets a reply of one message.
    """
    capture = _Records()
    dmrun_logger = logging.getLogger("dmrun")
    dmrun_logger.handlers = [capture]
    dmrun_logger.propagate = False
    try:
        from dmrun.data import readers

        baskets = readers.read_baskets(path, **options, coded=True)  # only the miner uses them, and it is faster on codes
    except BaseException:  # noqa: BLE001 - the parent reads the file again and reports the failure itself
        forking.send_message(results, ("failed",))
        return
    counts = dict(baskets.item_counts) if baskets.item_counts is not None else None
    forking.send_message(results, ("read", baskets.source, baskets.summary, counts, len(baskets.transactions), capture.records))
    for module in preload:
        importlib.import_module(module)
    while True:
        request = forking.read_message(requests)
        if request is None:
            return  # the parent read another file or stopped
        function, arguments, last = request
        if last:
            forking.send_result(results, lambda: function(baskets, *arguments))
            return
        forking.send_message(results, forking.outcome(lambda: function(baskets, *arguments)))
