"""Training checkpoints of the torch trainers, for ``dmrun train --resume``.

A checkpoint is written atomically after every completed epoch. It contains only tensors,
numbers, strings, lists and dicts, so it loads with ``torch.load(..., weights_only=True)`` and
never unpickles arbitrary objects. Random states are stored as tensors for the same reason.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dmrun.errors import RunDirError
from dmrun.rundir import write_atomic

CHECKPOINT_VERSION = 1


def capture_random_state(generator: torch.Generator) -> dict[str, Any]:
    """Capture the Python, NumPy and torch random states and the batch-order generator's state."""
    version, python_state, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    state = {
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "batch_order": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore the states that ``capture_random_state`` captured."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    generator.set_state(state["batch_order"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"version": CHECKPOINT_VERSION, **state}, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``.

    Raises:
        RunDirError: when the file is damaged, holds objects other than tensors and plain data,
            or was written by another checkpoint version.
    """
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any load failure means a damaged or tampered file
        raise RunDirError(f"cannot load checkpoint {path}: {err}", hint="the run cannot be resumed from it") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise RunDirError(f"checkpoint {path} is not a dmrun checkpoint of version {CHECKPOINT_VERSION}")
    return state
