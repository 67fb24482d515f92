"""Apply a finished run's fitted preprocessing and model to new rows.

Loading never unpickles arbitrary objects: torch weights load with ``weights_only=True``, and
scikit-learn objects load from dmrun's JSON and NumPy format, which builds only the types dmrun
writes (``dmrun.sklearn_format``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dmrun import sklearn_format
from dmrun.config.schema import DatasetConfig, ExperimentConfig
from dmrun.errors import ConfigError, DataError, RunDirError

SUPPORTED = ("mlp", "nn", "cnn", "rnn", "tree", "kmeans")

logger = logging.getLogger(__name__)


@dataclass
class Predictions:
    """Predicted values in original labels, class probabilities, and metrics when targets were given."""

    frame: Any  # pandas.DataFrame with a `prediction` (or `cluster`) column and probabilities
    metrics: dict[str, Any] | None


def _read_run_config(run: Path) -> ExperimentConfig:
    try:
        data = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
        return ExperimentConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValueError) as err:
        raise RunDirError(f"cannot read the config of run {run}: {err}") from None


def read_new_table(config: ExperimentConfig, data_path: Path, labels_path: Path | None = None):
    """Read new data with the run's dataset options, as ``predict_run`` adjusted them for the new file.

    The run's ``labels`` file is not read. An IDX or .npy file of images or features gets its
    labels from ``labels_path`` when given, as a ``label`` column, and no row sample is drawn.

    Raises:
        ConfigError: for a missing data or labels file, or labels given for another format.
    """
    from dmrun.data import read_file
    from dmrun.data.types import Table

    check_data_file(data_path)
    dataset = config.dataset.model_copy(update={"name": None, "path": str(data_path), "labels": None})
    if labels_path is not None:
        dataset = dataset.model_copy(update={"labels": str(check_labels_file(dataset, data_path, labels_path))})
    table = read_file(data_path, dataset, data_path.parent, seed=None)
    if not isinstance(table, Table):
        raise DataError(f"{data_path.name} was read as basket data, but the model needs a table")
    return table


def check_data_file(data_path: Path) -> None:
    """Raise ``ConfigError`` unless DATA is an existing file."""
    if not data_path.is_file():
        problem = "is a folder, not a file" if data_path.is_dir() else "not found"
        raise ConfigError(f"data file {problem}: {data_path}", hint="check the path; it is relative to the current folder")


def check_labels_file(dataset: DatasetConfig, data_path: Path, labels_path: Path) -> Path:
    """Return the absolute path of ``--labels`` after checking that it exists and fits DATA's format."""
    from dmrun.data import file_format

    kind = file_format(data_path, dataset)
    if kind not in ("idx", "npy"):
        raise ConfigError(
            f"--labels pairs a labels file with IDX or .npy data, but {data_path.name} is read as {kind}",
            hint="for a table, put the labels in the target column of DATA and drop --labels",
        )
    if not labels_path.is_file():
        raise ConfigError(f"--labels file not found: {labels_path}")
    return labels_path.resolve()


def _read_table(config: ExperimentConfig, data_path: Path, labels_path: Path | None = None):
    """Read new data as ``read_new_table`` does and drop the split's group and time columns, as in training."""
    frame = read_new_table(config, data_path, labels_path).frame
    split = config.dataset.split
    split_columns = [column for column in (split.group_by, split.time_column) if column and column in frame.columns]
    return frame.drop(columns=split_columns)


def check_columns(
    frame, expected: list[str], target: str | None, trained_numeric: set[str], source: str = "the data", decimal: str = "."
) -> None:
    """Raise a ``DataError`` naming ``source`` and its missing, extra or retyped columns."""
    import pandas as pd

    from dmrun.preprocess import decimal_comma_numbers

    present = [str(column) for column in frame.columns]
    missing = [column for column in expected if column not in present]
    extra = [column for column in present if column not in expected and column != target]
    if missing:
        from dmrun.data.readers import delimiter_in_name

        hint = "the data must have the columns the model was trained on: " + ", ".join(expected)
        split = delimiter_in_name(present, missing)
        if split is not None:
            hint = f"the file looks {split!r}-separated, but it was read with the run's delimiter; pass --delimiter {split!r}"
        raise DataError(f"{source}: column(s) missing: {', '.join(missing)}", hint=hint)
    if extra:
        raise DataError(
            f"{source}: column(s) the model was not trained on: {', '.join(extra)}",
            hint="remove them from the file; the model expects: " + ", ".join(expected),
        )
    retyped = [
        column
        for column in trained_numeric
        if column in present
        and not pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_datetime64_any_dtype(frame[column])
    ]
    if retyped:
        described = []
        hint = "fix or remove those values; the model needs numbers in these columns"
        for column in sorted(retyped):
            text = (pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()).to_numpy()
            if not text.any() and decimal == ",":
                # Numbers written with a dot, read with the run's decimal comma, stay text.
                text = frame[column].notna().to_numpy()
                hint = "the run reads numbers with a decimal comma (dataset.decimal: ','); pass --decimal . for a file that uses dots"
            elif text.any() and decimal == "." and decimal_comma_numbers(frame[column].dropna().astype(str)):
                hint = "the file writes numbers with a decimal comma; pass --decimal ,"
            if text.any():
                row = int(text.argmax())
                described.append(f"{column} ({frame[column].iloc[row]!r} in data row {row + 1})")
            else:
                described.append(column)
        raise DataError(f"{source}: column(s) numeric in training contain text: {', '.join(described)}", hint=hint)


def warn_unseen_categories(pipeline, frame, source: str) -> None:
    """Log a warning for each one-hot column of ``frame`` with categories the encoder never saw.

    Such a value is encoded as all zeros, like no category at all, so the prediction for its row
    rests on the other columns.
    """
    import numpy as np
    from sklearn.preprocessing import OneHotEncoder

    for _, step in pipeline.steps:
        for _, encoder, step_columns in getattr(step, "transformers_", []):
            if not isinstance(encoder, OneHotEncoder):
                continue
            for column, categories in zip(step_columns, encoder.categories_):
                if column not in frame.columns:
                    continue
                values = frame[column]
                known = {str(category) for category in categories}
                unseen = (values.notna() & ~values.astype(str).isin(known)).to_numpy()
                if unseen.any():
                    row = int(np.argmax(unseen))
                    logger.warning(
                        "%s: column '%s' has %d row(s) with a category not seen in training, such as %r in data "
                        "row %d; one-hot encoding gives them all zeros",
                        source, column, int(unseen.sum()), values.iloc[row], row + 1,
                    )


def _training_format(dataset: DatasetConfig) -> str | None:
    """Return the format the run's data file was read as, or None for a built-in dataset."""
    from dmrun.data import file_format

    if dataset.path is None:
        return None
    try:
        return file_format(Path(dataset.path), dataset)
    except DataError:
        return None


def not_finite_error(features, names: list[str], config) -> DataError:
    """Describe the rows and columns whose features are missing or infinite after preprocessing."""
    import numpy as np

    bad = ~np.isfinite(features)
    rows = np.flatnonzero(bad.any(axis=1))
    columns = [names[position] for position in np.flatnonzero(bad.any(axis=0))]
    row_list = ", ".join(str(row + 1) for row in rows[:5].tolist()) + (", ..." if len(rows) > 5 else "")
    where = f"row {row_list} has" if len(rows) == 1 else f"{len(rows)} rows ({row_list}) have"
    listed = ", ".join(f"'{column}'" for column in columns[:5]) + (", ..." if len(columns) > 5 else "")
    hint = "fill them in the file, or train with an impute step"
    if any(step.step == "impute" for step in config.preprocess):
        hint = (
            "fill them in the file, or train again with the columns listed in the impute step's `columns`; "
            "without `columns`, it fills only the columns that had missing values in the training data"
        )
    return DataError(
        f"{where} missing or infinite feature values after preprocessing, in column(s) {listed}", hint=hint
    )


def predict_run(
    run: Path, data_path: Path, labels_path: Path | None = None, reading: dict[str, Any] | None = None
) -> Predictions:
    """Predict for every row of ``data_path`` with the model of ``run``.

    ``labels_path`` is the labels file of IDX or .npy data: its values become the target
    column, so the predictions are scored. The new file is read with the run's dataset options,
    except that its format is inferred from its name, no lines are skipped, and the training
    file's reading options (delimiter, decimal, header, encoding) carry over only to a file of
    the same format. ``reading`` replaces any of ``format``, ``encoding``, ``sheet``,
    ``decimal``, ``delimiter`` and ``skip_rows``.

    Raises:
        ConfigError: for a run whose algorithm has no predict step, a missing data or labels
            file, or labels for a run that does not predict rows.
        DataError: when the data does not match the training columns.
        RunDirError: when the run's model files are missing or fail the safety check.
    """
    import numpy as np

    from dmrun.data import file_format, reset_unread_options
    from dmrun.preprocess import FittedPreprocessing

    record = json.loads((run / "run.json").read_text(encoding="utf-8")) if (run / "run.json").is_file() else {}
    if record.get("status") != "completed":
        state = f"has status '{record['status']}'" if record.get("status") else "has no readable run.json"
        raise ConfigError(
            f"run {run.name} {state}, so it has no model to predict with",
            hint="pick a completed run (see `dmrun runs list --status completed`)",
        )
    config = _read_run_config(run)
    # A title line belongs to one file, so the training file's skip_rows is not carried over.
    chosen = {key: value for key, value in (reading or {}).items() if value is not None}
    trained_on = _training_format(config.dataset)
    dataset = config.dataset.model_copy(update={"format": "auto", "skip_rows": 0, **chosen})
    # The reading options of the training file describe that file. A file of another format
    # does not inherit them, and one of the same format inherits only those its format reads.
    # Options given for this prediction stay, so they are checked.
    kind = file_format(data_path, dataset)
    dataset = reset_unread_options(dataset, kind if kind == trained_on else None, keep=set(chosen))
    config = config.model_copy(update={"dataset": dataset})
    kind = config.model.type
    forecasting = kind == "rnn" and config.dataset.task == "forecasting"
    if labels_path is not None and (kind == "rules" or forecasting):
        raise ConfigError(
            f"--labels applies to runs that predict one label or value per row, not to {'forecasting' if forecasting else 'rule mining'} runs",
            hint="drop --labels",
        )
    if kind == "rules":
        from dmrun.predict_rules import predict_rules

        return predict_rules(run, config, data_path)
    if config.engine == "spark":
        raise ConfigError(
            f"predict for {kind} runs trained on the spark engine is not supported yet",
            hint=f"load {run / 'model' / 'spark_model'} with pyspark.ml.PipelineModel.load and call transform",
        )
    if forecasting:
        from dmrun.predict_forecast import predict_forecast

        return predict_forecast(run, config, data_path)
    if kind not in SUPPORTED:
        raise ConfigError(
            f"predict does not support {kind} runs",
            hint="predict works for mlp, cnn, rnn, tree, kmeans and rules runs",
        )
    columns = json.loads((run / "model" / "preprocessing.json").read_text(encoding="utf-8"))
    summary = json.loads((run / "data.json").read_text(encoding="utf-8"))
    target = summary.get("target")
    numeric = {entry["name"] for entry in summary["columns"] if not entry["dtype"].startswith(("object", "str", "string", "category"))}
    frame = _read_table(config, data_path, labels_path)
    inputs = columns["input_columns"]
    check_columns(frame, inputs, target, numeric & set(inputs), source=data_path.name, decimal=config.dataset.decimal)

    pipeline_path = run / "model" / "pipeline.json"
    pipeline = sklearn_format.load(pipeline_path) if pipeline_path.exists() else None
    preprocessing = FittedPreprocessing(pipeline, columns["input_columns"], columns["output_columns"])
    if pipeline is not None:
        warn_unseen_categories(pipeline, frame, data_path.name)
    features = preprocessing.transform(frame)
    if not np.isfinite(features).all():
        raise not_finite_error(features, columns["output_columns"], config)

    if kind == "kmeans":
        model = sklearn_format.load(run / "model" / "estimator.json")
        result = frame.copy()
        result["cluster"] = model.predict(features)
        metrics = None
        if target in frame.columns and frame[target].notna().all():
            from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

            truth = frame[target].astype(str)
            metrics = {
                "ari": float(adjusted_rand_score(truth, result["cluster"])),
                "nmi": float(normalized_mutual_info_score(truth, result["cluster"])),
            }
        return Predictions(frame=result, metrics=metrics)

    classes = summary.get("label_mapping")
    if kind == "tree":
        model = sklearn_format.load(run / "model" / "estimator.json")
        codes = model.predict(features)
        probabilities = model.predict_proba(features) if classes else None
        code_order = list(model.classes_) if classes else None
    else:
        codes, probabilities = _predict_torch(run, features)
        code_order = list(range(probabilities.shape[1])) if probabilities is not None else None
    return _assemble(frame, target, summary, codes, probabilities, code_order)


def _predict_torch(run: Path, features):
    import torch

    from dmrun.trainers.torch_loop import TargetScaler, predict, resolve_device

    spec = json.loads((run / "model" / "model.json").read_text(encoding="utf-8"))
    network = load_network(run, spec)
    inputs = torch.as_tensor(features, dtype=torch.float32)
    if "input_shape" in spec:
        inputs = inputs.view(-1, *spec["input_shape"])
    elif "sequence_shape" in spec:
        inputs = inputs.view(-1, *spec["sequence_shape"])
    outputs = predict(network, inputs, resolve_device("cpu"))
    if spec["task"] == "classification":
        probabilities = torch.softmax(outputs, dim=1).numpy()
        return probabilities.argmax(axis=1), probabilities
    scaler = TargetScaler(**spec["target_scaler"])
    return scaler.inverse(outputs.squeeze(-1).numpy()), None


def load_network(run: Path, spec: dict[str, Any]):
    """Rebuild the run's network and load its weights with ``weights_only=True``.

    Raises:
        RunDirError: when the weights file is damaged or was changed to hold other objects.
    """
    import torch

    network = build_network(spec)
    try:
        state = torch.load(run / "model" / "weights.pt", weights_only=True, map_location="cpu")
        network.load_state_dict(state)
    except Exception as err:  # noqa: BLE001 - a damaged or tampered weights file
        raise RunDirError(f"cannot load model weights of {run}: {err}") from None
    return network


def build_network(spec: dict[str, Any]):
    """Rebuild the untrained module that ``model.json`` describes."""
    from pydantic import TypeAdapter

    from dmrun.config.schema import ModelConfig

    settings = TypeAdapter(ModelConfig).validate_python(spec["model"])
    if settings.type in ("mlp", "nn"):
        from dmrun.trainers.mlp import build_mlp

        return build_mlp(spec["n_features"], spec["n_outputs"], settings)
    if settings.type == "cnn":
        from dmrun.trainers.cnn import build_cnn

        return build_cnn(tuple(spec["input_shape"]), spec["n_outputs"], settings)
    from dmrun.trainers.rnn import RecurrentNetwork

    if spec.get("task") == "forecasting":
        # One value per input column and step in, one value per forecast step out.
        return RecurrentNetwork(len(spec.get("inputs", [spec["series"]])), spec.get("horizon", 1), settings)
    return RecurrentNetwork(spec["sequence_shape"][1], spec["n_outputs"], settings)


def macro_over_present(truth: list[int], predicted: list[int]) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score

    present = sorted(set(truth) | set(predicted))
    options = {"labels": present, "average": "macro", "zero_division": 0}
    return {
        "f1_macro": float(f1_score(truth, predicted, **options)),
        "precision_macro": float(precision_score(truth, predicted, **options)),
        "recall_macro": float(recall_score(truth, predicted, **options)),
    }


def _assemble(frame, target, summary, codes, probabilities, code_order) -> Predictions:
    from dmrun.trainers.metrics import supervised_metrics

    result = frame.copy()
    mapping = summary.get("label_mapping")
    metrics = None
    if mapping:
        labels = [mapping[str(index)] for index in range(len(mapping))]
        result["prediction"] = [labels[int(code)] for code in codes]
        for position, code in enumerate(code_order):
            result[f"probability_{labels[int(code)]}"] = probabilities[:, position]
        if target in frame.columns and frame[target].notna().all():
            lookup = {str(label): index for index, label in enumerate(labels)}
            unseen = sorted({str(value) for value in frame[target] if str(value) not in lookup})
            if unseen:
                logger.warning(
                    "target values %s were not seen in training, so no metrics are computed; known labels: %s",
                    ", ".join(unseen),
                    ", ".join(map(str, labels)),
                )
            else:
                truth = [lookup[str(value)] for value in frame[target]]
                predicted = [int(code) for code in codes]
                metrics = supervised_metrics("classification", truth, predicted, labels)
                # Macro averages over the labels these rows have or get, not every trained class.
                metrics.update(macro_over_present(truth, predicted))
    else:
        result["prediction"] = codes
        if target in frame.columns and frame[target].notna().all():
            metrics = supervised_metrics("regression", frame[target].to_numpy(dtype=float), codes, None)
    return Predictions(frame=result, metrics=metrics)
