"""Data-parallel training of the torch trainers under torchrun.

torchrun starts one process per rank and describes it in the environment: ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``GROUP_WORLD_SIZE`` (the number of
nodes), ``MASTER_ADDR`` and ``MASTER_PORT``. With a world of two or more processes, dmrun joins
the process group (gloo on the CPU, NCCL on GPUs) and trains with DistributedDataParallel.
Rank 0 alone owns the run folder. The other ranks write nothing and report their errors to
rank 0 through the rendezvous store, so the run folder records the error of whichever rank
failed first.

This module imports torch only inside ``Session``, so the CLI can read the environment cheaply.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator, Mapping

from dmrun.errors import EXIT_SIGINT, EXIT_SIGTERM, ConfigError, DistributedError, DmrunError, PeerFailed, RunInterrupted

# How long ranks wait for each other in the process group before giving up (seconds).
DEFAULT_TIMEOUT_S = 600
TORCH_ALGORITHMS = ("mlp", "cnn", "rnn")
FAILURE_KEY = "dmrun/failure/"
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class RankEnvironment:
    """The rank and sizes of this process's place among the processes torchrun started."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    nnodes: int


def rank_environment(environ: Mapping[str, str] | None = None) -> RankEnvironment | None:
    """Read the torchrun variables; return None outside torchrun or for a world of one process.

    Raises:
        ConfigError: when a variable is not a whole number or the rank is outside the world.
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return None
    values = {}
    for name in RANK_VARIABLES:
        text = environ.get(name, "0" if name in ("RANK", "LOCAL_RANK") else environ["WORLD_SIZE"])
        try:
            values[name] = int(text)
        except ValueError:
            raise ConfigError(f"environment variable {name} is {text!r}, not a whole number", hint="start dmrun with torchrun") from None
    world_size = values["WORLD_SIZE"]
    if world_size <= 1:
        return None
    if not 0 <= values["RANK"] < world_size:
        raise ConfigError(f"environment variable RANK is {values['RANK']}, outside the world of {world_size} processes")
    local_world_size = max(1, values["LOCAL_WORLD_SIZE"])
    nnodes = int(environ.get("GROUP_WORLD_SIZE") or max(1, world_size // local_world_size))
    return RankEnvironment(values["RANK"], values["LOCAL_RANK"], world_size, local_world_size, nnodes)


def reject_under_torchrun(command: str) -> None:
    """Reject a command that works in one process when torchrun started several.

    Every rank would otherwise run the whole command and write a run folder of its own.

    Raises:
        ConfigError: on rank 0 under torchrun with more than one process.
        SystemExit: with exit code 2 on the other ranks, which print nothing.
    """
    environment = rank_environment()
    if environment is not None and environment.rank != 0:
        raise SystemExit(2)  # rank 0 reports it, so the message is printed once
    if environment is not None:
        raise ConfigError(
            f"dmrun {command} runs in one process, but torchrun started {environment.world_size}",
            hint=f"run `dmrun {command}` without torchrun; only `dmrun train` of mlp, cnn and rnn uses several processes",
        )


def check_distributable(algorithm: str, batch_size: int | None, world_size: int) -> None:
    """Reject a config that cannot train on ``world_size`` processes.

    Raises:
        ConfigError: for an algorithm other than mlp, cnn and rnn, or a ``train.batch_size``
            that the processes cannot share equally.
    """
    if world_size <= 1:
        return
    if algorithm not in TORCH_ALGORITHMS:
        raise ConfigError(
            f"model type '{algorithm}' cannot train on {world_size} processes; only mlp, cnn and rnn train under torchrun",
            hint=f"train {algorithm} in one process: drop --nproc, or run `dmrun train` without torchrun",
        )
    if batch_size is not None and batch_size % world_size != 0:
        lower = batch_size - batch_size % world_size
        raise ConfigError(
            f"train.batch_size {batch_size} cannot be shared by {world_size} processes: "
            "it is the global batch, and each process takes an equal part of it",
            hint=f"set train.batch_size to a multiple of {world_size}, such as {lower or world_size} or {lower + world_size}",
        )


def threads_per_rank(local_world_size: int) -> int:
    """Return the CPU cores of this machine divided among the ranks on it, at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, local_world_size))


class Session:
    """This process's membership of the process group, and the collectives dmrun uses.

    Every collective is called by all ranks in the same order. A collective that fails because
    another rank went away raises ``DistributedError``.
    """

    def __init__(self, environment: RankEnvironment, backend: str, device: str, timeout_s: float) -> None:
        self.environment = environment
        self.backend = backend
        self.device = device
        self.timeout_s = timeout_s
        self._signals: list[int] = []
        self.ignoring_signals = False

    @property
    def rank(self) -> int:
        return self.environment.rank

    @property
    def world_size(self) -> int:
        return self.environment.world_size

    @property
    def is_main(self) -> bool:
        return self.environment.rank == 0

    @classmethod
    def start(cls, environment: RankEnvironment, device_setting: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Session:
        """Join the process group: NCCL on ``cuda:LOCAL_RANK`` when the run uses CUDA, gloo otherwise.

        Raises:
            ConfigError: when CUDA is requested but missing, or this node has fewer GPUs than ranks.
            DistributedError: when the process group cannot be formed within ``timeout_s``.
        """
        import torch
        import torch.distributed as dist

        backend, device = "gloo", "cpu"
        # NOTE: the NCCL path has not been run: the test suite and the figures are CPU and gloo only.
        if device_setting == "cuda" or (device_setting == "auto" and torch.cuda.is_available()):
            backend, device = "nccl", _cuda_device(environment.local_rank)
            torch.cuda.set_device(device)
        torch.set_num_threads(threads_per_rank(environment.local_world_size))
        try:
            dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
        except Exception as err:  # noqa: BLE001 - rendezvous failures come as several exception types
            raise DistributedError(
                f"cannot join the process group of {environment.world_size} processes ({backend}): {err}",
                hint="start every rank with the same torchrun rendezvous options (MASTER_ADDR, MASTER_PORT)",
            ) from None
        return cls(environment, backend, device, timeout_s)

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()

    def describe(self) -> dict[str, Any]:
        """Return the entry that ``run.json`` records under ``distributed``."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "nnodes": self.environment.nnodes,
            "local_world_size": self.environment.local_world_size,
        }

    # --- collectives ------------------------------------------------------------------------

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """Return the element-wise sum of ``values`` over all ranks."""
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        with self._collective("all_reduce"):
            dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value: Any) -> list[Any] | None:
        """Return the values of all ranks, in rank order, on rank 0, and None on the others."""
        import torch.distributed as dist

        gathered = [None] * self.world_size if self.is_main else None
        with self._collective("gather_object"):
            dist.gather_object(value, gathered, dst=0)
        return gathered

    def broadcast(self, value: Any = None) -> Any:
        """Return rank 0's ``value`` on every rank."""
        import torch.distributed as dist

        box = [value]
        with self._collective("broadcast_object_list"):
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def share_outcome(self, error: BaseException | None, value: Any = None) -> Any:
        """Send rank 0's result or error to every rank; the others get the value or raise ``PeerFailed``.

        Rank 0 calls it with the error that stopped it, or with None and the value to share.
        """
        message = {"error": _describe_error(error, 0)} if error is not None else {"value": value}
        received = self.broadcast(message if self.is_main else None)
        if "error" in received and not self.is_main:
            raise _peer_failed(received["error"])
        return received.get("value")

    def agree(self, error: BaseException | None, facts: dict[str, Any]) -> None:
        """Check that every rank got this far without an error and with the same ``facts``.

        Raises:
            The local ``error`` when this rank has the lowest failing rank.
            ``PeerFailed`` with that rank's message when another rank failed first.
            ``ConfigError`` when a rank's facts (config and data fingerprints) differ from rank 0's.
        """
        import torch.distributed as dist

        status = {"error": _describe_error(error, self.rank) if error is not None else None, "facts": facts}
        statuses: list[Any] = [None] * self.world_size
        with self._collective("all_gather_object"):
            dist.all_gather_object(statuses, status)
        failures = [item["error"] for item in statuses if item["error"] is not None]
        if failures:
            if error is not None and failures[0]["rank"] == self.rank:
                raise error
            raise _peer_failed(failures[0])
        for rank, item in enumerate(statuses):
            differing = sorted(key for key in facts if item["facts"].get(key) != statuses[0]["facts"].get(key))
            if differing:
                raise ConfigError(
                    f"rank {rank} has another {' and '.join(differing)} than rank 0",
                    hint="give every node the same config file and the same data file",
                )

    @contextlib.contextmanager
    def _collective(self, name: str) -> Iterator[None]:
        try:
            yield
        except RuntimeError as err:
            raise DistributedError(f"{name} failed, so another rank stopped or cannot be reached: {err}") from None

    # --- failures and signals ---------------------------------------------------------------

    def publish_failure(self, error: BaseException) -> None:
        """Leave this rank's error in the rendezvous store, where rank 0 looks for it."""
        store = _default_store()
        if store is None or isinstance(error, PeerFailed):
            return
        with contextlib.suppress(Exception):
            store.set(f"{FAILURE_KEY}{self.rank}", json.dumps(_describe_error(error, self.rank)))

    def peer_failure(self, wait_s: float = 1.0) -> PeerFailed | None:
        """Return the error that the lowest failing other rank published, waiting up to ``wait_s``."""
        store = _default_store()
        if store is None:
            return None
        deadline = time.monotonic() + wait_s
        while True:
            for rank in range(1, self.world_size):
                key = f"{FAILURE_KEY}{rank}"
                try:
                    if store.check([key]):
                        return _peer_failed(json.loads(store.get(key)))
                except Exception:  # noqa: BLE001 - the store goes away with torchrun's agent
                    return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def ignore_signals(self) -> None:
        """Ignore SIGINT and SIGTERM from now until the process exits (see ``ignoring_signals``)."""
        self.ignoring_signals = True
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)

    @contextlib.contextmanager
    def deferred_interrupts(self) -> Iterator[None]:
        """Record SIGINT and SIGTERM instead of raising, so that all ranks stop at the same step.

        The training loop passes ``pending_interrupts()`` through an all-reduce at every step.
        A signal that arrives after the last step is raised when the block ends.
        """

        def record(signum: int, frame: Any) -> None:
            self._signals.append(signum)

        previous = {signum: signal.signal(signum, record) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self._signals:
            raise RunInterrupted(self.interrupt_code([0.0, float(signal.SIGINT in self._signals), float(signal.SIGTERM in self._signals)]))

    def pending_interrupts(self) -> list[float]:
        """Return [SIGINT seen, SIGTERM seen] as numbers to add to a step's all-reduce."""
        return [float(signal.SIGINT in self._signals), float(signal.SIGTERM in self._signals)]

    @staticmethod
    def interrupt_code(totals: list[float]) -> int:
        """Return the exit code for the summed [loss, SIGINT, SIGTERM] of a step, or 0 for none."""
        if totals[2] > 0:
            return EXIT_SIGTERM
        return EXIT_SIGINT if totals[1] > 0 else 0


def _cuda_device(local_rank: int) -> str:
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but CUDA is not available", hint="use device: auto or cpu")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(
            f"LOCAL_RANK is {local_rank} but this node has {count} GPU(s)",
            hint=f"start at most {count} processes per node (torchrun --nproc-per-node {count})",
        )
    return f"cuda:{local_rank}"


def _default_store() -> Any:
    """Return the store of the default process group, or None when there is none."""
    try:
        from torch.distributed import distributed_c10d

        return distributed_c10d._get_default_store()  # noqa: SLF001 - the only handle to the rendezvous store
    except Exception:  # noqa: BLE001 - no process group, or a torch without this helper
        return None


def _describe_error(error: BaseException, rank: int) -> dict[str, Any]:
    if isinstance(error, PeerFailed):
        return {"rank": error.rank, "type": error.error_type, "message": error.original, "hint": error.hint, "exit_code": error.exit_code}
    if isinstance(error, DmrunError):
        return {"rank": rank, "type": type(error).__name__, "message": error.message, "hint": error.hint, "exit_code": error.exit_code}
    if isinstance(error, RunInterrupted):
        return {"rank": rank, "type": "RunInterrupted", "message": "interrupted", "hint": None, "exit_code": error.exit_code}
    return {"rank": rank, "type": type(error).__name__, "message": f"{type(error).__name__}: {error}", "hint": None, "exit_code": 1}


def _peer_failed(described: dict[str, Any]) -> PeerFailed:
    return PeerFailed(
        described["rank"], described["type"], described["message"], described.get("hint"), int(described["exit_code"])
    )
