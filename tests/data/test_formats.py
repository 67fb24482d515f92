"""Readers beyond CSV: Parquet, JSON Lines, ARFF, NumPy and IDX, and files that lie about their format."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from helpers import read_json, strict_json, train_config


def iris_frame():
    import pandas as pd
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = [bunch.target_names[code] for code in bunch.target]
    return frame.drop(columns=["target"]).pipe(pd.DataFrame)


def run_summary(outcome) -> dict:
    return read_json(outcome.run.path / "data.json")


# --- Parquet ---------------------------------------------------------------------------------


def write_filtered_parquet(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Six rows a, b filtered three ways and saved with pandas defaults.

    Rows with a > 2 keep a contiguous index (pandas stores it as metadata), rows 0, 2 and 5 keep
    an irregular index (stored as the column ``__index_level_0__``), and a < 0 keeps no rows.
    """
    import pandas as pd

    frame = pd.DataFrame({"a": [0, 1, 2, 3, 4, 5], "b": [10, 11, 12, 13, 14, 15]})
    paths = tmp_path / "kept.parquet", tmp_path / "irregular.parquet", tmp_path / "empty.parquet"
    frame[frame["a"] > 2].to_parquet(paths[0], engine="pyarrow")
    frame[frame["a"].isin([0, 2, 5])].to_parquet(paths[1], engine="pyarrow")
    frame[frame["a"] < 0].to_parquet(paths[2], engine="pyarrow")
    return paths


@pytest.mark.parametrize("name", ["kept", "irregular"])
def test_parquet_index_never_a_feature(tmp_path, write_config, name):
    import pyarrow.parquet as pq

    write_filtered_parquet(tmp_path)
    if name == "irregular":
        assert "__index_level_0__" in pq.read_schema(tmp_path / "irregular.parquet").names  # the file carries the index
    config = write_config(f"name: pq\ndataset: {{path: {name}.parquet}}\nmodel: {{type: kmeans, n_clusters: 2}}\n")
    summary = run_summary(train_config(config, tmp_path / "runs"))
    assert summary["features"] == ["a", "b"]
    assert [column["name"] for column in summary["columns"]] == ["a", "b"]
    assert summary["rows"] == 3
    if name == "irregular":
        assert summary["reader"]["index_columns_dropped"] == ["__index_level_0__"]


def test_parquet_empty_selection_named(tmp_path, write_config, cli):
    write_filtered_parquet(tmp_path)
    config = write_config("name: pq\ndataset: {path: empty.parquet}\nmodel: {type: kmeans, n_clusters: 2}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "dataset has 0 rows" in result.stderr
    assert "columns: a, b" in result.stderr
    assert "Traceback" not in result.output


def test_parquet_types_kept(tmp_path, write_config):
    frame = iris_frame()
    frame["species"] = frame["species"].astype("category")
    frame.to_parquet(tmp_path / "iris.parquet")
    config = write_config("name: pq\ndataset: {path: iris.parquet, target: species}\nmodel: {type: tree}\n")
    summary = run_summary(train_config(config, tmp_path / "runs"))
    dtypes = {column["name"]: column["dtype"] for column in summary["columns"]}
    assert dtypes["sepal_length"] == "float64"
    assert summary["label_mapping"] == {"0": "setosa", "1": "versicolor", "2": "virginica"}


# --- files that are not what their name says -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.parquet", b"a,b\n1,2\n", "read as parquet, but its content is a text file"),
        ("data.npy", b"1 2 3\n4 5 6\n", "read as npy, but its content is a text file"),
        ("data.npz", b"x,y\n", "read as npz, but its content is a text file"),
        ("data.csv", b"PAR1\x15\x04\x15\x00", "read as csv, but its content is a parquet file"),
        ("data.csv.gz", b"a,b\n1,2\n", "is not a gzip file"),
        ("images-idx3-ubyte", b"hello world", "read as idx, but its content is a text file"),
    ],
    ids=["csv-as-parquet", "text-as-npy", "text-as-npz", "parquet-as-csv", "fake-gzip", "text-as-idx"],
)
def test_wrong_extension_is_data_error(tmp_path, write_config, cli, name, content, expected):
    (tmp_path / name).write_bytes(content)
    config = write_config(f"name: wrong\ndataset: {{path: {name}, target: b}}\nmodel: {{type: tree}}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert expected in result.stderr
    assert name in result.stderr
    assert "dataset.format" in result.stderr or "rename" in result.stderr
    assert "Traceback" not in result.output


def _write_parquet(path: Path) -> None:
    import pandas as pd

    pd.DataFrame({"a": range(200), "b": ["x", "y"] * 100}).to_parquet(path)


def _write_npy(path: Path) -> None:
    np.save(path, np.arange(2000.0).reshape(200, 10))


def _write_xlsx(path: Path) -> None:
    import pandas as pd

    pd.DataFrame({"a": range(200), "b": ["x", "y"] * 100}).to_excel(path, index=False)


@pytest.mark.parametrize(
    ("name", "write", "expected"),
    [
        ("cut.parquet", _write_parquet, "cannot read cut.parquet as Parquet"),
        ("cut.npy", _write_npy, "cannot read cut.npy as a NumPy file"),
        ("cut.xlsx", _write_xlsx, "cut.xlsx starts like an Excel workbook (a ZIP archive), but the archive cannot be opened"),
    ],
    ids=["parquet", "npy", "xlsx"],
)
def test_truncated_file_called_damaged(tmp_path, write_config, cli, name, write, expected):
    # The first bytes match the format, so renaming or setting dataset.format would not help.
    whole = tmp_path / f"whole-{name}"
    write(whole)
    content = whole.read_bytes()
    (tmp_path / name).write_bytes(content[: len(content) // 2])
    target = "" if name.endswith(".npy") else ", target: b"
    model = "kmeans" if name.endswith(".npy") else "tree"
    config = write_config(f"name: cut\ndataset: {{path: {name}{target}}}\nmodel: {{type: {model}}}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert expected in result.stderr
    assert "truncated or damaged" in result.stderr
    assert "dataset.format" not in result.stderr
    assert "Traceback" not in result.output


def test_failed_run_records_message(tmp_path, write_config, cli):
    (tmp_path / "data.parquet").write_bytes(b"a,b\n1,2\n")
    config = write_config("name: wrong\ndataset: {path: data.parquet, target: b}\nmodel: {type: tree}\n")
    assert cli("train", config, "--runs-dir", tmp_path / "runs", "-q").exit_code == 3
    record = read_json(next((tmp_path / "runs").iterdir()) / "run.json")
    assert record["status"] == "failed"
    assert record["exit_code"] == 3
    assert "content is a text file" in record["error"]["message"]


# --- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_reads_types(tmp_path, write_config):
    import json

    frame = iris_frame()
    lines = [json.dumps(record) for record in frame.to_dict("records")]
    lines[3] = json.dumps({**frame.iloc[3].to_dict(), "petal_width": None})
    (tmp_path / "iris.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    config = write_config(
        "name: js\ndataset: {path: iris.jsonl, target: species}\n"
        "preprocess: [{step: impute, strategy: median}]\nmodel: {type: tree}\n"
    )
    summary = run_summary(train_config(config, tmp_path / "runs"))
    columns = {column["name"]: column for column in summary["columns"]}
    assert columns["petal_width"]["dtype"] == "float64"
    assert columns["petal_width"]["missing"] == 1
    assert summary["rows"] == 150
    assert summary["reader"]["blank_lines_skipped"] == 2


def test_jsonl_bad_line_named(tmp_path, write_config, cli):
    (tmp_path / "bad.jsonl").write_text('{"x": 1, "y": "a"}\n{"x": 2, "y": "b"\n', encoding="utf-8")
    config = write_config("name: js\ndataset: {path: bad.jsonl, target: y}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "bad.jsonl line 2: invalid JSON" in result.stderr


# --- ARFF ------------------------------------------------------------------------------------

DENSE_ARFF = """% Weather data, with comments and quoted names
@RELATION 'weather data'

@ATTRIBUTE outlook {sunny, overcast, 'light rain'}
@attribute 'air temperature' numeric
@attribute humidity REAL
@attribute windy {TRUE, FALSE}
@attribute note string
@attribute day date yyyy-MM-dd
@attribute play {yes, no}

@DATA
% a comment inside the data
sunny,85,85,FALSE,'dry, hot',2024-01-01,no
sunny,80,90,TRUE,?,2024-01-02,no
overcast,83,86,FALSE,"it's fine",2024-01-03,yes
'light rain',70,?,FALSE,plain,2024-01-04,yes
'light rain',68,80,FALSE,plain,2024-01-05,yes
'light rain',65,70,TRUE,plain,2024-01-06,no
overcast,64,65,TRUE,plain,2024-01-07,yes
sunny,72,95,FALSE,plain,2024-01-08,no
sunny,69,70,FALSE,plain,2024-01-09,yes
'light rain',75,80,FALSE,plain,2024-01-10,yes
"""


def test_arff_dense_types(tmp_path):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    (tmp_path / "weather.arff").write_text(DENSE_ARFF, encoding="utf-8")
    table = read_file(tmp_path / "weather.arff", DatasetConfig(path="weather.arff"))
    frame = table.frame
    assert list(frame.columns) == ["outlook", "air temperature", "humidity", "windy", "note", "day", "play"]
    assert frame.shape == (10, 7)
    assert str(frame["air temperature"].dtype) == "float64"
    assert frame["humidity"].isna().sum() == 1
    assert frame["note"].iloc[0] == "dry, hot"
    assert frame["note"].iloc[2] == "it's fine"
    assert frame["note"].isna().sum() == 1
    assert frame["outlook"].iloc[3] == "light rain"
    assert str(frame["day"].dtype).startswith("datetime64")
    assert table.summary["relation"] == "weather data"
    assert table.summary["attribute_types"]["outlook"] == "nominal"


def test_arff_trains_tree(tmp_path, write_config):
    (tmp_path / "weather.arff").write_text(DENSE_ARFF, encoding="utf-8")
    config = write_config(
        "name: arff\ndataset: {path: weather.arff, target: play, exclude: [note, day], split: {test_size: 0.3}}\n"
        "preprocess: [{step: impute, strategy: median}, {step: onehot}]\nmodel: {type: tree}\n"
    )
    summary = run_summary(train_config(config, tmp_path / "runs"))
    assert "outlook_light rain" in summary["features"]
    assert "note" not in [column["name"] for column in summary["columns"]]


SPARSE_ARFF = """@relation sparse
@attribute a numeric
@attribute b numeric
@attribute colour {red, green}
@attribute label {x, y}
@data
{0 1.5, 3 y}
{1 2, 2 green}
{}
{0 ?, 3 y}
"""


def test_arff_sparse_fills_zeros(tmp_path):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    (tmp_path / "sparse.arff").write_text(SPARSE_ARFF, encoding="utf-8")
    table = read_file(tmp_path / "sparse.arff", DatasetConfig(path="sparse.arff"))
    frame = table.frame
    assert frame["a"].tolist()[:3] == [1.5, 0.0, 0.0]
    assert np.isnan(frame["a"].iloc[3])
    assert frame["b"].tolist() == [0.0, 2.0, 0.0, 0.0]
    assert frame["colour"].tolist() == ["red", "green", "red", "red"]  # omitted nominal = first value
    assert frame["label"].tolist() == ["y", "x", "x", "y"]
    assert table.summary["sparse_rows"] == 4


@pytest.mark.parametrize(
    ("data_line", "expected"),
    [
        ("1,2,red", "line 7: 3 values, but the header declares 4 attributes"),
        ("1,2,blue,x", "line 7: value 'blue' of attribute 'colour' is not one of its declared values"),
        ("1,high,red,x", "line 7: attribute 'b' is numeric, but the value is 'high'"),
        ("{9 1}", "line 7: sparse index 9 is out of range"),
        ("'open,2,red,x", "line 7: unclosed quote"),
    ],
    ids=["count", "nominal", "numeric", "sparse-index", "quote"],
)
def test_arff_errors_name_line(tmp_path, write_config, cli, data_line, expected):
    header = SPARSE_ARFF.split("@data")[0] + "@data\n"
    (tmp_path / "bad.arff").write_text(header + data_line + "\n", encoding="utf-8")
    config = write_config("name: arff\ndataset: {path: bad.arff, target: label}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert f"bad.arff {expected}" in result.stderr
    assert "Traceback" not in result.output


def test_arff_unknown_type_named(tmp_path):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file
    from dmrun.errors import DataError

    (tmp_path / "rel.arff").write_text("@relation r\n@attribute bag relational\n@data\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: attribute 'bag' has type 'relational'"):
        read_file(tmp_path / "rel.arff", DatasetConfig(path="rel.arff"))


# --- NumPy -----------------------------------------------------------------------------------


def test_npz_reads_x_and_y(tmp_path, write_config):
    frame = iris_frame()
    np.savez(tmp_path / "iris.npz", X=frame.drop(columns="species").to_numpy(), y=frame["species"].to_numpy().astype(str))
    config = write_config("name: npz\ndataset: {path: iris.npz}\nmodel: {type: tree}\n")
    summary = run_summary(train_config(config, tmp_path / "runs"))
    assert summary["target"] == "label"
    assert summary["features"] == ["x1", "x2", "x3", "x4"]
    assert summary["reader"]["features_array"] == "X"
    assert summary["reader"]["labels_array"] == "y"
    assert summary["label_mapping"]["0"] == "setosa"


def test_npz_unknown_keys_listed(tmp_path, write_config, cli):
    np.savez(tmp_path / "odd.npz", inputs=np.zeros((4, 2)), outputs=np.zeros(4))
    config = write_config("name: npz\ndataset: {path: odd.npz}\nmodel: {type: kmeans, n_clusters: 2}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "arrays present: inputs, outputs" in result.stderr
    assert "dataset.arrays" in result.stderr


def test_npz_named_arrays(tmp_path, write_config):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "named.npz", inputs=rng.normal(size=(40, 3)), outputs=np.arange(40) % 2)
    config = write_config(
        "name: npz\ndataset: {path: named.npz, arrays: [inputs, outputs]}\nmodel: {type: tree}\n"
    )
    summary = run_summary(train_config(config, tmp_path / "runs"))
    assert summary["features"] == ["x1", "x2", "x3"]
    assert summary["class_balance"] == {"0": 20, "1": 20}


def test_npy_object_array_rejected(tmp_path, write_config, cli):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    config = write_config("name: npy\ndataset: {path: objects.npy}\nmodel: {type: kmeans, n_clusters: 2}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "contains Python objects" in result.stderr


def test_npy_with_labels_file(tmp_path, write_config):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", rng.normal(size=(30, 2, 2)))
    np.save(tmp_path / "y.npy", np.arange(30) % 3)
    config = write_config("name: npy\ndataset: {path: x.npy, labels: y.npy}\nmodel: {type: tree}\n")
    outcome = train_config(config, tmp_path / "runs")
    summary = run_summary(outcome)
    assert summary["features"] == ["pixel0", "pixel1", "pixel2", "pixel3"]
    assert summary["target"] == "label"


# --- IDX -------------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_images_and_labels(tmp_path, write_config, compress):
    rng = np.random.default_rng(2)
    labels = np.arange(40) % 2
    images = rng.integers(0, 50, size=(40, 4, 4)) + labels[:, None, None] * 150
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"img-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"lab-idx1-ubyte{suffix}", labels, compress)
    config = write_config(
        f"name: idx\ndataset: {{path: img-idx3-ubyte{suffix}, labels: lab-idx1-ubyte{suffix}}}\nmodel: {{type: tree}}\n"
    )
    outcome = train_config(config, tmp_path / "runs")
    summary = run_summary(outcome)
    assert summary["rows"] == 40
    assert len(summary["features"]) == 16
    assert summary["reader"]["array_shape"] == [40, 4, 4]
    assert outcome.result.metrics["accuracy"] == 1.0


def test_idx_truncated_named(tmp_path, write_config, cli):
    path = write_idx(tmp_path / "img-idx3-ubyte", np.zeros((5, 3, 3)))
    path.write_bytes(path.read_bytes()[:-4])
    config = write_config("name: idx\ndataset: {path: img-idx3-ubyte}\nmodel: {type: kmeans, n_clusters: 2}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "declares shape (5, 3, 3)" in result.stderr
    assert "41 bytes follow" in result.stderr


def test_idx_label_count_mismatch(tmp_path, write_config, cli):
    write_idx(tmp_path / "img-idx3-ubyte", np.zeros((5, 2, 2)))
    write_idx(tmp_path / "lab-idx1-ubyte", np.zeros(4))
    config = write_config("name: idx\ndataset: {path: img-idx3-ubyte, labels: lab-idx1-ubyte}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "5 feature rows but 4 labels" in result.stderr


def test_missing_labels_file_is_config_error(tmp_path, write_config, cli):
    write_idx(tmp_path / "img-idx3-ubyte", np.zeros((5, 2, 2)))
    config = write_config("name: idx\ndataset: {path: img-idx3-ubyte, labels: nowhere-idx1-ubyte}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 2
    assert "dataset.labels 'nowhere-idx1-ubyte' not found" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- predict on non-CSV files ---------------------------------------------------------------


@pytest.mark.parametrize("model", ["{type: tree}", "{type: mlp, hidden_sizes: [16]}"], ids=["tree", "mlp"])
def test_predict_parquet_matches_test_metrics(tmp_path, write_config, cli, model):
    """With an unshuffled split the test rows are the file's last rows; predict on them gives the same metrics."""
    frame = iris_frame().sample(frac=1.0, random_state=3).reset_index(drop=True)
    frame.to_parquet(tmp_path / "iris.parquet", index=False)
    config = write_config(
        "name: pq\ndataset: {path: iris.parquet, target: species, split: {test_size: 0.3, val_size: 0.1, shuffle: false}}\n"
        f"preprocess: [{{step: scale}}]\nmodel: {model}\ntrain: {{epochs: 30}}\n"
        if "mlp" in model
        else "name: pq\ndataset: {path: iris.parquet, target: species, split: {test_size: 0.3, shuffle: false}}\n"
        f"model: {model}\n"
    )
    outcome = train_config(config, tmp_path / "runs")
    summary = run_summary(outcome)
    n_test = summary["split"]["test"]
    held_out = tmp_path / "held_out.parquet"
    frame.iloc[len(frame) - n_test :].to_parquet(held_out)
    document = strict_json(cli("predict", str(outcome.run.path), held_out, "--json").stdout)
    assert document["metrics"]["accuracy"] == pytest.approx(outcome.result.metrics["accuracy"])


def test_csv_empty_rows_counted(tmp_path, write_config):
    rows = "x,y\n" + "".join(f"{index},{'a' if index % 2 else 'b'}\n" for index in range(20))
    (tmp_path / "gaps.csv").write_text(rows.replace("\n5,", "\n,\n5,"), encoding="utf-8")
    config = write_config("name: gaps\ndataset: {path: gaps.csv, target: y}\nmodel: {type: tree}\n")
    summary = run_summary(train_config(config, tmp_path / "runs"))
    assert summary["reader"] == {"rows_read": 21, "empty_rows_dropped": 1}
    assert summary["rows"] == 20


def test_arff_large_file_fast(tmp_path):
    import time

    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    lines = ["@relation big", *[f"@attribute a{index} numeric" for index in range(20)], "@attribute c {p, q}", "@data"]
    lines += [",".join(str(index + column) for column in range(20)) + (",p" if index % 2 else ",q") for index in range(20000)]
    (tmp_path / "big.arff").write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    table = read_file(tmp_path / "big.arff", DatasetConfig(path="big.arff"))
    elapsed = time.perf_counter() - started
    assert table.frame.shape == (20000, 21)
    assert table.frame["a19"].iloc[-1] == 19999 + 19
    assert elapsed < 30  # 420,000 values; the character-by-character path alone took minutes


def test_zip_named_csv_described(tmp_path, write_config, cli):
    import zipfile

    with zipfile.ZipFile(tmp_path / "sheet.csv", "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    config = write_config("name: zip\ndataset: {path: sheet.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "its content is an Excel workbook (.xlsx)" in result.stderr
