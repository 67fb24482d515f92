"""Each reader on real public files, when a shared datasets folder sits beside the repository.

Expected counts are those the data sets' own documentation gives (UCI .names files, the MNIST
page), so a reader that drops, invents or retypes rows fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import read_json, train_config

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"

if not DATASETS.is_dir():
    pytest.skip(f"no shared datasets folder at {DATASETS}", allow_module_level=True)


def shared_file(relative: str) -> str:
    path = DATASETS / relative
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return str(path)


def train(write_config, tmp_path, text: str):
    outcome = train_config(write_config(text), tmp_path / "runs")
    return outcome, read_json(outcome.run.path / "data.json")


def missing_counts(summary: dict) -> dict[str, int]:
    return {column["name"]: column["missing"] for column in summary["columns"] if column["missing"]}


ADULT_COLUMNS = (
    "[age, workclass, fnlwgt, education, education_num, marital_status, occupation, relationship, race, sex, "
    "capital_gain, capital_loss, hours_per_week, native_country, income]"
)


def test_adult_question_marks_missing():
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    names = ADULT_COLUMNS.strip("[]").split(", ")
    table = read_file(Path(shared_file("adult/adult.data")), DatasetConfig(path="x", header=False, columns=names))
    frame = table.frame
    missing = {column: int(count) for column, count in frame.isna().sum().items() if count}
    assert frame.shape == (32561, 15)
    assert missing == {"workclass": 1836, "occupation": 1843, "native_country": 583}
    assert frame["income"].value_counts().to_dict() == {"<=50K": 24720, ">50K": 7841}
    assert str(frame["age"].dtype) == "int8"
    assert frame["workclass"].iloc[0] == "State-gov"  # the space after each comma is not part of the value


def test_adult_sample_quick_run(tmp_path, write_config):
    path = shared_file("adult/adult.data")
    outcome, summary = train(
        write_config,
        tmp_path,
        f"name: adult\ndataset: {{path: '{path}', header: false, columns: {ADULT_COLUMNS}, target: income, "
        "sample: 2000, exclude: [fnlwgt]}\n"
        "preprocess: [{step: impute, strategy: most_frequent}, {step: onehot}]\nmodel: {type: tree, max_depth: 4}\n",
    )
    assert outcome.result.metrics["accuracy"] > 0.75
    assert summary["label_mapping"] == {"0": "<=50K", "1": ">50K"}
    assert summary["rows"] == 2000
    assert summary["reader"]["sample"]["rows_before"] == 32561
    assert "fnlwgt" not in summary["features"]


def test_horse_colic_space_separated(tmp_path, write_config):
    path = shared_file("horse_colic/horse-colic.data")
    _, summary = train(
        write_config,
        tmp_path,
        f"name: horse\ndataset: {{path: '{path}', header: false, delimiter: ' ', target: column_23, "
        "drop_columns: [column_3, column_25, column_26, column_27]}\n"
        "preprocess: [{step: impute, strategy: median}]\nmodel: {type: tree, max_depth: 4}\n",
    )
    assert summary["rows"] == 300
    assert len(summary["columns"]) == 24
    assert summary["class_balance"] == {"1": 178, "2": 77, "3": 44}
    assert summary["rows_dropped"] == {"missing target": 1}


def test_breast_cancer_id_dropped(tmp_path, write_config):
    path = shared_file("breast_cancer_wisconsin/breast-cancer-wisconsin.data")
    outcome, summary = train(
        write_config,
        tmp_path,
        f"name: bcw\ndataset: {{path: '{path}', header: false, target: column_11, drop_columns: [column_1]}}\n"
        "preprocess: [{step: impute, strategy: median}]\nmodel: {type: tree, max_depth: 4}\n",
    )
    assert summary["rows"] == 699
    assert missing_counts(summary) == {"column_7": 16}
    assert summary["label_mapping"] == {"0": 2, "1": 4}
    assert summary["class_balance"] == {"2": 458, "4": 241}
    assert "column_1" not in summary["features"]
    assert outcome.result.metrics["accuracy"] > 0.9


def test_titanic_features(tmp_path, write_config):
    path = shared_file("titanic/titanic.csv")
    _, summary = train(
        write_config,
        tmp_path,
        f"name: titanic\ndataset: {{path: '{path}', target: Survived, features: [Pclass, Sex, Age, Fare, Embarked]}}\n"
        "preprocess: [{step: impute, strategy: most_frequent}, {step: onehot}]\nmodel: {type: tree, max_depth: 4}\n",
    )
    assert summary["rows"] == 891
    assert missing_counts(summary) == {"Age": 177, "Embarked": 2}
    assert [column["name"] for column in summary["columns"]] == ["Survived", "Pclass", "Sex", "Age", "Fare", "Embarked"]
    assert summary["class_balance"] == {"0": 549, "1": 342}


def test_mushroom_categorical(tmp_path, write_config):
    path = shared_file("mushroom_uci/agaricus-lepiota.data")
    outcome, summary = train(
        write_config,
        tmp_path,
        f"name: mushroom\ndataset: {{path: '{path}', header: false, target: column_1}}\n"
        "preprocess: [{step: ordinal}, {step: drop_constant}]\nmodel: {type: tree}\n",
    )
    assert summary["rows"] == 8124
    assert missing_counts(summary) == {"column_12": 2480}
    assert summary["class_balance"] == {"e": 4208, "p": 3916}
    assert "column_17" not in summary["features"]  # veil-type has one value
    assert outcome.result.metrics["accuracy"] == 1.0


def test_mushroom_rules_from_table(tmp_path, write_config):
    path = shared_file("mushroom_uci/agaricus-lepiota.data")
    config = write_config(
        f"name: mushroom\ndataset: {{path: '{path}', format: csv, header: false}}\n"
        "model: {type: rules, min_support: 0.9, output: itemsets}\n"
    )
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["transactions"] == 8124
    assert summary["layout"] == "table"
    assert summary["items_total"] == 8124 * 23 - 2480


def test_series_crlf(tmp_path):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    table = read_file(Path(shared_file("timeseries/airline-passengers.csv")), DatasetConfig(path="x"))
    assert list(table.frame.columns) == ["Month", "Passengers"]
    assert table.frame.shape == (144, 2)
    assert table.frame["Month"].iloc[-1] == "1960-12"
    assert table.frame["Passengers"].iloc[0] == 112


def test_series_time_ordered_split(tmp_path, write_config):
    from dmrun.config.loading import load_config
    from dmrun.data import load_dataset
    from dmrun.data.prepare import _split_indices

    path = shared_file("timeseries/daily-min-temperatures.csv")
    config = load_config(
        write_config(
            f"name: temps\ndataset: {{path: '{path}', target: Temp, split: {{time_column: Date, test_size: 0.2, val_size: 0}}}}\n"
            "model: {type: tree}\n"
        )
    )
    table = load_dataset(config.config.dataset, config.base_dir)
    summary: dict = {"warnings": []}
    train_rows, val_rows, test_rows = _split_indices(len(table.frame), None, config.config, summary, table.frame)
    dates = table.frame["Date"].to_numpy()
    assert (len(train_rows), len(val_rows), len(test_rows)) == (2920, 0, 730)
    assert max(dates[train_rows]) < min(dates[test_rows])
    assert min(dates[test_rows]) == "1989-01-01"


def test_mnist_idx_gz(tmp_path, write_config):
    images = shared_file("mnist/t10k-images-idx3-ubyte.gz")
    labels = shared_file("mnist/t10k-labels-idx1-ubyte.gz")
    outcome, summary = train(
        write_config,
        tmp_path,
        f"name: mnist\ndataset: {{path: '{images}', labels: '{labels}', sample: 1500}}\nmodel: {{type: tree, max_depth: 10}}\n",
    )
    assert summary["reader"]["array_shape"] == [10000, 28, 28]
    assert summary["reader"]["array_dtype"] == "uint8"
    assert summary["rows"] == 1500
    assert len(summary["features"]) == 784
    assert sorted(summary["label_mapping"].values()) == list(range(10))
    assert outcome.result.metrics["accuracy"] > 0.5


def test_mnist_label_count_mismatch(tmp_path, write_config, cli):
    images = shared_file("mnist/t10k-images-idx3-ubyte.gz")
    labels = shared_file("mnist/train-labels-idx1-ubyte.gz")
    config = write_config(f"name: mnist\ndataset: {{path: '{images}', labels: '{labels}'}}\nmodel: {{type: tree}}\n")
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "10000 feature rows but 60000 labels" in result.stderr
