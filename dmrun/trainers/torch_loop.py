"""The training loop shared by the mlp, cnn and rnn trainers.

Data stays in memory as tensors and is batched by indexing with a seeded permutation, so there
are no per-sample Python loops and the batch order depends only on the seed.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from dmrun.config.schema import ExperimentConfig, TrainConfig
from dmrun.errors import ConfigError, RunInterrupted, TrainerError
from dmrun.rundir import dumps_json, write_atomic
from dmrun.trainers.base import Checkpointing, TrainContext, TrainResult
from dmrun.trainers.checkpoint import capture_random_state, restore_random_state, save_checkpoint
from dmrun.trainers.metrics import supervised_metrics, write_confusion_matrix, write_predictions

EVAL_BATCH = 4096


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels where it has them."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    _use_deterministic_algorithms()
    # With deterministic kernels on, torch also fills every new tensor with NaN before a kernel
    # overwrites it, which only matters to code that reads memory it never wrote. The fill took
    # about 4% of the CPU time of an LSTM epoch with batches of 16 rows (torch 2.13, one thread).
    torch.utils.deterministic.fill_uninitialized_memory = False
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _use_deterministic_algorithms() -> None:
    """Turn on torch's deterministic kernels, warning where an operation has none.

    ``torch.use_deterministic_algorithms`` also imports ``torch._inductor.config`` to set the
    same flag for ``torch.compile``, which dmrun does not use. With torch 2.13 on CPU that
    import loaded about 800 modules and took 2.3 s of every training run. So the eager-mode
    switch it calls is used directly, with the public function as the fallback.
    """
    switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if switch is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    switch(True, warn_only=True)


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but CUDA is not available", hint="use device: auto or cpu")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def build_optimizer(parameters, train: TrainConfig) -> torch.optim.Optimizer:
    settings = train.optimizer
    if settings.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
        )
    optimizer_class = torch.optim.AdamW if settings.name == "adamw" else torch.optim.Adam
    return optimizer_class(parameters, lr=settings.lr, weight_decay=settings.weight_decay, eps=settings.eps)


@dataclass
class TargetScaler:
    """Standardises regression targets for training; metrics are reported in original units."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> TargetScaler:
        std = float(values.std())
        return cls(mean=float(values.mean()), std=std if std > 0 else 1.0)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values.astype(np.float64) * self.std + self.mean


@dataclass
class Split:
    """Inputs already shaped for the network, and targets (class codes or scaled values)."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.targets)


def predict(network: nn.Module, inputs: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Return the network's raw outputs for ``inputs`` in evaluation mode, on the CPU."""
    network.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(inputs), EVAL_BATCH):
            outputs.append(network(inputs[start : start + EVAL_BATCH].to(device)).cpu())
    return torch.cat(outputs) if outputs else torch.empty(0)


# The validation metrics each epoch computes, by task; early stopping can watch any of them.
EPOCH_METRICS = {
    "classification": ("val_loss", "val_accuracy", "val_f1_macro"),
    "regression": ("val_loss", "val_rmse", "val_mae"),
    "forecasting": ("val_loss", "val_rmse", "val_mae"),
}


def _epoch_metrics(task: str, outputs: torch.Tensor, targets: torch.Tensor, scaler: TargetScaler | None) -> dict:
    if task == "classification":
        predicted = outputs.argmax(dim=1)
        return {
            "accuracy": float((predicted == targets).float().mean()),
            "f1_macro": macro_f1(predicted, targets, outputs.shape[1]),
        }
    predicted = scaler.inverse(outputs.squeeze(-1).numpy())
    actual = scaler.inverse(targets.numpy())
    errors = predicted - actual
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors)))}


def macro_f1(predicted: torch.Tensor, targets: torch.Tensor, n_classes: int) -> float:
    """Return the F1 score averaged over all ``n_classes`` classes, as scikit-learn's
    ``f1_score(average="macro", labels=range(n_classes), zero_division=0)`` computes it.

    A class that is neither predicted nor present scores 0.
    """
    confusion = torch.bincount(targets * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).double()  # rows: true class, columns: predicted
    true_positives = confusion.diagonal()
    denominator = confusion.sum(dim=0) + confusion.sum(dim=1)  # 2 TP + FP + FN
    scores = torch.where(denominator > 0, 2 * true_positives / denominator.clamp(min=1), torch.zeros_like(denominator))
    return float(scores.mean())


def _check_watched_metric(watched: str, task: str) -> None:
    """Raise a ``ConfigError`` before training when the epochs of ``task`` do not compute ``watched``."""
    computed = EPOCH_METRICS[task]
    if watched not in computed:
        raise ConfigError(
            f"train.early_stopping.metric '{watched}' is not computed for a {task} task",
            hint=f"use one of {', '.join(computed)}",
        )


def _improved(value: float, best: float | None, metric: str, min_delta: float) -> bool:
    if best is None:
        return True
    if metric in ("val_accuracy", "val_f1_macro"):
        return value > best + min_delta
    return value < best - min_delta


@dataclass
class Progress:
    """What the loop has done so far: the history and the early-stopping bookkeeping."""

    history: list[dict[str, Any]]
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    stale_epochs: int = 0

    @property
    def epoch(self) -> int:
        return len(self.history)


def _save_checkpoint(
    checkpointing: Checkpointing, network: nn.Module, optimizer: torch.optim.Optimizer, progress: Progress, generator, session: Any = None
) -> None:
    """Save everything an uninterrupted run would carry into its next epoch.

    In a distributed run, rank 0 saves the random states of every rank (``random_ranks``), so a
    resumed run gives each rank its own dropout stream back. The other ranks save nothing.
    """
    random_state = capture_random_state(generator)
    state: dict[str, Any] = {}
    if session is not None:
        states = session.gather(random_state)
        if not session.is_main:
            return
        state = {"world_size": session.world_size, "random_ranks": states}
    save_checkpoint(
        checkpointing.path,
        {
            "config_sha256": checkpointing.config_sha256,
            "epoch": progress.epoch,
            "model": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": progress.history,
            "best_value": progress.best_value,
            "best_state": progress.best_state,
            "best_epoch": progress.best_epoch,
            "stale_epochs": progress.stale_epochs,
            "random": random_state,
            **state,
        },
    )


def _resume(state: dict[str, Any], network: nn.Module, optimizer: torch.optim.Optimizer, generator, session: Any = None) -> Progress:
    """Load a checkpoint into the network, the optimizer and the random generators."""
    network.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    random_state = state["random"] if session is None else state["random_ranks"][session.rank]
    restore_random_state(random_state, generator)
    return Progress(
        history=[dict(row) for row in state["history"]],
        best_value=state["best_value"],
        best_state=state["best_state"],
        best_epoch=state["best_epoch"],
        stale_epochs=state["stale_epochs"],
    )


def train_network(
    network: nn.Module,
    train_split: Split,
    val_split: Split | None,
    task: str,
    config: ExperimentConfig,
    context: TrainContext,
    scaler: TargetScaler | None = None,
) -> tuple[nn.Module, list[dict[str, Any]], dict[str, Any]]:
    """Train ``network`` and return it with the best weights, the history and loop facts.

    With ``context.checkpointing``, the state after each epoch is saved there, and training
    continues from ``checkpointing.resume_from`` when it is set. The batch order comes from a
    generator whose state is part of the checkpoint, so a resumed run sees the same batches.

    With ``context.distributed``, every rank trains a DistributedDataParallel replica on its part
    of each global batch of ``train.batch_size`` rows. Rank 0 alone evaluates the validation
    split, decides on early stopping and saves checkpoints; the other ranks get its decision.

    Raises:
        ConfigError: for a loss that does not fit the task, or CUDA requested but missing.
        TrainerError: when the loss becomes NaN or infinite.
    """
    train = config.train
    session = context.distributed
    device = torch.device(session.device) if session is not None else resolve_device(train.device)
    loss_name = train.loss
    if loss_name == "auto":
        loss_name = "cross_entropy" if task == "classification" else "mse"
    if (loss_name == "cross_entropy") != (task == "classification"):
        raise ConfigError(
            f"train.loss '{loss_name}' does not fit a {task} task",
            hint="use loss: auto, or cross_entropy for classification and mse otherwise",
        )
    criterion = nn.CrossEntropyLoss() if loss_name == "cross_entropy" else nn.MSELoss()
    network.to(device)
    optimizer = build_optimizer(network.parameters(), train)
    generator = torch.Generator().manual_seed(config.seed)
    if session is not None:
        # Every rank built the same initial weights from the seed; dropout gets a stream per rank.
        torch.manual_seed(config.seed + session.rank)

    stopping = train.early_stopping
    watched = stopping.metric if stopping else None
    if watched and val_split is None:
        raise ConfigError(
            "train.early_stopping needs a validation split, but dataset.split.val_size is 0",
            hint="set dataset.split.val_size above 0, or remove early_stopping",
        )
    if watched:
        _check_watched_metric(watched, task)
    checkpointing = context.checkpointing
    progress = Progress(history=[])
    if checkpointing is not None and checkpointing.resume_from is not None:
        progress = _resume(checkpointing.resume_from, network, optimizer, generator, session)
        context.reporter.status(f"resuming after epoch {progress.epoch}")
    inputs_train = train_split.inputs.to(device)
    targets_train = train_split.targets.to(device)
    if session is None:
        step = _SingleStep(network, optimizer, criterion, task)
    else:
        step = _ShardedStep(network, optimizer, loss_name, task, session)

    with session.deferred_interrupts() if session is not None else contextlib.nullcontext():
        for epoch in range(progress.epoch + 1, train.epochs + 1):
            started = time.perf_counter()

            # Optimise over the training split in a seeded random order.
            network.train()
            order = torch.randperm(len(train_split), generator=generator)
            total_loss = 0.0
            for start in range(0, len(order), train.batch_size):
                total_loss += step(order[start : start + train.batch_size], inputs_train, targets_train, epoch)
            row: dict[str, Any] = {"epoch": epoch, "train_loss": total_loss / len(train_split)}

            # Evaluate on the validation split: rank 0 alone in a distributed run.
            evaluates = session is None or session.is_main
            if evaluates and val_split is not None and len(val_split) > 0:
                outputs = predict(network, val_split.inputs, device)
                targets = val_split.targets
                val_loss = criterion(outputs if task == "classification" else outputs.squeeze(-1), targets).item()
                row["val_loss"] = val_loss
                row.update({f"val_{key}": value for key, value in _epoch_metrics(task, outputs, targets, scaler).items()})
            row["seconds"] = round(time.perf_counter() - started, 4)
            progress.history.append(row)

            # Keep the best weights, so that the checkpoint then contains everything the next epoch needs.
            stop = evaluates and watched is not None and _track_best(progress, row, watched, stopping, network, task)
            if session is not None:
                stop = session.broadcast(stop)
            if checkpointing is not None and not stop and epoch < train.epochs:
                _save_checkpoint(checkpointing, network, optimizer, progress, generator, session)
            context.reporter.epoch(epoch, train.epochs, row)
            if stop:
                context.reporter.status(f"early stopping after epoch {epoch}; best epoch {progress.best_epoch}")
                break

    if progress.best_state is not None:
        network.load_state_dict(progress.best_state)
    facts = {
        "device": str(device),
        "epochs_run": len(progress.history),
        "best_epoch": progress.best_epoch or len(progress.history),
        "loss": loss_name,
    }
    if watched:
        facts["early_stopping_metric"] = watched
    return network, progress.history, facts


class _SingleStep:
    """One optimisation step of a single process on a batch of row indices."""

    def __init__(self, network: nn.Module, optimizer: torch.optim.Optimizer, criterion: nn.Module, task: str) -> None:
        self.network, self.optimizer, self.criterion, self.task = network, optimizer, criterion, task

    def __call__(self, batch: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, epoch: int) -> float:
        """Optimise on ``batch`` and return the summed loss of its rows."""
        batch = batch.to(inputs.device)
        self.optimizer.zero_grad(set_to_none=True)
        outputs = self.network(inputs[batch])
        if self.task != "classification":
            outputs = outputs.squeeze(-1)
        loss = self.criterion(outputs, targets[batch])
        # One read of the loss serves the check and the sum. A separate torch.isfinite call took
        # about 4% of the time of the LSTM benchmark (batches of 16 rows, one CPU thread).
        value = loss.item()
        if not math.isfinite(value):
            raise _non_finite_loss(value, epoch)
        loss.backward()
        self.optimizer.step()
        return value * len(batch)


class _ShardedStep:
    """One optimisation step of a DistributedDataParallel rank on its part of a global batch.

    Each rank takes a contiguous part of the global batch (parts differ by at most one row).
    Its loss is the sum over its rows times world size / global batch rows, and DDP averages the
    gradients over the ranks, so the update is that of the mean loss over the global batch, as
    in one process. A rank whose part of a short last batch is empty runs the batch's first row
    with weight 0, so that it still takes part in the gradient all-reduce.
    """

    def __init__(self, network: nn.Module, optimizer: torch.optim.Optimizer, loss_name: str, task: str, session: Any) -> None:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [network_device(network)] if session.backend == "nccl" else None
        self.model = DistributedDataParallel(network, device_ids=device_ids)
        self.optimizer, self.task, self.session = optimizer, task, session
        self.criterion = nn.CrossEntropyLoss(reduction="sum") if loss_name == "cross_entropy" else nn.MSELoss(reduction="sum")

    def __call__(self, batch: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, epoch: int) -> float:
        """Optimise on this rank's part of ``batch`` and return the summed loss of all its rows."""
        session = self.session
        part = torch.tensor_split(batch, session.world_size)[session.rank]
        weight = 1.0
        if len(part) == 0:
            part, weight = batch[:1], 0.0
        part = part.to(inputs.device)
        self.optimizer.zero_grad(set_to_none=True)
        outputs = self.model(inputs[part])
        if self.task != "classification":
            outputs = outputs.squeeze(-1)
        loss_sum = self.criterion(outputs, targets[part]) * weight

        # One all-reduce gives every rank the batch's loss and any pending SIGINT or SIGTERM,
        # so all ranks stop together on a non-finite loss or an interrupt.
        totals = session.all_reduce_sum([loss_sum.item(), *session.pending_interrupts()])
        code = session.interrupt_code(totals)
        if code:
            raise RunInterrupted(code)
        if not math.isfinite(totals[0]):
            raise _non_finite_loss(totals[0] / len(batch), epoch)
        (loss_sum * (session.world_size / len(batch))).backward()
        self.optimizer.step()
        return totals[0]


def network_device(network: nn.Module) -> torch.device:
    return next(network.parameters()).device


def _non_finite_loss(value: float, epoch: int) -> TrainerError:
    return TrainerError(
        f"loss became {value} at epoch {epoch}",
        hint="lower train.optimizer.lr, or scale the features with a `scale` preprocess step",
    )


def _track_best(progress: Progress, row: dict[str, Any], watched: str, stopping, network: nn.Module, task: str) -> bool:
    """Record an improvement of the watched metric; return whether training should stop."""
    value = row.get(watched)
    if value is None:
        raise TrainerError(f"epoch {row['epoch']} did not compute train.early_stopping.metric '{watched}'")
    if _improved(value, progress.best_value, watched, stopping.min_delta):
        progress.best_value, progress.best_epoch, progress.stale_epochs = value, row["epoch"], 0
        progress.best_state = {key: tensor.detach().clone() for key, tensor in network.state_dict().items()}
        return False
    progress.stale_epochs += 1
    return progress.stale_epochs >= stopping.patience


def save_network(
    network: nn.Module, spec: dict[str, Any], context: TrainContext, preprocessing: Any | None = None
) -> list[str]:
    """Save weights (loadable with ``weights_only=True``), the architecture and the preprocessing."""
    import io

    buffer = io.BytesIO()
    torch.save({key: tensor.cpu() for key, tensor in network.state_dict().items()}, buffer)
    write_atomic(context.model_dir / "weights.pt", buffer.getvalue())
    write_atomic(context.model_dir / "model.json", dumps_json(spec))
    saved = ["model/weights.pt", "model/model.json"]
    if preprocessing is not None:
        from dmrun.trainers.persist import save_preprocessing

        saved += save_preprocessing(preprocessing, context)
    return saved


def run_supervised(
    config: ExperimentConfig,
    data: Any,
    context: TrainContext,
    build_network: Callable[[int, int], nn.Module],
    shape_inputs: Callable[[np.ndarray], torch.Tensor],
    spec: dict[str, Any],
) -> TrainResult:
    """Train and evaluate a network on ``SupervisedData``; shared by mlp, cnn and rnn.

    ``shape_inputs`` turns a (rows, features) array into the network's input tensor, and
    ``build_network(n_features, n_outputs)`` constructs the untrained module.
    """
    seed_everything(config.seed)
    classification = data.task == "classification"
    n_outputs = len(data.classes) if classification else 1
    scaler = None if classification else TargetScaler.fit(data.y_train)

    def split(inputs: np.ndarray, targets: np.ndarray) -> Split:
        inputs = _row_major(inputs)
        if classification:
            return Split(shape_inputs(inputs), torch.as_tensor(targets, dtype=torch.long))
        return Split(shape_inputs(inputs), torch.as_tensor(scaler.transform(targets)))

    train_split = split(data.X_train, data.y_train)
    val_split = split(data.X_val, data.y_val) if len(data.y_val) else None
    network = build_network(data.X_train.shape[1], n_outputs)
    network, history, facts = train_network(network, train_split, val_split, data.task, config, context, scaler)
    if not context.writes_outputs:
        return TrainResult(metrics={}, history=history)

    # Final evaluation on the held-out test split.
    outputs = predict(network, shape_inputs(_row_major(data.X_test)), torch.device(facts["device"]))
    probabilities = None
    if classification:
        predicted = outputs.argmax(dim=1).numpy()
        probabilities = torch.softmax(outputs, dim=1).numpy()  # (N, classes)
    else:
        predicted = scaler.inverse(outputs.squeeze(-1).numpy())
    metrics = supervised_metrics(data.task, data.y_test, predicted, data.classes)
    metrics.update(facts)
    if history and "val_loss" in history[-1]:
        metrics["final_val_loss"] = history[-1]["val_loss"]
    metrics["final_train_loss"] = history[-1]["train_loss"]

    spec = {
        **spec,
        "task": data.task,
        "n_features": int(data.X_train.shape[1]),
        "n_outputs": n_outputs,
        "feature_names": data.feature_names,
        "classes": data.classes,
        "target_scaler": None if scaler is None else {"mean": scaler.mean, "std": scaler.std},
    }
    artifacts = save_network(network, spec, context, data.preprocessing)
    write_predictions(context.artifacts / "predictions.csv", data.y_test, predicted, data.classes, probabilities)
    artifacts.append("artifacts/predictions.csv")
    if classification:
        write_confusion_matrix(context.artifacts / "confusion_matrix.csv", metrics["confusion_matrix"], data.classes)
        artifacts.append("artifacts/confusion_matrix.csv")
    return TrainResult(metrics=metrics, history=history, artifacts=artifacts)


def _row_major(array: np.ndarray) -> np.ndarray:
    """Return ``array`` as a C-contiguous float32 array, copying only when needed.

    The preprocessing output comes from pandas in column-major order. A batch taken from
    column-major inputs gathers each of its rows from ``n_features`` places in memory, which
    made an MLP training step on MNIST-sized rows about 20% slower.
    """
    return np.ascontiguousarray(array, dtype=np.float32)


def square_hint(n_features: int) -> str:
    side = math.isqrt(n_features)
    if side * side == n_features:
        return f" (= 1x{side}x{side}?)"
    if n_features % 3 == 0 and math.isqrt(n_features // 3) ** 2 == n_features // 3:
        side = math.isqrt(n_features // 3)
        return f" (= 3x{side}x{side}?)"
    return ""


def json_spec(config: ExperimentConfig) -> dict[str, Any]:
    return json.loads(config.model.model_dump_json())
