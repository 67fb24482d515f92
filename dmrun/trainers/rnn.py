"""Recurrent networks (LSTM, GRU, plain RNN) for sequences and multi-step forecasting."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from dmrun.config.schema import ExperimentConfig, RNNConfig
from dmrun.data.prepare import SeriesData, SupervisedData
from dmrun.errors import ConfigError
from dmrun.rundir import write_csv
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.metrics import forecast_metrics
from dmrun.trainers.torch_loop import (
    Split,
    TargetScaler,
    json_spec,
    predict,
    run_supervised,
    save_network,
    seed_everything,
    train_network,
)

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentNetwork(nn.Module):
    """A recurrent stack whose last hidden state feeds a linear output layer."""

    def __init__(self, input_size: int, n_outputs: int, settings: RNNConfig) -> None:
        super().__init__()
        self.recurrent = CELLS[settings.cell](
            input_size=input_size,
            hidden_size=settings.hidden_size,
            num_layers=settings.num_layers,
            dropout=settings.dropout if settings.num_layers > 1 else 0.0,
            bidirectional=settings.bidirectional,
            batch_first=True,
        )
        directions = 2 if settings.bidirectional else 1
        self.head = nn.Linear(settings.hidden_size * directions, n_outputs)
        self.bidirectional = settings.bidirectional

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # inputs: (N, steps, features)
        _, state = self.recurrent(inputs)
        hidden = state[0] if isinstance(state, tuple) else state  # (layers * directions, N, hidden)
        if self.bidirectional:
            last = torch.cat([hidden[-2], hidden[-1]], dim=1)  # (N, 2 * hidden)
        else:
            last = hidden[-1]  # (N, hidden)
        return self.head(last)  # (N, outputs)


def resolve_sequence_shape(settings: RNNConfig, data: SupervisedData) -> tuple[int, int]:
    """Return (steps, features per step); by default each feature is one step of one value."""
    n_features = data.X_train.shape[1]
    shape = settings.sequence_shape or data.meta.get("sequence_shape") or (n_features, 1)
    if math.prod(shape) != n_features:
        raise ConfigError(
            f"model.sequence_shape {list(shape)} needs {math.prod(shape)} feature columns; "
            f"the dataset has {n_features} after preprocessing",
            hint="set model.sequence_shape: [steps, features per step] with steps x features = feature columns",
        )
    return tuple(shape)


def fit(config: ExperimentConfig, data: SupervisedData | SeriesData, context: TrainContext) -> TrainResult:
    if isinstance(data, SeriesData):
        return fit_forecast(config, data, context)
    settings: RNNConfig = config.model
    steps, width = resolve_sequence_shape(settings, data)
    context.reporter.status(f"reading each row as a sequence of {steps} steps with {width} values each")
    return run_supervised(
        config,
        data,
        context,
        build_network=lambda n_features, n_outputs: RecurrentNetwork(width, n_outputs, settings),
        shape_inputs=lambda array: torch.as_tensor(array, dtype=torch.float32).view(-1, steps, width),
        spec={"model": json_spec(config), "sequence_shape": [steps, width]},
    )


def cut_windows(inputs: np.ndarray, target: np.ndarray, window: int, horizon: int, first: int, stop: int):
    """Cut the (window, next ``horizon`` values) pairs whose last target lies in ``first..stop-1``.

    A pair belongs to the part of the series that contains its last target. So a window whose
    targets cross into validation or test is a validation or test window, and no training
    target lies in a later part. Each window contains only values before its first target.

    Args:
        inputs: scaled input columns, shape (steps, columns).
        target: scaled target series, shape (steps,).
        window: input time steps per pair.
        horizon: target values per pair.
        first: position of the part's first value.
        stop: position after the part's last value.

    Returns:
        Inputs (N, window, columns), targets (N, horizon) and the position of each pair's first
        target (N,).
    """
    starts = np.arange(max(first, window + horizon - 1), stop) - horizon + 1
    windows = np.empty((len(starts), window, inputs.shape[1]), dtype=np.float32)
    targets = np.empty((len(starts), horizon), dtype=np.float32)
    for row, start in enumerate(starts):
        windows[row] = inputs[start - window : start]
        targets[row] = target[start : start + horizon]
    return windows, targets, starts


def fit_scalers(data: SeriesData) -> list[TargetScaler]:
    """Fit one standardising scaler per input column on the training part only."""
    train_rows = data.inputs[: len(data.train)]
    return [TargetScaler.fit(data.train), *(TargetScaler.fit(train_rows[:, column]) for column in range(1, train_rows.shape[1]))]


def scale_inputs(inputs: np.ndarray, scalers: list[TargetScaler]) -> np.ndarray:
    """Standardise each column of ``inputs`` (steps, columns) with its own scaler."""
    return np.stack([scaler.transform(inputs[:, column]) for column, scaler in enumerate(scalers)], axis=1)


def fit_forecast(config: ExperimentConfig, data: SeriesData, context: TrainContext) -> TrainResult:
    """Train a forecaster of the next ``horizon`` values and compare it with the naive forecast."""
    seed_everything(config.seed)
    settings: RNNConfig = config.model
    window, horizon = settings.window, settings.horizon
    scalers = fit_scalers(data)
    scaler = scalers[0]
    scaled = scale_inputs(data.inputs, scalers)
    scaled_target = scaled[:, 0]
    n_train, n_val = len(data.train), len(data.val)

    def split(first: int, stop: int) -> tuple[Split, np.ndarray]:
        windows, targets, starts = cut_windows(scaled, scaled_target, window, horizon, first, stop)
        # One output per step; a one-step forecaster keeps the flat (N,) targets.
        targets = targets[:, 0] if horizon == 1 else targets
        return Split(torch.as_tensor(windows), torch.as_tensor(targets)), starts

    train_split, _ = split(0, n_train)
    val_split = split(n_train, n_train + n_val)[0] if n_val else None
    test_split, test_starts = split(n_train + n_val, len(scaled))

    network = RecurrentNetwork(len(scalers), horizon, settings)
    network, history, facts = train_network(network, train_split, val_split, "forecasting", config, context, scaler)
    if not context.writes_outputs:
        return TrainResult(metrics={}, history=history)

    # Forecasts on the test windows, against the naive "same as last value" forecast.
    outputs = predict(network, test_split.inputs, torch.device(facts["device"]))  # (N, horizon)
    forecast = scaler.inverse(outputs.numpy()).reshape(len(test_starts), horizon)
    series = data.inputs[:, 0]
    actual = np.stack([series[start : start + horizon] for start in test_starts])  # (N, horizon)
    naive = np.repeat(series[test_starts - 1][:, None], horizon, axis=1)  # the last value before each window's targets
    metrics = forecast_metrics(actual, forecast, naive)
    metrics.update(facts)
    metrics["final_train_loss"] = history[-1]["train_loss"]

    spec = {
        "model": json_spec(config),
        "task": "forecasting",
        "window": window,
        "horizon": horizon,
        "series": data.name,
        "target_scaler": {"mean": scaler.mean, "std": scaler.std},
    }
    if len(scalers) > 1:
        spec["inputs"] = data.input_columns
        spec["input_scalers"] = [{"mean": extra.mean, "std": extra.std} for extra in scalers[1:]]
    artifacts = save_network(network, spec, context)
    times = [data.times[start] for start in test_starts] if data.times is not None else test_starts.tolist()
    header, rows = forecast_table(data.time_column or "position", times, actual, forecast, naive[:, 0])
    write_csv(context.artifacts / "forecast.csv", header, rows)
    artifacts.append("artifacts/forecast.csv")
    return TrainResult(metrics=metrics, history=history, artifacts=artifacts)


def forecast_table(label: str, times: list, actual: np.ndarray, forecast: np.ndarray, naive: np.ndarray):
    """Return the header and rows of forecast.csv: one row per test window.

    The time column labels each window's first target. One step gives the columns ``actual``,
    ``forecast`` and ``naive_forecast``. A horizon H gives ``actual_step1``, ``forecast_step1``
    up to step H, then ``naive_forecast``, which is the last value before the first target.
    """
    horizon = actual.shape[1]
    if horizon == 1:
        header = [label, "actual", "forecast", "naive_forecast"]
    else:
        steps = [[f"actual_step{step}", f"forecast_step{step}"] for step in range(1, horizon + 1)]
        header = [label, *(name for pair in steps for name in pair), "naive_forecast"]
    rows = []
    for time, known, predicted, last in zip(times, actual, forecast, naive):
        # Forecasts come from float32 arithmetic, so 7 significant digits are all they carry.
        pairs = [[float(a), float(f"{f:.7g}")] for a, f in zip(known, predicted)]
        rows.append([time, *(value for pair in pairs for value in pair), float(last)])
    return header, rows
