"""Forecasts from a finished forecasting run: one step ahead at every point of a new series.

The new series is read with the run's dataset options and ordered by its time column when the
run had one. Every value that has ``window`` values before it gets a forecast made from them,
which can be compared with the actual value, and one more row forecasts the step after the end
of the series.
"""

from __future__ import annotations

import json
from pathlib import Path

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import DataError


def read_series(config: ExperimentConfig, target: str, data_path: Path):
    """Return the series values and their time labels (or None), in time order."""
    import numpy as np
    import pandas as pd

    from dmrun.data.prepare import time_values
    from dmrun.predict import read_new_table

    frame = read_new_table(config, data_path).frame
    if target not in frame.columns:
        raise DataError(
            f"{data_path.name} has no column '{target}', the series the run forecasts",
            hint=f"columns found: {', '.join(map(str, frame.columns))}",
        )
    time_column = config.dataset.split.time_column
    if time_column is not None and time_column in frame.columns:
        frame = frame.iloc[np.argsort(time_values(frame, time_column), kind="stable")].reset_index(drop=True)
    values = pd.to_numeric(frame[target], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
        raise DataError(
            f"series '{target}' in {data_path.name} has a missing or non-numeric value at row {row}",
            hint="forecasts need a complete numeric series; fill or remove the gap",
        )
    others = [column for column in frame.columns if column != target]
    label = others[0] if others else None
    if time_column in frame.columns:
        label = time_column
    times = frame[label].tolist() if label else None
    return target, values.to_numpy(dtype=np.float64), label, times


def predict_forecast(run: Path, config: ExperimentConfig, data_path: Path):
    """Forecast every point of the series in ``data_path`` that has a full window, plus the next one."""
    import numpy as np
    import pandas as pd
    import torch

    from dmrun.predict import Predictions, load_network
    from dmrun.trainers.metrics import regression_metrics
    from dmrun.trainers.torch_loop import TargetScaler, predict, resolve_device

    spec = json.loads((run / "model" / "model.json").read_text(encoding="utf-8"))
    summary = json.loads((run / "data.json").read_text(encoding="utf-8"))
    window = spec["window"]
    target, series, label, times = read_series(config, summary["target"], data_path)
    if len(series) < window:
        raise DataError(
            f"series '{target}' in {data_path.name} has {len(series)} values; a forecast needs model.window ({window})",
            hint=f"give at least {window} values",
        )
    network = load_network(run, spec)
    scaler = TargetScaler(**spec["target_scaler"])
    scaled = scaler.transform(series).astype(np.float32)
    windows = np.stack([scaled[end - window : end] for end in range(window, len(series) + 1)])
    outputs = predict(network, torch.as_tensor(windows).unsqueeze(-1), resolve_device("cpu"))
    forecast = scaler.inverse(outputs.squeeze(-1).numpy()).astype(np.float64)

    actual = np.append(series, np.nan)
    predicted = np.concatenate([np.full(window, np.nan), forecast])
    frame = pd.DataFrame({target: actual, "forecast": predicted})
    if label is not None:
        frame.insert(0, label, [*times, None])
    metrics = None
    if len(series) > window:
        known = slice(window, len(series))
        metrics = regression_metrics(series[known], predicted[known])
        naive = regression_metrics(series[known], series[window - 1 : -1])
        metrics.update({f"naive_{key}": value for key, value in naive.items() if key in ("mse", "rmse", "mae")})
        metrics["forecasts_scored"] = len(series) - window
    metrics = {**(metrics or {}), "next_forecast": float(forecast[-1])}
    return Predictions(frame=frame, metrics=metrics)
