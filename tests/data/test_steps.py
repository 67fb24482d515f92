"""Preprocessing steps fitted on the training split, saved with the model and applied by predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import read_json, strict_json, train_config


def write_rows(path: Path, header: list[str], rows: list[list]) -> Path:
    lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mixed_rows(count: int = 60) -> list[list]:
    """A numeric column, a skewed positive column, a constant column, a colour and a label that follows x."""
    colours = ["red", "green", "blue"]
    return [
        [index % 10, (index % 7) ** 3, 5, colours[index % 3], "big" if index % 10 >= 5 else "small"]
        for index in range(count)
    ]


HEADER = ["x", "skewed", "constant", "colour", "label"]


def run_with(tmp_path, write_config, steps: str, model: str = "{type: tree}", extra: str = ""):
    write_rows(tmp_path / "mixed.csv", HEADER, mixed_rows())
    config = write_config(
        f"name: steps\ndataset: {{path: mixed.csv, target: label{extra}}}\npreprocess: {steps}\nmodel: {model}\n"
    )
    return train_config(config, tmp_path / "runs")


def test_ordinal_unknown_category(tmp_path, write_config, cli):
    outcome = run_with(tmp_path, write_config, "[{step: ordinal}]")
    features = read_json(outcome.run.path / "data.json")["features"]
    assert sorted(features) == ["colour", "constant", "skewed", "x"]
    write_rows(tmp_path / "new.csv", HEADER, [[1, 8, 5, "purple", "small"], [7, 1, 5, "red", "big"]])
    document = strict_json(cli("predict", str(outcome.run.path), tmp_path / "new.csv", "--json").stdout)
    assert [row["prediction"] for row in document["predictions"]] == ["small", "big"]


def test_drop_constant_fitted_on_train(tmp_path, write_config):
    outcome = run_with(tmp_path, write_config, "[{step: drop_constant}, {step: onehot}]")
    features = read_json(outcome.run.path / "data.json")["features"]
    assert "constant" not in features
    assert "x" in features


def test_pca_components(tmp_path, write_config):
    outcome = run_with(tmp_path, write_config, "[{step: drop, columns: [colour]}, {step: scale}, {step: pca, n_components: 2}]")
    assert read_json(outcome.run.path / "data.json")["features"] == ["pca0", "pca1"]


def test_pca_needs_complete_columns(tmp_path, write_config, cli):
    rows = mixed_rows()
    rows[2][0] = ""
    write_rows(tmp_path / "gap.csv", HEADER, rows)
    config = write_config("name: s\ndataset: {path: gap.csv, target: label}\npreprocess: [{step: pca, columns: [x, skewed]}]\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "preprocess[0] (pca): columns x have missing values" in result.stderr
    assert "step: impute" in result.stderr


def test_discretise_bins(tmp_path, write_config):
    import pandas as pd

    from dmrun.config.schema import DiscretiseStep
    from dmrun.preprocess import fit_preprocessing

    train = pd.DataFrame({"x": np.arange(60) % 10, "skewed": (np.arange(60) % 7) ** 3})
    fitted = fit_preprocessing([DiscretiseStep(step="discretise", n_bins=3, columns=["x"])], train)
    assert fitted.transform(pd.DataFrame({"x": [0, 4, 9, 100], "skewed": [1, 1, 1, 1]}))[:, 0].tolist() == [0, 1, 2, 2]
    outcome = run_with(tmp_path, write_config, "[{step: discretise, n_bins: 2, columns: [x, skewed]}, {step: onehot}]")
    assert outcome.result.metrics["accuracy"] == 1.0  # the median of x separates the labels


def test_log_transform_and_predict(tmp_path, write_config, cli):
    outcome = run_with(tmp_path, write_config, "[{step: log, columns: [skewed]}, {step: onehot}]")
    write_rows(tmp_path / "new.csv", HEADER, [[1, -8, 5, "red", "small"]])
    result = cli("predict", str(outcome.run.path), tmp_path / "new.csv")
    assert result.exit_code == 3
    assert "column 'skewed' has the value -8" in result.stderr
    assert "shift" in result.stderr


def test_log_negative_training_value(tmp_path, write_config, cli):
    rows = mixed_rows()
    rows[4][1] = -3
    write_rows(tmp_path / "neg.csv", HEADER, rows)
    config = write_config("name: s\ndataset: {path: neg.csv, target: label}\npreprocess: [{step: log, columns: [skewed]}, {step: onehot}]\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "column 'skewed' has the value -3 in the training split" in result.stderr
    shifted = write_config(
        "name: s\ndataset: {path: neg.csv, target: label}\npreprocess: [{step: log, columns: [skewed], shift: 4}, {step: onehot}]\n"
        "model: {type: tree}\n",
        name="shifted.yaml",
    )
    assert cli("train", shifted, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0


def test_clip_bounds_from_train(tmp_path):
    import pandas as pd

    from dmrun.config.schema import ClipStep
    from dmrun.preprocess import fit_preprocessing

    train = pd.DataFrame({"v": np.arange(101, dtype=float)})
    fitted = fit_preprocessing([ClipStep(step="clip", lower_quantile=0.1, upper_quantile=0.9)], train)
    out = fitted.transform(pd.DataFrame({"v": [-50.0, 50.0, 500.0]}))
    assert out[:, 0].tolist() == [10.0, 50.0, 90.0]
    fixed = fit_preprocessing([ClipStep(step="clip", lower=0, upper=5)], train)
    assert fixed.transform(pd.DataFrame({"v": [-1.0, 3.0, 9.0]}))[:, 0].tolist() == [0.0, 3.0, 5.0]


@pytest.mark.parametrize("method", ["standard", "minmax", "robust"])
def test_scale_methods(method):
    import pandas as pd

    from dmrun.config.schema import ScaleStep
    from dmrun.preprocess import fit_preprocessing

    train = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0, 100.0]})
    out = fit_preprocessing([ScaleStep(step="scale", method=method)], train).transform(train)[:, 0]
    if method == "minmax":
        assert out.min() == 0.0
        assert out.max() == 1.0
    elif method == "standard":
        assert out.mean() == pytest.approx(0.0)
    else:
        assert np.median(out) == pytest.approx(0.0)


def test_saved_steps_reload_in_predict(tmp_path, write_config, cli):
    steps = "[{step: clip, columns: [skewed]}, {step: log, columns: [skewed]}, {step: ordinal}, {step: drop_constant}, {step: scale, method: robust}]"
    outcome = run_with(tmp_path, write_config, steps, extra=", split: {test_size: 0.25, shuffle: false}")
    all_rows = mixed_rows()
    held_out = all_rows[-read_json(outcome.run.path / "data.json")["split"]["test"] :]
    write_rows(tmp_path / "held_out.csv", HEADER, held_out)
    document = strict_json(cli("predict", str(outcome.run.path), tmp_path / "held_out.csv", "--json").stdout)
    assert document["metrics"]["accuracy"] == pytest.approx(outcome.result.metrics["accuracy"])


# --- dataset options and splits --------------------------------------------------------------


def test_features_and_exclude(tmp_path, write_config):
    outcome = run_with(tmp_path, write_config, "[]", extra=", features: [x, skewed]")
    assert read_json(outcome.run.path / "data.json")["features"] == ["x", "skewed"]
    other = write_config(
        "name: s\ndataset: {path: mixed.csv, target: label, exclude: [colour]}\nmodel: {type: tree}\n", name="other.yaml"
    )
    assert read_json(train_config(other, tmp_path / "runs").run.path / "data.json")["features"] == ["x", "skewed", "constant"]


def test_unknown_feature_named(tmp_path, write_config, cli):
    write_rows(tmp_path / "mixed.csv", HEADER, mixed_rows())
    config = write_config("name: s\ndataset: {path: mixed.csv, target: label, features: [x, colur]}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "dataset.features: column(s) colur not found" in result.stderr


@pytest.mark.parametrize("sample", ["20", "0.5"])
def test_sample_rows_seeded(tmp_path, write_config, sample):
    outcome = run_with(tmp_path, write_config, "[{step: onehot}]", extra=f", sample: {sample}")
    summary = read_json(outcome.run.path / "data.json")
    expected = 20 if sample == "20" else 30
    assert summary["rows"] == expected
    assert summary["reader"]["sample"]["rows_before"] == 60
    again = run_with(tmp_path, write_config, "[{step: onehot}]", extra=f", sample: {sample}")
    assert read_json(again.run.path / "data.json")["columns"] == summary["columns"]
    assert again.result.metrics == outcome.result.metrics


def test_group_split_keeps_groups(tmp_path, write_config):
    from dmrun.config.loading import load_config
    from dmrun.data import load_dataset
    from dmrun.data.prepare import _split_indices

    rows = [[index % 10, index // 6, "a" if index % 2 else "b"] for index in range(60)]
    write_rows(tmp_path / "groups.csv", ["x", "patient", "y"], rows)
    config_path = write_config(
        "name: g\ndataset: {path: groups.csv, target: y, split: {group_by: patient, test_size: 0.3}}\nmodel: {type: tree}\n"
    )
    loaded = load_config(config_path)
    table = load_dataset(loaded.config.dataset, loaded.base_dir)
    summary: dict = {"warnings": []}
    train, val, test = _split_indices(len(table.frame), None, loaded.config, summary, table.frame)
    patients = table.frame["patient"].to_numpy()
    assert set(patients[train]).isdisjoint(patients[test])
    assert len(set(patients[test])) == 3
    assert len(train) + len(val) + len(test) == 60
    outcome = train_config(config_path, tmp_path / "runs")
    data = read_json(outcome.run.path / "data.json")
    assert "patient" not in data["features"]
    assert "grouped by 'patient'" in data["split_method"]


def test_time_split_has_no_future(tmp_path, write_config):
    from dmrun.config.loading import load_config
    from dmrun.data import load_dataset
    from dmrun.data.prepare import _split_indices

    dates = [f"2024-01-{day:02d}" for day in range(1, 31)]
    order = np.random.default_rng(0).permutation(30)
    rows = [[dates[position], position % 5, "up" if position % 2 else "down"] for position in order]
    write_rows(tmp_path / "days.csv", ["day", "x", "y"], rows)
    config_path = write_config(
        "name: t\ndataset: {path: days.csv, target: y, split: {time_column: day, test_size: 0.2, val_size: 0.1}}\nmodel: {type: tree}\n"
    )
    loaded = load_config(config_path)
    table = load_dataset(loaded.config.dataset, loaded.base_dir)
    summary: dict = {"warnings": []}
    train, val, test = _split_indices(len(table.frame), None, loaded.config, summary, table.frame)
    days = table.frame["day"].to_numpy()
    assert max(days[train]) < min(days[val])
    assert max(days[val]) < min(days[test])
    assert sorted(days[test]) == dates[-6:]


def test_time_split_bad_value_named(tmp_path, write_config, cli):
    write_rows(tmp_path / "days.csv", ["day", "x", "y"], [["2024-01-01", 1, "a"], ["soon", 2, "b"], ["2024-01-03", 3, "a"]])
    config = write_config("name: t\ndataset: {path: days.csv, target: y, split: {time_column: day}}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "'day' has the value 'soon' in row 2" in result.stderr


def test_excluded_time_column_still_splits(tmp_path, write_config, cli):
    rows = [[f"2024-01-{day:02d}", day % 5, "up" if day % 2 else "down"] for day in range(1, 31)]
    write_rows(tmp_path / "days.csv", ["day", "x", "y"], rows)
    config = write_config("name: t\ndataset: {path: days.csv, target: y, exclude: [day], split: {time_column: day}}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.stderr
    dropped = write_config("name: t\ndataset: {path: days.csv, target: y, drop_columns: [day], split: {time_column: day}}\nmodel: {type: tree}\n")
    rejected = cli("train", dropped, "--runs-dir", tmp_path / "runs", "-q")
    assert rejected.exit_code == 2
    assert "`drop_columns` lists 'day', which `split` needs to split the rows" in rejected.stderr


def test_pca_and_bins_reload_in_predict(tmp_path, write_config, cli):
    steps = "[{step: ordinal}, {step: discretise, n_bins: 2, columns: [x]}, {step: scale}, {step: pca, n_components: 0.9}]"
    outcome = run_with(tmp_path, write_config, steps, extra=", split: {test_size: 0.25, shuffle: false}")
    held_out = mixed_rows()[-read_json(outcome.run.path / "data.json")["split"]["test"] :]
    write_rows(tmp_path / "held_out.csv", HEADER, held_out)
    result = cli("predict", str(outcome.run.path), tmp_path / "held_out.csv", "--json")
    assert result.exit_code == 0
    assert strict_json(result.stdout)["metrics"]["accuracy"] == pytest.approx(outcome.result.metrics["accuracy"])


def test_forecast_series_sorted_by_time(tmp_path, write_config):
    from dmrun.config.loading import load_config
    from dmrun.data import load_dataset
    from dmrun.data.prepare import prepare_series

    order = np.random.default_rng(4).permutation(40)
    rows = [[f"2024-02-{day + 1:02d}" if day < 29 else f"2024-03-{day - 28:02d}", float(day)] for day in order]
    write_rows(tmp_path / "series.csv", ["date", "value"], rows)
    loaded = load_config(
        write_config(
            "name: f\ndataset: {path: series.csv, target: value, task: forecasting, split: {time_column: date, test_size: 0.2, val_size: 0.1}}\n"
            "model: {type: rnn, window: 3}\n"
        )
    )
    series = prepare_series(load_dataset(loaded.config.dataset, loaded.base_dir), loaded.config)
    assert series.train.tolist() == [float(day) for day in range(28)]
    assert series.val.tolist() == [28.0, 29.0, 30.0, 31.0]
    assert series.test.tolist() == [float(day) for day in range(32, 40)]
    assert series.time_column == "date"
    assert series.times[:2] == ["2024-02-01", "2024-02-02"]


def test_sparse_block_matches_dense_cast():
    import pandas as pd

    from dmrun.preprocess import _csc_block

    rng = np.random.default_rng(3)
    rows = 50
    batch = pd.DataFrame(
        {
            "hot_a": rng.integers(0, 2, rows).astype(np.uint8),
            "hot_b": np.zeros(rows, dtype=np.uint8),
            "count": rng.integers(-3, 3, rows).astype(np.int16),
            "hot_c": rng.integers(0, 2, rows).astype(np.uint8),
            "hot_d": rng.integers(0, 3, rows).astype(np.uint8),
            "ratio": np.where(rng.random(rows) < 0.2, 0.0, rng.normal(size=rows)),
            "big": np.full(rows, 2**53 + 1, dtype=np.int64),
        }
    )
    block = _csc_block(batch)
    expected = batch.to_numpy(dtype=np.float64).astype(np.float32)

    assert block.format == "csc"
    assert block.dtype == np.float32
    assert block.has_sorted_indices
    assert np.array_equal(block.toarray(), expected)
    assert block.nnz == np.count_nonzero(expected)
