"""Saving Spark models: MLlib's own directory format, which loads without unpickling anything."""

from __future__ import annotations

from typing import Any

from dmrun.rundir import dumps_json, write_atomic
from dmrun.trainers.base import TrainContext

MODEL_FOLDER = "spark_model"


def save_pipeline(stages: list[Any], description: dict[str, Any], context: TrainContext) -> list[str]:
    """Save the fitted feature stages and the model as one MLlib ``PipelineModel`` under ``model/spark_model``.

    ``model/model.json`` records the engine, the feature names and, for classifiers, the classes.

    NOTE: MLlib writes the model's data files from the executors, so on a cluster the run folder
    must be on a file system the driver and every executor share.
    """
    from pyspark.ml import PipelineModel

    PipelineModel(stages=stages).write().overwrite().save(str(context.model_dir / MODEL_FOLDER))
    document = {"engine": "spark", "format": "Spark MLlib PipelineModel", "path": MODEL_FOLDER, **description}
    write_atomic(context.model_dir / "model.json", dumps_json(document))
    return [f"model/{MODEL_FOLDER}", "model/model.json"]
