"""Convolutional network for images given as one row of pixels per image."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from dmrun.config.schema import CNNConfig, ExperimentConfig
from dmrun.data.prepare import SupervisedData
from dmrun.errors import ConfigError
from dmrun.trainers.base import TrainContext, TrainResult
from dmrun.trainers.torch_loop import json_spec, run_supervised, square_hint

logger = logging.getLogger(__name__)


def build_cnn(input_shape: tuple[int, int, int], n_outputs: int, settings: CNNConfig) -> nn.Sequential:
    """Stack conv-ReLU-maxpool blocks, then a dense layer; pooling stops at 1 pixel."""
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in settings.channels:
        layers += [nn.Conv2d(channels, out_channels, settings.kernel_size, padding=settings.kernel_size // 2), nn.ReLU()]
        if height >= 2 and width >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers += [
        nn.Flatten(),
        nn.Dropout(settings.dropout),
        nn.Linear(channels * height * width, settings.hidden_size),
        nn.ReLU(),
        nn.Dropout(settings.dropout),
        nn.Linear(settings.hidden_size, n_outputs),
    ]
    return nn.Sequential(*layers)


def resolve_input_shape(settings: CNNConfig, data: SupervisedData) -> tuple[int, int, int]:
    """Return [channels, height, width], checked against the number of feature columns."""
    n_features = data.X_train.shape[1]
    shape = settings.input_shape or data.meta.get("image_shape")
    if shape is None:
        raise ConfigError(
            f"model.input_shape is required: the dataset has {n_features} feature columns and no image shape",
            hint=f"set model.input_shape: [channels, height, width]{square_hint(n_features)}",
        )
    if math.prod(shape) != n_features:
        source = data.summary.get("source", "the dataset")
        raise ConfigError(
            f"model.input_shape {list(shape)} needs {math.prod(shape)} feature columns; "
            f"{source} has {n_features} after preprocessing{square_hint(n_features)}",
            hint="set model.input_shape so that channels x height x width equals the number of feature columns",
        )
    channels, height, width = shape
    if width in (1, 3, 4) and channels not in (1, 3, 4):
        logger.warning(
            "model.input_shape %s looks like [height, width, channels]; dmrun reads [channels, height, width], "
            "so this trains on %d channels of %dx%d pixels",
            list(shape),
            channels,
            height,
            width,
        )
    return tuple(shape)


def fit(config: ExperimentConfig, data: SupervisedData, context: TrainContext) -> TrainResult:
    settings: CNNConfig = config.model
    shape = resolve_input_shape(settings, data)
    context.reporter.status(f"reading each row as an image of shape {list(shape)} (channels, height, width)")
    return run_supervised(
        config,
        data,
        context,
        build_network=lambda n_features, n_outputs: build_cnn(shape, n_outputs, settings),
        shape_inputs=lambda array: torch.as_tensor(array, dtype=torch.float32).view(-1, *shape),  # (N, C, H, W)
        spec={"model": json_spec(config), "input_shape": list(shape)},
    )
