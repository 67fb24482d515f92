"""`dmrun predict --labels`: IDX and .npy data with a separate labels file get scored."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from helpers import only_run_folder, read_json, strict_json

# The shared datasets folder sits beside the repository, as in test_shared_datasets.py.
DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def write_idx(path: Path, array: np.ndarray) -> Path:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if path.name.endswith(".gz") else payload)
    return path


def noisy_images(rows: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Return 4x4 images whose brightness depends on one of 3 labels, with overlap between them."""
    rng = np.random.default_rng(5)
    labels = np.arange(rows) % 3
    images = rng.integers(0, 120, size=(rows, 4, 4)) + labels[:, None, None] * 40
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_pair(folder: Path, kind: str, images: np.ndarray, labels: np.ndarray, stem: str) -> tuple[Path, Path]:
    if kind == "idx":
        return write_idx(folder / f"{stem}-images-idx3-ubyte", images), write_idx(folder / f"{stem}-labels-idx1-ubyte", labels)
    np.save(folder / f"{stem}-x.npy", images.reshape(len(images), -1))
    np.save(folder / f"{stem}-y.npy", labels)
    return folder / f"{stem}-x.npy", folder / f"{stem}-y.npy"


def train_unshuffled(cli, write_config, tmp_path: Path, data: Path, labels: Path, model: str) -> Path:
    """Train with the test part taken from the end of the file, so it can be cut out for predict."""
    config = write_config(
        f"""
        name: paired
        dataset: {{path: {data}, labels: {labels}, split: {{shuffle: false, test_size: 0.25, val_size: 0}}}}
        model: {model}
        """
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    return only_run_folder(tmp_path / "runs")


@pytest.mark.parametrize("kind", ["idx", "npy"])
def test_labels_reproduce_test_metrics(cli, write_config, tmp_path, kind):
    images, labels = noisy_images()
    data, label_file = write_pair(tmp_path, kind, images, labels, "all")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 3}")
    n_test = read_json(run / "data.json")["split"]["test"]
    held_out, held_labels = write_pair(tmp_path, kind, images[-n_test:], labels[-n_test:], "test")

    result = cli("predict", run, held_out, "--labels", held_labels, "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    metrics = read_json(run / "metrics.json")
    assert 0 < metrics["accuracy"] < 1  # the classes overlap, so the check is not trivially 1.0
    assert document["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert document["metrics"]["f1_macro"] == pytest.approx(metrics["f1_macro"])
    assert [row["label"] for row in document["predictions"]] == labels[-n_test:].tolist()


def test_without_labels_no_metrics(cli, write_config, tmp_path):
    images, labels = noisy_images()
    data, label_file = write_pair(tmp_path, "idx", images, labels, "all")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 3}")
    document = strict_json(cli("predict", run, data, "--json").stdout)
    assert document["metrics"] is None
    assert len(document["predictions"]) == len(images)


def test_labels_count_mismatch(cli, write_config, tmp_path):
    images, labels = noisy_images()
    data, label_file = write_pair(tmp_path, "idx", images, labels, "all")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 3}")
    short = write_idx(tmp_path / "short-labels-idx1-ubyte", labels[:10])
    result = cli("predict", run, data, "--labels", short)
    assert result.exit_code == 3
    assert "90 feature rows but 10 labels" in result.stderr


def test_labels_rejected_for_table(cli, write_config, tmp_path):
    images, labels = noisy_images()
    data, label_file = write_pair(tmp_path, "npy", images, labels, "all")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 3}")
    table = tmp_path / "rows.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    result = cli("predict", run, table, "--labels", label_file)
    assert result.exit_code == 2
    assert "--labels pairs a labels file with IDX or .npy data, but rows.csv is read as csv" in result.stderr


def test_labels_file_not_found(cli, write_config, tmp_path):
    images, labels = noisy_images()
    data, label_file = write_pair(tmp_path, "npy", images, labels, "all")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 3}")
    result = cli("predict", run, data, "--labels", tmp_path / "nowhere.npy")
    assert result.exit_code == 2
    assert "--labels file not found" in result.stderr


def test_mnist_test_part_reproduced(cli, write_config, tmp_path):
    from dmrun.data.formats import read_idx_array

    images_path = DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz"
    labels_path = DATASETS / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not (images_path.is_file() and labels_path.is_file()):
        pytest.skip(f"MNIST test files not found under {DATASETS / 'mnist'}")
    # The first 1,200 test images keep the run short.
    images, labels = read_idx_array(images_path)[:1200], read_idx_array(labels_path)[:1200]
    data, label_file = write_pair(tmp_path, "idx", images, labels, "mnist")
    run = train_unshuffled(cli, write_config, tmp_path, data, label_file, "{type: tree, max_depth: 8}")
    n_test = read_json(run / "data.json")["split"]["test"]
    held_out, held_labels = write_pair(tmp_path, "idx", images[-n_test:], labels[-n_test:], "tail")

    result = cli("predict", run, held_out, "--labels", held_labels, "--json")
    assert result.exit_code == 0, result.output
    predicted = strict_json(result.stdout)["metrics"]
    assert n_test == 300
    assert predicted["accuracy"] == pytest.approx(read_json(run / "metrics.json")["accuracy"])
    assert predicted["accuracy"] > 0.6
