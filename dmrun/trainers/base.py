"""The contract every trainer follows.

A trainer module exposes ``fit(config, data, context) -> TrainResult``. ``data`` is the prepared
input named by the trainer's registry entry (``SupervisedData``, ``ClusteringData``,
``SeriesData`` or ``Baskets``). The trainer writes its model into ``context.model_dir`` and its
outputs into ``context.artifacts``; it never reads YAML and never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    """Receives progress from a trainer; the CLI renders it."""

    def epoch(self, epoch: int, epochs: int, values: dict[str, float]) -> None: ...

    def status(self, message: str) -> None: ...


class SilentReporter:
    def epoch(self, epoch: int, epochs: int, values: dict[str, float]) -> None:
        return None

    def status(self, message: str) -> None:
        return None


@dataclass
class Checkpointing:
    """Where a resumable trainer saves its state after each epoch, and the state to resume from.

    ``config_sha256`` identifies the resolved config; a checkpoint of another config is never
    resumed. ``resume_from`` is a loaded checkpoint, or ``None`` to start at the first epoch.
    ``path`` is None on the ranks of a distributed run other than 0, which save nothing.
    """

    path: Path | None
    config_sha256: str
    resume_from: dict[str, Any] | None = None


@dataclass
class TrainContext:
    """Output folders, seed, progress reporter and checkpointing handed to a trainer.

    Trainers without epochs ignore ``checkpointing``. ``distributed`` is the
    ``dmrun.distributed.Session`` of a run under torchrun, and None in one process. On its ranks
    other than 0, ``model_dir`` and ``artifacts`` are None, because only rank 0 writes files.
    """

    model_dir: Path | None
    artifacts: Path | None
    seed: int
    reporter: Reporter = field(default_factory=SilentReporter)
    checkpointing: Checkpointing | None = None
    distributed: Any = None

    @property
    def writes_outputs(self) -> bool:
        """Tell whether this process writes the model and artifacts: rank 0, or the only process."""
        return self.distributed is None or self.distributed.is_main


@dataclass
class TrainResult:
    """What a trainer returns.

    ``metrics`` become ``metrics.json`` and ``history`` rows become ``history.csv``. ``artifacts``
    lists the files written, relative to the run folder. ``table`` is an optional short table
    (a header and rows) that the CLI shows after the metrics, such as the top rules. ``model`` is
    the fitted model for plots that draw it (the decision tree); it is not saved from here.
    """

    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    table: tuple[list[str], list[list[Any]]] | None = None
    headline: list[str] = field(default_factory=list)
    model: Any = None
