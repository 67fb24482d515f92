"""Multilayer perceptron for classification and regression."""

from __future__ import annotations

import torch
from torch import nn

from dmrun.config.schema import ExperimentConfig, MLPConfig
from dmrun.data.prepare import SupervisedData
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.torch_loop import json_spec, run_supervised

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_mlp(n_features: int, n_outputs: int, settings: MLPConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for units in settings.hidden_sizes:
        layers += [nn.Linear(width, units), ACTIVATIONS[settings.activation]()]
        if settings.dropout > 0:
            layers.append(nn.Dropout(settings.dropout))
        width = units
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def fit(config: ExperimentConfig, data: SupervisedData, context: TrainContext) -> TrainResult:
    settings: MLPConfig = config.model
    return run_supervised(
        config,
        data,
        context,
        build_network=lambda n_features, n_outputs: build_mlp(n_features, n_outputs, settings),
        shape_inputs=lambda array: torch.as_tensor(array, dtype=torch.float32),  # (N, features)
        spec={"model": json_spec(config)},
    )
