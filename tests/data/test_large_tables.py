"""Large tables: streamed hashing, chunked CSV reading, batched preprocessing and sparse tree input.

Small block, chunk and batch sizes make small files take the paths that large files take, and
each test compares them with the single-pass results.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from dmrun import preprocess, sklearn_format
from dmrun.config.schema import DatasetConfig, ExperimentConfig
from dmrun.data import prepare, readers
from dmrun.data.builtin import ADULT_COLUMNS, _adult_rows
from dmrun.errors import DataError


def write_adult(path: Path, rows: int = 3000) -> Path:
    """Write the first ``rows`` records of the bundled UCI Adult copy as a CSV with a header and '?' cells."""
    lines = [",".join(ADULT_COLUMNS)]
    lines += [", ".join(row) for row in _adult_rows()[:rows]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def adult_config(path: Path, steps: list[dict] | None = None) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "large",
            "dataset": {"path": str(path), "target": "income", "missing_values": ["?"]},
            "preprocess": steps if steps is not None else [{"step": "impute", "strategy": "most_frequent"}, {"step": "onehot"}],
            "model": {"type": "tree", "max_depth": 8},
        }
    )


def read(path: Path, **settings):
    config = DatasetConfig(path=str(path), **settings)
    return readers.read_table(path, config, None)


def test_fingerprint_equals_hashlib(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READ_BLOCK", 1000)
    path = write_adult(tmp_path / "adult.csv", rows=200)
    table = read(path, target="income")
    assert table.meta["fingerprint"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_gzip_fingerprint_is_of_content(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READ_BLOCK", 1000)
    plain = write_adult(tmp_path / "adult.csv", rows=200)
    packed = tmp_path / "adult.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    table = read(packed, target="income")
    assert table.meta["fingerprint"] == "sha256:" + hashlib.sha256(plain.read_bytes()).hexdigest()
    pd.testing.assert_frame_equal(table.frame, read(plain, target="income").frame)


def test_bad_byte_after_first_block_named(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READ_BLOCK", 64)
    path = tmp_path / "latin.csv"
    body = b"name,value\n" + b"plain,1\n" * 30 + b"caf\xe9,2\n"
    path.write_bytes(body)
    offset = body.index(b"\xe9")
    with pytest.raises(DataError) as caught:
        read(path)
    assert f"byte 0xe9 at offset {offset}" in caught.value.message


def test_text_columns_read_as_category(tmp_path):
    table = read(write_adult(tmp_path / "adult.csv", rows=500), target="income", missing_values=["?"])
    frame = table.frame
    assert isinstance(frame["workclass"].dtype, pd.CategoricalDtype)
    assert list(frame["workclass"].cat.categories) == sorted(frame["workclass"].dropna().unique())
    assert frame["workclass"].isna().any()
    assert str(frame["age"].dtype) == "int8"


def test_chunked_read_equals_single_read(tmp_path, monkeypatch):
    path = tmp_path / "chunks.csv"
    rows = ["id,colour,note,size"]
    # The note column is empty in the first rows and has a trailing space on some values,
    # so chunks see it as float, as text, and with values that merge when trimmed.
    for index in range(400):
        note = "late " if index % 2 else "late"
        if index < 150:
            note = ""
        rows.append(f"{index},{['red', 'green', '?'][index % 3]},{note},{index * 0.5}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    whole = read(path, missing_values=["?"]).frame
    monkeypatch.setattr(readers, "CELLS_PER_CHUNK", 4)
    monkeypatch.setattr(readers, "_rows_per_chunk", lambda head, delimiter: 37)
    chunked = read(path, missing_values=["?"]).frame
    pd.testing.assert_frame_equal(chunked, whole)
    assert isinstance(chunked.index, pd.RangeIndex)
    assert list(chunked["note"].cat.categories) == ["late"]
    assert chunked["note"].isna().sum() == 150


def test_chunks_mixing_numbers_and_text(tmp_path, monkeypatch):
    path = tmp_path / "mixed.csv"
    rows = ["code,label"] + [f"{index},a" for index in range(50)] + [f"x{index},b" for index in range(50)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(readers, "_rows_per_chunk", lambda head, delimiter: 50)
    chunked = read(path).frame
    monkeypatch.setattr(readers, "_rows_per_chunk", lambda head, delimiter: 1000)
    whole = read(path).frame
    pd.testing.assert_frame_equal(chunked, whole)
    assert isinstance(chunked["code"].dtype, pd.CategoricalDtype)
    assert chunked["code"].iloc[0] == "0"
    assert chunked["code"].iloc[99] == "x49"


def test_integers_read_as_smallest_dtype(tmp_path):
    path = tmp_path / "integers.csv"
    rows = ["tiny,small,medium,large,negative,real"]
    rows += [f"{index},{index * 100},{index * 10**6},{index * 2**40},{-129 - index},{index / 2}" for index in range(100)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    frame = read(path).frame
    assert str(frame["tiny"].dtype) == "int8"
    assert str(frame["small"].dtype) == "int16"
    assert str(frame["medium"].dtype) == "int32"
    assert str(frame["large"].dtype) == "int64"
    assert str(frame["negative"].dtype) == "int16"
    assert str(frame["real"].dtype) == "float64"
    plain = pd.read_csv(path)
    for column in plain.columns:
        np.testing.assert_array_equal(frame[column].to_numpy(), plain[column].to_numpy())


def test_chunked_integers_equal_single_read(tmp_path, monkeypatch):
    # Chunks of 37 rows: "grows" fits int8 in the first chunk only, "gap" is empty in the
    # first chunk (float) and integers after it, "late" turns to text in the last chunk.
    path = tmp_path / "chunks.csv"
    rows = ["grows,gap,late"]
    for index in range(120):
        gap = "" if index < 37 else str(index)
        late = "x" if index == 119 else str(index)
        rows.append(f"{index * index},{gap},{late}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    whole = read(path).frame
    monkeypatch.setattr(readers, "_rows_per_chunk", lambda head, delimiter: 37)
    chunked = read(path).frame
    pd.testing.assert_frame_equal(chunked, whole)
    assert str(chunked["grows"].dtype) == "int16"
    assert str(chunked["gap"].dtype) == "float64"
    assert isinstance(chunked["late"].dtype, pd.CategoricalDtype)


def plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with category columns as object and integer columns as int64."""
    plain = frame.copy()
    for column in plain.columns:
        if isinstance(plain[column].dtype, pd.CategoricalDtype):
            plain[column] = plain[column].astype(object).where(plain[column].notna(), np.nan)
        elif plain[column].dtype.kind == "i":
            plain[column] = plain[column].astype(np.int64)
    return plain


@pytest.mark.parametrize(
    "steps",
    [
        [{"step": "impute", "strategy": "most_frequent"}, {"step": "onehot"}],
        [{"step": "impute", "strategy": "most_frequent", "columns": ["age", "capital_loss"]},
         {"step": "impute", "strategy": "constant"}, {"step": "onehot", "columns": ["education_num", "workclass"]},
         {"step": "ordinal"}],
        [{"step": "impute", "strategy": "most_frequent", "columns": ["age", "workclass"]},
         {"step": "ordinal", "columns": ["hours_per_week", "occupation"]}, {"step": "impute", "strategy": "most_frequent"},
         {"step": "onehot"}, {"step": "scale", "method": "standard"}],
    ],
)
def test_fit_on_read_dtypes_equals_plain_dtypes(tmp_path, monkeypatch, steps):
    # The reader's category and int8/int16/int32 columns give the pipeline and features that
    # object and int64 columns give.
    frame = read(write_adult(tmp_path / "adult.csv"), target="income", missing_values=["?"]).frame
    train = frame.drop(columns=["income"])
    assert str(train["age"].dtype) == "int8"
    plain = fitted_with_batch(monkeypatch, 20000, plain_dtypes(train), steps)
    fitted = fitted_with_batch(monkeypatch, 20000, train, steps)
    assert fitted.output_columns == plain.output_columns
    assert sklearn_format.dumps(fitted.pipeline) == sklearn_format.dumps(plain.pipeline)
    np.testing.assert_array_equal(fitted.transform(train), plain.transform(plain_dtypes(train)))
    np.testing.assert_array_equal(fitted.transform(plain_dtypes(train)), plain.transform(plain_dtypes(train)))


def test_unencoded_category_error_as_object(tmp_path, monkeypatch):
    frame = read(write_adult(tmp_path / "adult.csv"), target="income", missing_values=["?"]).frame
    train = frame.drop(columns=["income"])
    steps = [{"step": "impute", "strategy": "most_frequent"}]
    with pytest.raises(DataError) as plain:
        fitted_with_batch(monkeypatch, 20000, plain_dtypes(train), steps)
    with pytest.raises(DataError) as categories:
        fitted_with_batch(monkeypatch, 20000, train, steps)
    assert "feature columns are not numeric: workclass" in plain.value.message
    assert categories.value.message == plain.value.message
    assert categories.value.hint == plain.value.hint


def fitted_with_batch(monkeypatch, cells: int, train: pd.DataFrame, steps: list[dict]):
    monkeypatch.setattr(preprocess, "TRANSFORM_BATCH_CELLS", cells)
    config = adult_config(Path("unused.csv"), steps)
    return preprocess.fit_preprocessing(config.preprocess, train)


@pytest.mark.parametrize(
    "steps",
    [
        [{"step": "impute", "strategy": "most_frequent"}, {"step": "onehot"}],
        [{"step": "impute", "strategy": "most_frequent"}, {"step": "onehot"}, {"step": "scale", "method": "standard"}],
        [{"step": "onehot", "drop_first": True}, {"step": "impute", "strategy": "median"}],
    ],
)
def test_batched_onehot_fit_equals_plain_fit(tmp_path, monkeypatch, steps):
    frame = read(write_adult(tmp_path / "adult.csv"), target="income", missing_values=["?"]).frame
    train = frame.drop(columns=["income"])
    plain = fitted_with_batch(monkeypatch, 1 << 30, train, steps)
    batched = fitted_with_batch(monkeypatch, 20000, train, steps)
    assert batched.output_columns == plain.output_columns
    assert sklearn_format.dumps(batched.pipeline) == sklearn_format.dumps(plain.pipeline)
    np.testing.assert_array_equal(batched.transform(train), plain.transform(train))


def test_batched_check_reports_whole_frame(tmp_path, monkeypatch):
    frame = read(write_adult(tmp_path / "adult.csv"), target="income", missing_values=["?"]).frame
    train = frame.drop(columns=["income"])
    train.loc[2500:2510, "age"] = np.nan
    steps = [{"step": "impute", "strategy": "most_frequent", "columns": ["workclass", "occupation", "native_country"]}, {"step": "onehot"}]
    with pytest.raises(DataError) as plain:
        fitted_with_batch(monkeypatch, 1 << 30, train, steps)
    with pytest.raises(DataError) as batched:
        fitted_with_batch(monkeypatch, 20000, train, steps)
    assert "age (11)" in plain.value.message
    assert batched.value.message == plain.value.message


def test_last_onehot_is_uint8(tmp_path):
    frame = read(write_adult(tmp_path / "adult.csv", rows=500), target="income", missing_values=["?"]).frame
    config = adult_config(Path("unused.csv"))
    fitted = preprocess.fit_preprocessing(config.preprocess, frame.drop(columns=["income"]))
    encoder = fitted.pipeline.steps[-1][1].transformers_[0][1]
    assert encoder.dtype is np.uint8


def test_float64_onehot_pipeline_same_features(tmp_path):
    # Runs saved before one-hot output became uint8 have float64 encoders; both give the same features.
    frame = read(write_adult(tmp_path / "adult.csv", rows=500), target="income", missing_values=["?"]).frame
    features = frame.drop(columns=["income"])
    config = adult_config(Path("unused.csv"))
    fitted = preprocess.fit_preprocessing(config.preprocess, features)
    compact = fitted.transform(features)
    fitted.pipeline.steps[-1][1].transformers_[0][1].dtype = np.float64
    np.testing.assert_array_equal(fitted.transform(features), compact)


def test_tree_features_are_sparse(tmp_path):
    config = adult_config(write_adult(tmp_path / "adult.csv"))
    table = readers.read_table(Path(config.dataset.path), config.dataset, None)
    data = prepare.prepare_supervised(table, config, sparse=True)
    assert sparse.issparse(data.X_train)
    assert data.X_train.format == "csc"
    assert data.X_test.format == "csr"
    assert data.X_train.dtype == np.float32
    assert data.X_train.indices.dtype == np.int32


def prepared_dense_and_sparse(tmp_path: Path):
    """Prepare the Adult sample twice, with dense and with sparse features."""
    config = adult_config(write_adult(tmp_path / "adult.csv"))
    table = readers.read_table(Path(config.dataset.path), config.dataset, None)
    dense = prepare.prepare_supervised(table, config)
    table = readers.read_table(Path(config.dataset.path), config.dataset, None)
    return dense, prepare.prepare_supervised(table, config, sparse=True)


# 50,000 cells make several batches, built in two passes; 2**30 make one batch, built in one.
BATCH_SIZES = pytest.mark.parametrize("cells", [50000, 1 << 30], ids=["batches", "one-batch"])


@BATCH_SIZES
def test_sparse_features_equal_dense(tmp_path, monkeypatch, cells):
    monkeypatch.setattr(preprocess, "TRANSFORM_BATCH_CELLS", cells)
    dense, packed = prepared_dense_and_sparse(tmp_path)
    np.testing.assert_array_equal(packed.X_train.toarray(), dense.X_train.astype(np.float32))
    np.testing.assert_array_equal(packed.X_test.toarray(), dense.X_test.astype(np.float32))
    np.testing.assert_array_equal(packed.y_train, dense.y_train)


@BATCH_SIZES
def test_sparse_arrays_equal_scipy_conversion(tmp_path, monkeypatch, cells):
    # The matrices are built column by column. SciPy's conversion of the dense float32 array
    # gives the same arrays, in the same order and dtypes.
    monkeypatch.setattr(preprocess, "TRANSFORM_BATCH_CELLS", cells)
    dense, packed = prepared_dense_and_sparse(tmp_path)
    expected = {
        "X_train": sparse.csc_matrix(dense.X_train.astype(np.float32)),
        "X_test": sparse.csr_matrix(dense.X_test.astype(np.float32)),
    }
    for name, reference in expected.items():
        matrix = getattr(packed, name)
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(matrix, part), getattr(reference, part), err_msg=f"{name}.{part}")
            assert getattr(matrix, part).dtype == getattr(reference, part).dtype, f"{name}.{part}"


def test_sparse_tree_predicts_as_dense(tmp_path):
    from sklearn.tree import DecisionTreeClassifier, export_text

    dense, packed = prepared_dense_and_sparse(tmp_path)
    dense_tree = DecisionTreeClassifier(max_depth=8, random_state=0).fit(dense.X_train, dense.y_train)
    sparse_tree = DecisionTreeClassifier(max_depth=8, random_state=0).fit(packed.X_train, packed.y_train)
    assert export_text(sparse_tree) == export_text(dense_tree)
    np.testing.assert_array_equal(sparse_tree.predict_proba(packed.X_test), dense_tree.predict_proba(dense.X_test))
    np.testing.assert_array_equal(sparse_tree.feature_importances_, dense_tree.feature_importances_)


def test_missing_test_values_keep_dense(tmp_path):
    # The last rows are the test split without shuffling, so only the test split misses a value
    # of x, which the impute step (limited to colour) leaves missing.
    path = tmp_path / "gap.csv"
    rows = ["x,colour,label"] + [f"{index % 7},{['red', 'blue'][index % 2]},{index % 3}" for index in range(99)]
    rows.append(",red,1")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = ExperimentConfig.model_validate(
        {
            "name": "gap",
            "dataset": {"path": str(path), "target": "label", "split": {"shuffle": False}},
            "preprocess": [{"step": "impute", "strategy": "most_frequent", "columns": ["colour"]}, {"step": "onehot"}],
            "model": {"type": "tree"},
        }
    )
    table = readers.read_table(path, config.dataset, None)
    data = prepare.prepare_supervised(table, config, sparse=True)
    assert isinstance(data.X_train, np.ndarray)
    assert isinstance(data.X_test, np.ndarray)
    assert np.isnan(data.X_test).sum() == 1


def test_sparse_without_steps_equals_dense(tmp_path, monkeypatch):
    """Without steps, narrow integer columns reach the matrices without being widened, with equal values."""
    monkeypatch.setattr(preprocess, "TRANSFORM_BATCH_CELLS", 5000)
    path = tmp_path / "pixels.csv"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(600, 20)) * (rng.random((600, 20)) < 0.3)
    frame = pd.DataFrame(pixels, columns=[f"p{index}" for index in range(20)])
    frame["label"] = np.arange(600) % 3
    frame.to_csv(path, index=False)
    table = read(path, target="label")
    assert table.frame["p0"].dtype == np.int16
    config = ExperimentConfig.model_validate(
        {"name": "pixels", "dataset": {"path": str(path), "target": "label"}, "model": {"type": "tree"}}
    )
    dense = prepare.prepare_supervised(table, config)
    packed = prepare.prepare_supervised(table, config, sparse=True)
    assert packed.X_train.format == "csc"
    np.testing.assert_array_equal(packed.X_train.toarray(), dense.X_train.astype(np.float32))
    np.testing.assert_array_equal(packed.X_test.toarray(), dense.X_test.astype(np.float32))


def test_missing_counts_per_column():
    frame = pd.DataFrame(
        {
            "small": np.array([1, 2, 3], dtype=np.int8),
            "real": [1.0, np.nan, np.nan],
            "text": pd.Categorical(["a", None, "b"]),
            "flag": [True, False, True],
        }
    )
    assert preprocess.missing_counts(frame) == [0, 2, 1, 0]
    assert preprocess.missing_counts(frame) == frame.isna().sum().tolist()


def test_first_infinity_in_row_order():
    frame = pd.DataFrame({"a": [1.0, 2.0, np.inf, np.inf], "b": [0.0, -np.inf, 1.0, 2.0], "c": [1, 2, 3, 4]})
    with pytest.raises(DataError) as raised:
        prepare.check_finite(frame, "feature")
    assert "feature column 'b' has the non-finite value -inf at row 2 (3 such value(s) in all)" in str(raised.value)
    prepare.check_finite(frame.assign(a=1.0, b=0.0), "feature")


def test_empty_rows_dropped_without_copy(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("x,y,z\n1,2,a\n,,\n3,,b\n,,\n", encoding="utf-8")
    table = read(path)
    assert table.frame["x"].tolist() == [1.0, 3.0]
    assert table.summary["empty_rows_dropped"] == 2
    full = pd.DataFrame({"x": [1, 2], "y": [np.nan, 3.0]})
    assert readers._drop_empty_rows(full) is full

