"""Saving fitted scikit-learn objects in skops format, which checks types when loading."""

from __future__ import annotations

from typing import Any

from dmrun.rundir import dumps_json, write_atomic
from dmrun.trainers.base import TrainContext


def save_skops(obj: Any, context: TrainContext, filename: str) -> str:
    # NOTE: importing skops.io took 9 s on a 2-core machine, because it scans every scikit-learn
    # module and so imports torch through scikit-learn's array-API shims. Tree and k-means runs
    # pay this on every save.
    import skops.io

    write_atomic(context.model_dir / filename, skops.io.dumps(obj))
    return f"model/{filename}"


def save_preprocessing(preprocessing: Any, context: TrainContext) -> list[str]:
    """Save the fitted preprocessing pipeline and its column contract."""
    columns = {"input_columns": preprocessing.input_columns, "output_columns": preprocessing.output_columns}
    write_atomic(context.model_dir / "preprocessing.json", dumps_json(columns))
    saved = ["model/preprocessing.json"]
    if preprocessing.pipeline is not None:
        saved.append(save_skops(preprocessing.pipeline, context, "preprocessing.skops"))
    return saved
