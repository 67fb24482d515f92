"""Model files crafted to run code on loading: predict rejects them and the code never runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import run_folders

IRIS_CSV = "sepal_length,sepal_width,petal_length,petal_width,species\n" + "".join(
    f"{5 + index % 3}.1,{3 + index % 2}.5,{1 + index % 5}.4,0.{index % 9},{('a', 'b', 'c')[index % 3]}\n"
    for index in range(30)
)


class RunsCode:
    """Unpickling this object calls ``os.mkdir(marker)``; a safe loader never does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def trained_run(cli, write_config, tmp_path: Path, model: str) -> Path:
    (tmp_path / "rows.csv").write_text(IRIS_CSV, encoding="utf-8")
    config = write_config(f"dataset: {{path: rows.csv, target: species}}\nmodel: {model}\n")
    assert cli("train", config, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0
    (folder,) = run_folders(tmp_path / "runs")
    return folder


def test_torch_payload_never_runs(cli, write_config, tmp_path):
    import torch

    folder = trained_run(cli, write_config, tmp_path, "{type: mlp, hidden_sizes: [4]}\ntrain: {epochs: 1}")
    marker = tmp_path / "code-ran"
    torch.save({"0.weight": RunsCode(marker)}, folder / "model" / "weights.pt")

    result = cli("predict", folder, tmp_path / "rows.csv")

    assert result.exit_code == 1
    assert "cannot load model weights" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("stem", ["estimator", "pipeline"])
def test_pickled_model_arrays_never_run(cli, write_config, tmp_path, stem):
    import numpy as np

    folder = trained_run(cli, write_config, tmp_path, "{type: tree}\npreprocess: [{step: scale}]")
    marker = tmp_path / "code-ran"
    with open(folder / "model" / f"{stem}.npz", "wb") as stream:
        np.savez(stream, a0=np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    assert not marker.exists()

    result = cli("predict", folder, tmp_path / "rows.csv")

    assert result.exit_code == 1
    assert "cannot read the model arrays" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_text_imputer_round_trips():
    import numpy as np
    import pandas as pd
    from sklearn.impute import SimpleImputer

    from dmrun import sklearn_format

    frame = pd.DataFrame({"port": ["S", "C", None, "S"], "deck": ["B", None, "B", "E"]}, dtype=object)
    imputer = SimpleImputer(strategy="most_frequent").fit(frame)
    text, arrays = sklearn_format.dumps(imputer)
    folder = Path(os.environ["DMRUN_RUNS_DIR"]).parent
    (folder / "imputer.json").write_text(text, encoding="utf-8")
    (folder / "imputer.npz").write_bytes(arrays)
    loaded = sklearn_format.load(folder / "imputer.json")
    assert np.array_equal(loaded.transform(frame), imputer.transform(frame))

