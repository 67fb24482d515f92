"""Recurrent networks (LSTM, GRU, plain RNN) for sequences and one-step forecasting."""

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
from dmrun.trainers.metrics import regression_metrics
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


def make_windows(history: np.ndarray, values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Build (window, next value) pairs whose targets are ``values``.

    ``history`` contains the values just before ``values``, and its last ``window`` entries give
    the context of the first target, so no input window contains its own target or a later value.
    """
    joined = np.concatenate([history[-window:], values]) if len(history) else values
    offset = len(joined) - len(values)
    starts = range(max(offset, window), len(joined))
    inputs = np.stack([joined[index - window : index] for index in starts]) if len(starts) else np.empty((0, window))
    targets = np.array([joined[index] for index in starts], dtype=np.float32)
    return inputs.astype(np.float32), targets


def fit_forecast(config: ExperimentConfig, data: SeriesData, context: TrainContext) -> TrainResult:
    """Train a one-step-ahead forecaster from windows of past values and compare it with the naive forecast."""
    seed_everything(config.seed)
    settings: RNNConfig = config.model
    window = settings.window
    scaler = TargetScaler.fit(data.train)

    def split(history: np.ndarray, values: np.ndarray) -> tuple[Split, np.ndarray, np.ndarray]:
        inputs, targets = make_windows(scaler.transform(history), scaler.transform(values), window)
        tensor = torch.as_tensor(inputs).unsqueeze(-1)  # (N, window, 1)
        return Split(tensor, torch.as_tensor(targets)), inputs, targets

    train_split, _, _ = split(np.empty(0, dtype=np.float32), data.train)
    val_split = split(data.train, data.val)[0] if len(data.val) else None
    before_test = np.concatenate([data.train, data.val])
    test_split, _, _ = split(before_test, data.test)

    network = RecurrentNetwork(1, 1, settings)
    network, history, facts = train_network(network, train_split, val_split, "forecasting", config, context, scaler)
    if not context.writes_outputs:
        return TrainResult(metrics={}, history=history)

    # One-step forecasts on the test part, against the naive "same as last value" forecast.
    outputs = predict(network, test_split.inputs, torch.device(facts["device"]))
    forecast = scaler.inverse(outputs.squeeze(-1).numpy())
    actual = data.test
    naive = np.concatenate([before_test[-1:], actual[:-1]])  # the previous actual value
    metrics = regression_metrics(actual, forecast)
    naive_metrics = regression_metrics(actual, naive)
    metrics.update({f"naive_{key}": value for key, value in naive_metrics.items() if key in ("mse", "rmse", "mae")})
    metrics["rmse_skill_vs_naive"] = 1 - metrics["rmse"] / naive_metrics["rmse"] if naive_metrics["rmse"] > 0 else None
    metrics.update(facts)
    metrics["final_train_loss"] = history[-1]["train_loss"]

    spec = {
        "model": json_spec(config),
        "task": "forecasting",
        "window": window,
        "series": data.name,
        "target_scaler": {"mean": scaler.mean, "std": scaler.std},
    }
    artifacts = save_network(network, spec, context)
    start = len(before_test)
    times = data.times[start:] if data.times is not None else range(start, start + len(actual))
    write_csv(
        context.artifacts / "forecast.csv",
        [data.time_column or "position", "actual", "forecast", "naive_forecast"],
        # Forecasts come from float32 arithmetic, so 7 significant digits are all they carry.
        [[time, float(a), float(f"{f:.7g}"), float(n)] for time, a, f, n in zip(times, actual, forecast, naive)],
    )
    artifacts.append("artifacts/forecast.csv")
    return TrainResult(metrics=metrics, history=history, artifacts=artifacts)
