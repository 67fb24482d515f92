"""Forecasts from a finished forecasting run at every point of a new series, and past its end.

The new series is read with the run's dataset options and ordered by its time column when the
run had one. Every position with ``window`` time steps before it is a forecast origin: the run's
network forecasts the next ``horizon`` values from those steps, which can be compared with the
actual values where the series has them. The last origin is the end of the series, so its
forecast covers the ``horizon`` steps after the data.

A one-step run returns one row per value with its ``forecast`` and one more row for the step
after the end. A run with horizon H returns one row per origin, labelled with the time of its
first forecast step, with ``actual_step1``, ``forecast_step1`` up to step H.
"""

from __future__ import annotations

import json
from pathlib import Path

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import DataError


def read_series(config: ExperimentConfig, columns: list[str], data_path: Path, trained: list[str] | None = None):
    """Return the input columns as an array (steps, columns), and the time label and values (or None), in time order.

    The first of ``columns`` is the target series. ``trained`` lists the columns of the training
    data; a column outside it is an error, as a new column would become the time label.
    """
    import numpy as np

    from dmrun.data.prepare import numeric_series, time_values
    from dmrun.predict import read_new_table

    frame = read_new_table(config, data_path).frame
    for column in columns:
        if column not in frame.columns:
            role = "the series the run forecasts" if column == columns[0] else "an input of the run"
            raise DataError(
                f"{data_path.name} has no column '{column}', {role}",
                hint=f"columns found: {', '.join(map(str, frame.columns))}",
            )
    extra = [str(column) for column in frame.columns if trained is not None and str(column) not in trained]
    if extra:
        raise DataError(
            f"{data_path.name}: column(s) the run was not trained with: {', '.join(extra)}",
            hint="remove them from the file; the training data had: " + ", ".join(trained or []),
        )
    time_column = config.dataset.split.time_column
    if time_column is not None and time_column in frame.columns:
        frame = frame.iloc[np.argsort(time_values(frame, time_column), kind="stable")].reset_index(drop=True)
    values = numeric_series(frame, columns, "forecasts need complete numeric series; fill or remove the gap")
    others = [column for column in frame.columns if column not in columns]
    label = others[0] if others else None
    if time_column in frame.columns:
        label = time_column
    times = frame[label].tolist() if label else None
    return values, label, times


def predict_forecast(run: Path, config: ExperimentConfig, data_path: Path):
    """Forecast from every origin of the series in ``data_path`` that has a full window, including its end."""
    import numpy as np
    import torch

    from dmrun.predict import load_network
    from dmrun.trainers.torch_loop import TargetScaler, predict, resolve_device

    spec = json.loads((run / "model" / "model.json").read_text(encoding="utf-8"))
    summary = json.loads((run / "data.json").read_text(encoding="utf-8"))
    window, horizon = spec["window"], spec.get("horizon", 1)
    columns = spec.get("inputs", [summary["target"]])
    trained = [entry["name"] for entry in summary["columns"]] if "columns" in summary else None
    values, label, times = read_series(config, columns, data_path, trained)
    if len(values) < window:
        raise DataError(
            f"series '{columns[0]}' in {data_path.name} has {len(values)} values; a forecast needs model.window ({window})",
            hint=f"give at least {window} values",
        )
    network = load_network(run, spec)
    scalers = [TargetScaler(**spec["target_scaler"]), *(TargetScaler(**entry) for entry in spec.get("input_scalers", []))]
    scaled = np.stack([scaler.transform(values[:, column]) for column, scaler in enumerate(scalers)], axis=1)
    windows = np.stack([scaled[end - window : end] for end in range(window, len(values) + 1)])  # (origins, window, columns)
    outputs = predict(network, torch.as_tensor(windows), resolve_device("cpu"))
    forecast = scalers[0].inverse(outputs.numpy()).reshape(len(windows), horizon).astype(np.float64)
    if horizon == 1:
        return one_step_predictions(values[:, 0], forecast[:, 0], window, columns[0], label, times)
    return multi_step_predictions(values[:, 0], forecast, window, label, times)


def one_step_predictions(series, forecast, window: int, target: str, label: str | None, times):
    """Return one row per value with its one-step forecast, and a row for the step after the end."""
    import numpy as np
    import pandas as pd

    from dmrun.predict import Predictions
    from dmrun.trainers.metrics import regression_metrics

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


def multi_step_predictions(series, forecast, window: int, label: str | None, times):
    """Return one row per origin with H forecasts, the actual values where known, and metrics.

    Metrics score the origins whose H steps all lie in the series, pooled over steps and at
    each step, with the naive last-value forecast beside them.
    """
    import numpy as np
    import pandas as pd

    from dmrun.predict import Predictions
    from dmrun.trainers.metrics import forecast_metrics

    origins, horizon = forecast.shape
    padded = np.append(series, np.full(horizon, np.nan))
    starts = np.arange(window, window + origins)  # position of each origin's first forecast step
    actual = np.stack([padded[start : start + horizon] for start in starts])  # (origins, horizon)
    columns = {}
    if label is not None:
        columns[label] = [times[start] if start < len(times) else None for start in starts]
    for step in range(horizon):
        columns[f"actual_step{step + 1}"] = actual[:, step]
        columns[f"forecast_step{step + 1}"] = forecast[:, step]
    frame = pd.DataFrame(columns)

    metrics = {}
    complete = ~np.isnan(actual).any(axis=1)  # origins whose every step is in the series
    if complete.any():
        naive = np.repeat(series[starts[complete] - 1][:, None], horizon, axis=1)
        metrics = forecast_metrics(actual[complete], forecast[complete], naive)
        metrics["forecasts_scored"] = int(complete.sum())
    metrics.update({f"next_forecast_step{step + 1}": float(forecast[-1, step]) for step in range(horizon)})
    return Predictions(frame=frame, metrics=metrics)
