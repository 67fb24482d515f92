"""Peer: a hand-written PyTorch script training the same LSTM forecaster as the benchmark's dmrun config.

The series is cut in time order into 70/10/20 train, validation and test parts. The target is
standardised with the mean and standard deviation of the training part. Windows of 12 past
values predict the next one, through an LSTM with 32 hidden units and a linear head, trained
with Adam and MSE loss for the same epochs and batch size as dmrun. The validation loss and
RMSE are computed after every epoch.

    python torch_forecast.py DATA.csv TARGET EPOCHS BATCH_SIZE
"""

import sys

import numpy as np
import pandas as pd
import torch
from torch import nn

WINDOW, HIDDEN, LR = 12, 32, 5e-3

path, target, epochs, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
series = pd.read_csv(path)[target].to_numpy(dtype=np.float64)
n_test = max(1, round(len(series) * 0.2))
n_val = round(len(series) * 0.1)
n_train = len(series) - n_test - n_val
mean, std = series[:n_train].mean(), series[:n_train].std()
scaled = ((series - mean) / std).astype(np.float32)


def windows(first, stop):
    """Return the windows whose target lies in positions first..stop-1, and those targets."""
    starts = np.arange(max(first, WINDOW), stop)
    inputs = np.stack([scaled[start - WINDOW : start] for start in starts])[:, :, None]  # (N, WINDOW, 1)
    return torch.as_tensor(inputs), torch.as_tensor(scaled[starts])


x_train, y_train = windows(0, n_train)
x_val, y_val = windows(n_train, n_train + n_val)
x_test, y_test = windows(n_train + n_val, len(series))


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, inputs):
        _, (hidden, _) = self.lstm(inputs)
        return self.head(hidden[-1]).squeeze(-1)


model = Forecaster()
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
loss_function = nn.MSELoss()
for epoch in range(epochs):
    model.train()
    order = torch.randperm(len(y_train))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        optimizer.zero_grad()
        loss = loss_function(model(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(x_val)
        val_loss = loss_function(predicted, y_val).item()
        val_rmse = float(((predicted - y_val) * std).pow(2).mean().sqrt())
    print(f"epoch {epoch + 1} val_loss {val_loss:.4f} val_rmse {val_rmse:.2f}", file=sys.stderr)
with torch.no_grad():
    error = (model(x_test).double() - y_test.double()) * std
print(f"rmse {float(error.pow(2).mean().sqrt()):.3f}")
