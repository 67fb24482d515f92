"""Saving fitted scikit-learn objects in dmrun's safe format (see ``dmrun.sklearn_format``)."""

from __future__ import annotations

from typing import Any

from dmrun import sklearn_format
from dmrun.errors import TrainerError
from dmrun.rundir import dumps_json, write_atomic
from dmrun.trainers.base import TrainContext


def save_sklearn(obj: Any, context: TrainContext, stem: str) -> list[str]:
    """Write ``model/STEM.json`` and ``model/STEM.npz`` and return their run-relative paths."""
    try:
        description, arrays = sklearn_format.dumps(obj)
    except TypeError as err:
        raise TrainerError(f"cannot save the fitted {stem}: {err}") from None
    write_atomic(context.model_dir / f"{stem}.npz", arrays)
    write_atomic(context.model_dir / f"{stem}.json", description)
    return [f"model/{stem}.json", f"model/{stem}.npz"]


def save_preprocessing(preprocessing: Any, context: TrainContext) -> list[str]:
    """Save the fitted preprocessing pipeline and its column contract."""
    columns = {"input_columns": preprocessing.input_columns, "output_columns": preprocessing.output_columns}
    write_atomic(context.model_dir / "preprocessing.json", dumps_json(columns))
    saved = ["model/preprocessing.json"]
    if preprocessing.pipeline is not None:
        saved += save_sklearn(preprocessing.pipeline, context, "pipeline")
    return saved
