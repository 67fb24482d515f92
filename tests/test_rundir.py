"""The run folder format: names, run.json, the resolved config, data summary, models, failures."""

from __future__ import annotations

import csv
import math
import os
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import dmrun
from dmrun.errors import DataError
from dmrun.rundir import RunDir, dumps_json, write_csv
from helpers import read_json, run_folder_pattern, strict_json, train_config

RUN_RECORD_KEYS = {
    "format_version", "status", "started", "ended", "duration_s", "argv", "cwd",
    "versions", "seed", "host", "pid", "exit_code", "error",
}

MLP_CONFIG = """
    name: format-mlp
    seed: 7
    dataset: {name: iris}
    preprocess: [{step: scale}]
    model: {type: mlp, hidden_sizes: [8]}
    train: {epochs: 2}
"""
TREE_CONFIG = """
    name: format-tree
    dataset: {name: iris}
    preprocess: [{step: scale}]
    model: {type: tree, max_depth: 2}
"""
KMEANS_CONFIG = """
    name: format-kmeans
    dataset: {name: iris}
    model: {type: kmeans, n_clusters: 3, n_init: 1}
"""


def _train(folder: Path, name: str, text: str) -> Path:
    config = folder / f"{name}.yaml"
    config.write_text(textwrap.dedent(text), encoding="utf-8")
    return train_config(config, folder / "runs").run.path


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("mlp"), "mlp", MLP_CONFIG)


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("tree"), "tree", TREE_CONFIG)


@pytest.fixture(scope="module")
def kmeans_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("kmeans"), "kmeans", KMEANS_CONFIG)


# --- run.json -----------------------------------------------------------------------------


def test_run_record_has_every_key(mlp_run):
    record = read_json(mlp_run / "run.json")
    assert RUN_RECORD_KEYS <= set(record)


def test_run_record_describes_the_run(mlp_run):
    record = read_json(mlp_run / "run.json")
    assert record["format_version"] == 1
    assert record["seed"] == 7
    assert record["pid"] == os.getpid()
    assert record["cwd"] == os.getcwd()
    assert isinstance(record["argv"], list)
    assert isinstance(record["host"], str)
    assert record["host"] != ""
    assert record["versions"]["dmrun"] == dmrun.__version__
    assert record["versions"]["torch"]


def test_versions_of_libraries_not_imported(monkeypatch):
    """A library the run did not import is recorded from its installed metadata, and a missing one as None."""
    import sys

    import numpy

    from dmrun import rundir

    monkeypatch.delitem(sys.modules, "numpy")
    monkeypatch.setattr(
        rundir, "RECORDED_LIBRARIES", (("numpy", "numpy", "numpy"), ("absent", "absent", "no-such-distribution-for-dmrun"))
    )
    versions = rundir.package_versions()
    assert versions["numpy"] == numpy.__version__
    assert versions["absent"] is None


def test_run_record_times_are_ordered(mlp_run):
    record = read_json(mlp_run / "run.json")
    started = datetime.fromisoformat(record["started"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(record["ended"].replace("Z", "+00:00"))
    assert record["started"].endswith("Z")
    assert started <= ended
    assert record["duration_s"] >= 0


# --- config.yaml, data.json, history.csv, log.txt ------------------------------------------


def test_config_yaml_has_defaults(mlp_run):
    resolved = yaml.safe_load((mlp_run / "config.yaml").read_text(encoding="utf-8"))
    assert resolved["name"] == "format-mlp"
    assert resolved["dataset"]["split"] == {
        "test_size": 0.2,
        "val_size": 0.1,
        "stratify": True,
        "shuffle": True,
        "group_by": None,
        "time_column": None,
    }
    assert resolved["model"]["activation"] == "relu"
    assert resolved["train"]["batch_size"] == 64
    assert resolved["train"]["optimizer"]["lr"] == 0.001


def test_config_yaml_omits_train_for_tree(tree_run):
    resolved = yaml.safe_load((tree_run / "config.yaml").read_text(encoding="utf-8"))
    assert "train" not in resolved
    assert resolved["model"]["criterion"] == "auto"


def test_data_json_summarises_dataset(mlp_run):
    summary = read_json(mlp_run / "data.json")
    assert summary["source"].startswith("builtin:iris")
    assert summary["rows"] == 150
    assert [column["name"] for column in summary["columns"]][-1] == "target"
    assert all({"name", "dtype", "missing"} <= set(column) for column in summary["columns"])
    assert summary["split"] == {"train": 105, "validation": 15, "test": 30}


def test_history_has_one_row_per_epoch(mlp_run):
    with open(mlp_run / "history.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"train_loss", "val_loss", "val_accuracy", "seconds"} <= set(rows[0])


def test_log_records_the_run(mlp_run):
    log = (mlp_run / "log.txt").read_text(encoding="utf-8")
    assert mlp_run.name in log
    assert "completed" in log


# --- model/ -----------------------------------------------------------------------------------


def test_weights_load_without_pickle(mlp_run):
    import torch

    state = torch.load(mlp_run / "model" / "weights.pt", weights_only=True)
    assert len(state) > 0
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())


def test_weights_match_model_json(mlp_run):
    import torch

    from dmrun.config.schema import MLPConfig
    from dmrun.trainers.mlp import build_mlp

    spec = read_json(mlp_run / "model" / "model.json")
    network = build_mlp(spec["n_features"], spec["n_outputs"], MLPConfig.model_validate(spec["model"]))
    network.load_state_dict(torch.load(mlp_run / "model" / "weights.pt", weights_only=True))
    assert spec["classes"] == ["setosa", "versicolor", "virginica"]
    assert spec["n_features"] == 4


@pytest.mark.parametrize("run_fixture", ["tree_run", "kmeans_run"])
def test_sklearn_model_loads(run_fixture, request):
    import numpy as np

    from dmrun import sklearn_format

    run = request.getfixturevalue(run_fixture)
    model = sklearn_format.load(run / "model" / "estimator.json")
    # dmrun's preprocessing hands float64 rows to the scikit-learn models.
    prediction = model.predict(np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float64))
    assert len(prediction) == 1


def test_model_arrays_load_without_pickle(tree_run):
    import numpy as np

    with np.load(tree_run / "model" / "estimator.npz", allow_pickle=False) as archive:
        assert archive.files


def test_preprocessing_pipeline_loads(tree_run):
    from dmrun import sklearn_format

    pipeline = sklearn_format.load(tree_run / "model" / "pipeline.json")
    columns = read_json(tree_run / "model" / "preprocessing.json")
    assert list(pipeline.feature_names_in_) == columns["input_columns"]


# --- failures and folder names -----------------------------------------------------------------


def test_failed_run_records_error(tmp_path, write_config):
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n", encoding="utf-8")
    config = write_config(
        """
        name: no-target
        dataset: {path: table.csv, target: class}
        model: {type: tree}
        """
    )
    with pytest.raises(DataError):
        train_config(config, tmp_path / "runs")
    (run,) = (tmp_path / "runs").iterdir()
    record = read_json(run / "run.json")
    assert record["status"] == "failed"
    assert record["exit_code"] == 3
    assert record["error"]["type"] == "DataError"
    assert "'class' not found" in record["error"]["message"]
    assert "label" in record["error"]["hint"]  # the fix, for tools that read only the record
    assert record["ended"] is not None


def test_back_to_back_runs_differ(tmp_path, write_config):
    config = write_config(KMEANS_CONFIG)
    first = train_config(config, tmp_path / "runs").run.path
    second = train_config(config, tmp_path / "runs").run.path
    assert first != second
    assert first.is_dir()
    assert second.is_dir()


def test_folder_names_follow_format(tmp_path):
    created = [RunDir.create(tmp_path, "same-second", 0).path for _ in range(5)]
    assert len(set(created)) == 5
    assert all(run_folder_pattern("same-second").fullmatch(path.name) for path in created)


def test_trained_folder_name_matches(mlp_run):
    assert run_folder_pattern("format-mlp").fullmatch(mlp_run.name)


# --- strict files --------------------------------------------------------------------------------


def test_json_writes_nan_as_null():
    text = dumps_json({"nan": math.nan, "inf": math.inf, "nested": [1.5, -math.inf]})
    assert strict_json(text) == {"nan": None, "inf": None, "nested": [1.5, None]}


def test_csv_writes_nan_as_empty(tmp_path):
    write_csv(tmp_path / "values.csv", ["a", "b"], [[1.0, math.nan]])
    assert (tmp_path / "values.csv").read_text(encoding="utf-8") == "a,b\n1.0,\n"


def test_run_files_follow_umask(tmp_path, write_config):
    import os
    import stat

    config = write_config("dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n")
    previous = os.umask(0o022)
    try:
        run = train_config(config, tmp_path / "runs").run.path
    finally:
        os.umask(previous)
    for name in ("run.json", "config.yaml", "metrics.json", "data.json", "artifacts/clusters.csv"):
        mode = stat.S_IMODE((run / name).stat().st_mode)
        assert mode == 0o644, f"{name} has mode {oct(mode)}"
