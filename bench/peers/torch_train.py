"""Peer: a hand-written PyTorch script training the same MLP or CNN as the benchmark's dmrun config.

Same CSV, same stratified 70/10/20 split, standard scaling fitted on the training rows, same
layers, Adam, epochs and batch size, the validation split evaluated after every epoch.

    python torch_train.py DATA.csv mlp|cnn EPOCHS BATCH_SIZE
"""

import sys

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

path, kind, epochs, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
frame = pd.read_csv(path)
labels = frame.pop("label").to_numpy()
features = frame.to_numpy(dtype=np.float64)
rows = np.arange(len(labels))
rest, test = train_test_split(rows, test_size=0.2, random_state=0, stratify=labels)
train, val = train_test_split(rest, test_size=0.1 / 0.8, random_state=0, stratify=labels[rest])
scaler = StandardScaler().fit(features[train])


def tensors(index):
    inputs = torch.as_tensor(scaler.transform(features[index]), dtype=torch.float32)
    if kind == "cnn":
        inputs = inputs.reshape(-1, 1, 28, 28)
    return inputs, torch.as_tensor(labels[index], dtype=torch.long)


x_train, y_train = tensors(train)
x_val, y_val = tensors(val)
x_test, y_test = tensors(test)
if kind == "mlp":
    model = nn.Sequential(
        nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10)
    )
else:
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10),
    )
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_function = nn.CrossEntropyLoss()
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
        val_accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    print(f"epoch {epoch + 1} loss {loss.item():.4f} val_accuracy {val_accuracy:.4f}", file=sys.stderr)
with torch.no_grad():
    print(f"accuracy {(model(x_test).argmax(1) == y_test).float().mean().item():.4f}")
