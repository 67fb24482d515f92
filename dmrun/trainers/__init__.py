"""Registry of trainers: algorithm name -> module, imported only when a run needs it.

Registry keys are the YAML ``model.type`` values. Listing the registry imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from dmrun.errors import ConfigError
from dmrun.suggest import closest_hint


@dataclass(frozen=True)
class TrainerEntry:
    name: str
    module: str
    data: str  # what the trainer consumes: "supervised", "clustering", "series" or "baskets"
    summary: str
    # Whether ``fit`` takes SciPy sparse feature matrices (CSC for training, CSR for the others).
    sparse_input: bool = False


TRAINERS: dict[str, TrainerEntry] = {
    entry.name: entry
    for entry in [
        TrainerEntry("mlp", "dmrun.trainers.mlp", "supervised", "multilayer perceptron (torch); alias: nn"),
        TrainerEntry("cnn", "dmrun.trainers.cnn", "supervised", "convolutional network for images (torch)"),
        TrainerEntry(
            "rnn", "dmrun.trainers.rnn", "supervised", "LSTM, GRU or plain RNN: sequences and forecasting (torch)"
        ),
        TrainerEntry("kmeans", "dmrun.trainers.kmeans", "clustering", "k-means clustering (scikit-learn or Spark MLlib)"),
        TrainerEntry(
            "tree",
            "dmrun.trainers.tree",
            "supervised",
            "decision tree classifier or regressor (scikit-learn or Spark MLlib)",
            sparse_input=True,
        ),
        TrainerEntry(
            "rules", "dmrun.trainers.rules", "baskets", "frequent itemsets and association rules (pyfim, mlxtend or Spark MLlib)"
        ),
    ]
}
ALIASES = {"nn": "mlp"}


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def get_entry(name: str) -> TrainerEntry:
    """Return the registry entry for ``name``, or raise a ``ConfigError`` with the closest match."""
    entry = TRAINERS.get(canonical_name(name))
    if entry is None:
        raise ConfigError(f"unknown algorithm '{name}'", hint=closest_hint(name, sorted(TRAINERS), "algorithms"))
    return entry


def load_trainer(name: str) -> ModuleType:
    """Import and return the module that implements ``fit`` for algorithm ``name``."""
    return importlib.import_module(get_entry(name).module)
