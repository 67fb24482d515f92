"""Multi-step forecasting with several input columns: windows, scaling, forecast.csv and predict."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from helpers import only_run_folder, read_json, strict_json

ROWS = 60


def write_series(path: Path, rows: int = ROWS, bad: tuple[int, str, str] | None = None) -> None:
    """Write a day column, a target `load` driven by `temp` two days earlier, and a noise column `wind`."""
    rng = np.random.default_rng(3)
    temp = 10 + 5 * np.sin(np.arange(rows) / 4)
    load = 50 + 2 * np.roll(temp, 2) + rng.normal(0, 0.5, rows)
    wind = rng.normal(3, 1, rows)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["day", "load", "temp", "wind"])
        for day in range(rows):
            row = [day, f"{load[day]:.3f}", f"{temp[day]:.3f}", f"{wind[day]:.3f}"]
            if bad is not None and bad[0] == day:
                row[["day", "load", "temp", "wind"].index(bad[1])] = bad[2]
            writer.writerow(row)


CONFIG = """
name: multi
seed: 1
dataset:
  path: series.csv
  target: load
  task: forecasting
  features: [temp, wind]
  split: {{time_column: day, test_size: 0.2, val_size: 0.1}}
model: {{type: rnn, cell: gru, window: {window}, horizon: {horizon}, hidden_size: 6}}
train: {{epochs: 3, batch_size: 8}}
"""


@pytest.fixture
def trained(tmp_path, write_config, cli):
    write_series(tmp_path / "series.csv")
    config = write_config(CONFIG.format(window=5, horizon=3))
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    return only_run_folder(tmp_path / "runs")


def test_windows_follow_last_target():
    from dmrun.trainers.rnn import cut_windows

    inputs = np.arange(20, dtype=np.float32).reshape(10, 2)  # column 0 is 0, 2, 4, ...
    target = inputs[:, 0]
    windows, targets, starts = cut_windows(inputs, target, window=3, horizon=2, first=0, stop=7)
    assert starts.tolist() == [3, 4, 5]
    assert targets[-1].tolist() == [10.0, 12.0]  # the last training target is at position 6
    assert windows.shape == (3, 3, 2)
    assert windows[0, :, 0].tolist() == [0.0, 2.0, 4.0]
    later = cut_windows(inputs, target, window=3, horizon=2, first=7, stop=10)
    assert later[2].tolist() == [6, 7, 8]  # the window with targets at 6 and 7 belongs to the later part


def test_multistep_forecast_csv_layout(trained):
    with open(trained / "artifacts" / "forecast.csv", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == [
        "day",
        "actual_step1",
        "forecast_step1",
        "actual_step2",
        "forecast_step2",
        "actual_step3",
        "forecast_step3",
        "naive_forecast",
    ]
    n_test = read_json(trained / "data.json")["split"]["test"]
    assert len(rows) - 1 == n_test
    assert rows[-1][0] == str(ROWS - 3)  # the last window's first target; its third is the last day
    assert rows[1][1] == rows[2][-1]  # the naive forecast repeats the value before the first target


def test_multistep_metrics_per_step(trained):
    import pandas as pd

    metrics = read_json(trained / "metrics.json")
    forecast = pd.read_csv(trained / "artifacts" / "forecast.csv")
    for step in (1, 2, 3):
        errors = forecast[f"forecast_step{step}"] - forecast[f"actual_step{step}"]
        naive_errors = forecast["naive_forecast"] - forecast[f"actual_step{step}"]
        assert metrics[f"rmse_step{step}"] == pytest.approx(math.sqrt((errors**2).mean()), rel=1e-5)
        assert metrics[f"naive_mae_step{step}"] == pytest.approx(naive_errors.abs().mean())
    pooled = np.concatenate([forecast[f"forecast_step{s}"] - forecast[f"actual_step{s}"] for s in (1, 2, 3)])
    assert metrics["rmse"] == pytest.approx(math.sqrt((pooled**2).mean()), rel=1e-5)
    assert "rmse_step4" not in metrics


def test_input_scalers_fit_on_train_part(trained, tmp_path):
    import pandas as pd

    spec = json.loads((trained / "model" / "model.json").read_text(encoding="utf-8"))
    assert spec["inputs"] == ["load", "temp", "wind"]
    assert spec["horizon"] == 3
    n_train = read_json(trained / "data.json")["split"]["train"]
    frame = pd.read_csv(tmp_path / "series.csv")
    assert spec["input_scalers"][0]["mean"] == pytest.approx(frame["temp"][:n_train].mean())
    assert spec["input_scalers"][1]["std"] == pytest.approx(frame["wind"][:n_train].std(ddof=0))
    assert spec["target_scaler"]["mean"] == pytest.approx(frame["load"][:n_train].mean())


def test_predict_reproduces_forecast_csv(trained, tmp_path, cli):
    import pandas as pd

    result = cli("predict", trained, tmp_path / "series.csv", "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    predictions = pd.DataFrame(document["predictions"])
    assert len(predictions) == ROWS - 5 + 1  # every origin with 5 values before it, and the end
    run_forecasts = pd.read_csv(trained / "artifacts" / "forecast.csv")
    joined = run_forecasts.merge(predictions.dropna(subset=["day"]), on="day", suffixes=("_run", ""))
    assert len(joined) == len(run_forecasts)
    for step in (1, 2, 3):
        assert joined[f"forecast_step{step}"].to_numpy() == pytest.approx(joined[f"forecast_step{step}_run"].to_numpy(), rel=1e-5)
    last = predictions.iloc[-1]
    assert last[["actual_step1", "actual_step2", "actual_step3"]].isna().all()
    assert document["metrics"]["next_forecast_step3"] == pytest.approx(last["forecast_step3"])
    assert document["metrics"]["forecasts_scored"] == ROWS - 5 - 3 + 1


def test_predict_missing_input_column(trained, tmp_path, cli):
    import pandas as pd

    pd.read_csv(tmp_path / "series.csv").drop(columns=["wind"]).to_csv(tmp_path / "no_wind.csv", index=False)
    result = cli("predict", trained, tmp_path / "no_wind.csv")
    assert result.exit_code == 3
    assert "wind" in result.stderr
    assert "not found" in result.stderr


@pytest.mark.parametrize(
    ("window", "horizon", "message"),
    [
        (40, 3, "must hold at least model.window + model.horizon (40 + 3) values"),
        (5, 13, "test part of 12 values, shorter than model.horizon (13)"),
    ],
)
def test_series_too_short_for_horizon(tmp_path, write_config, cli, window, horizon, message):
    write_series(tmp_path / "series.csv")
    result = cli("train", write_config(CONFIG.format(window=window, horizon=horizon)), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert message in result.stderr


def test_non_numeric_input_named(tmp_path, write_config, cli):
    write_series(tmp_path / "series.csv", bad=(7, "temp", "warm"))
    result = cli("train", write_config(CONFIG.format(window=5, horizon=2)), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "series 'temp' has a missing or non-numeric value at row 8: 'warm'" in result.stderr


def test_missing_input_column(tmp_path, write_config, cli):
    write_series(tmp_path / "series.csv")
    config = write_config(CONFIG.format(window=5, horizon=2).replace("[temp, wind]", "[temp, rain]"))
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 3
    assert "dataset.features: column(s) rain not found" in result.stderr


def test_predict_rejects_labels(trained, tmp_path, cli):
    result = cli("predict", trained, tmp_path / "series.csv", "--labels", tmp_path / "series.csv")
    assert result.exit_code == 2
    assert "--labels applies to runs that predict one label or value per row, not to forecasting runs" in result.stderr
