"""Exception tree and exit codes.

Errors are raised deep in the code with a message that names the failing value, and rendered
once by the CLI as ``error: ...`` and an optional ``hint: ...`` line.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_GATE = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_SIGPIPE = 141


class DmrunError(Exception):
    """Base class of every error dmrun reports to the user without a traceback."""

    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(DmrunError):
    """An invalid config file or command-line value.

    ``details`` contains one rendered entry per problem, so that every problem of one file is
    reported together.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None, details: list[str] | None = None):
        super().__init__(message, hint)
        self.details = details or []


class DataError(DmrunError):
    """A dataset that cannot be read or does not fit the config."""

    exit_code = EXIT_DATA


class TrainerError(DmrunError):
    """A failure while training or evaluating a model."""

    exit_code = EXIT_RUN_FAILED


class RunDirError(DmrunError):
    """A run folder that cannot be created or written."""

    exit_code = EXIT_RUN_FAILED


class DistributedError(DmrunError):
    """A process group that cannot be formed, or a collective that failed because a rank went away."""

    exit_code = EXIT_RUN_FAILED


class PeerFailed(DmrunError):
    """The error of another rank of a distributed run, reported on this rank with that rank's exit code."""

    def __init__(self, rank: int, error_type: str, message: str, hint: str | None, exit_code: int) -> None:
        super().__init__(f"rank {rank}: {message}", hint)
        self.rank = rank
        self.error_type = error_type
        self.original = message
        self.exit_code = exit_code


class GateError(DmrunError):
    """A metric check that did not hold."""

    exit_code = EXIT_GATE


class RunInterrupted(BaseException):
    """Raised by a signal handler to stop a run; carries the exit code (130 or 143).

    It derives from ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
    Exception`` on the way up turns an interrupt into a failure.
    """

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code
