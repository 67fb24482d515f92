"""dmrun predict: fitted preprocessing and model applied to new rows, with schema checks."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
from pathlib import Path

import pytest

from helpers import strict_json

ROOT = Path(__file__).resolve().parents[1]


def write_iris_csv(path: Path) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [("setosa", "versicolor", "virginica")[code] for code in frame.pop("target")]
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def iris_csv(tmp_path) -> Path:
    return write_iris_csv(tmp_path / "iris.csv")


def train(cli, write_config, runs: Path, model: str, extra: str = "") -> None:
    config = write_config(f"dataset: {{path: iris.csv, target: species}}\n{extra}model: {model}\n")
    result = cli("train", config, "--runs-dir", runs, "-q")
    assert result.exit_code == 0, result.output


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_tree_predicts_original_labels(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    rows = read_rows(result.stdout)
    assert len(rows) == 150
    assert {row["prediction"] for row in rows} == {"setosa", "versicolor", "virginica"}
    assert {"probability_setosa", "probability_versicolor", "probability_virginica"} <= set(rows[0])
    assert "metrics on the given targets" not in result.stdout
    assert "accuracy" in result.stderr


def test_mlp_probabilities_sum_to_one(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: mlp, hidden_sizes: [8]}\ntrain: {epochs: 3}", "preprocess: [{step: scale}]\n")
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs, "--json")
    document = strict_json(result.stdout)
    first = document["predictions"][0]
    total = sum(value for key, value in first.items() if key.startswith("probability_"))
    assert abs(total - 1) < 1e-5
    assert document["metrics"]["accuracy"] > 0


def test_kmeans_assigns_clusters(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: kmeans, n_clusters: 3}")
    output_file = tmp_path / "clusters.csv"
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs, "--output", output_file)
    assert result.exit_code == 0, result.output
    rows = read_rows(output_file.read_text(encoding="utf-8"))
    assert {row["cluster"] for row in rows} == {"0", "1", "2"}


def test_predict_matches_training_metrics(cli, write_config, iris_csv, tmp_path):
    """Scoring the held-out rows again through predict gives the run's own test accuracy."""
    import pandas as pd

    runs = tmp_path / "runs"
    config = write_config("dataset: {path: iris.csv, target: species, split: {test_size: 0.5}}\nmodel: {type: tree}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    run = next(runs.iterdir())
    run_metrics = strict_json((run / "metrics.json").read_text(encoding="utf-8"))
    frame = pd.read_csv(iris_csv)
    from sklearn.model_selection import train_test_split

    _, test_rows = train_test_split(range(len(frame)), test_size=0.5, random_state=0, stratify=frame["species"])
    held_out = tmp_path / "held_out.csv"
    frame.iloc[sorted(test_rows)].to_csv(held_out, index=False)
    document = strict_json(cli("predict", str(run), held_out, "--json").stdout)
    assert document["metrics"]["accuracy"] == pytest.approx(run_metrics["accuracy"])


def test_missing_column_named(cli, write_config, iris_csv, tmp_path):
    import pandas as pd

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    pd.read_csv(iris_csv).drop(columns=["petal_width"]).to_csv(tmp_path / "less.csv", index=False)
    result = cli("predict", "latest", tmp_path / "less.csv", "--runs-dir", runs)
    assert result.exit_code == 3
    assert "less.csv: column(s) missing: petal_width" in result.stderr


def test_extra_column_named(cli, write_config, iris_csv, tmp_path):
    import pandas as pd

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    pd.read_csv(iris_csv).assign(colour="red").to_csv(tmp_path / "more.csv", index=False)
    result = cli("predict", "latest", tmp_path / "more.csv", "--runs-dir", runs)
    assert result.exit_code == 3
    assert "more.csv: column(s) the model was not trained on: colour" in result.stderr


def test_retyped_column_named(cli, write_config, iris_csv, tmp_path):
    import pandas as pd

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    frame = pd.read_csv(iris_csv)
    frame["sepal_length"] = frame["sepal_length"].astype(str)
    frame.loc[3, "sepal_length"] = "five"
    frame.to_csv(tmp_path / "text.csv", index=False)
    result = cli("predict", "latest", tmp_path / "text.csv", "--runs-dir", runs)
    assert result.exit_code == 3
    assert "text.csv: column(s) numeric in training contain text: sepal_length ('five' in data row 4)" in result.stderr


BASKETS = ["milk,bread", "milk,bread,eggs", "bread,eggs", "milk,bread,butter", "beer,chips", "milk,eggs"] * 2


def mined_run(cli, tmp_path, kind: str = "rules") -> Path:
    baskets = tmp_path / "train.csv"
    baskets.write_text("\n".join(BASKETS) + "\n", encoding="utf-8")
    threshold = ["--confidence", "0.3"] if kind == "rules" else []
    result = cli("mine", kind, baskets, "--support", "0.15", *threshold, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    return baskets


def test_rule_hit_rate_equals_confidence_on_training_baskets(cli, tmp_path):
    baskets = mined_run(cli, tmp_path)
    document = strict_json(cli("predict", "latest", baskets, "--runs-dir", tmp_path / "runs", "--json").stdout)
    fired: dict[tuple[str, str], list[bool]] = {}
    for row in document["predictions"]:
        fired.setdefault((row["antecedents"], row["consequents"]), []).append(row["in_basket"])
    assert fired
    for row in document["predictions"]:
        hits = fired[row["antecedents"], row["consequents"]]
        assert sum(hits) / len(hits) == pytest.approx(row["confidence"])
    assert document["metrics"]["baskets"] == len(BASKETS)


def test_rules_fire_only_on_whole_antecedents(cli, tmp_path):
    mined_run(cli, tmp_path)
    new = tmp_path / "new.csv"
    new.write_text("milk\nbeer,chips\nbutter,eggs\n", encoding="utf-8")
    document = strict_json(cli("predict", "latest", new, "--runs-dir", tmp_path / "runs", "--json").stdout)
    by_basket: dict[int, set[str]] = {}
    for row in document["predictions"]:
        by_basket.setdefault(row["basket"], set()).update(row["antecedents"].split("|"))
    assert by_basket[1] == {"milk"}
    assert by_basket[2] <= {"beer", "chips"}
    assert all(set(row["antecedents"].split("|")) <= {"milk", "beer", "chips", "butter", "eggs"} for row in document["predictions"])
    assert document["metrics"]["baskets"] == 3


def test_itemset_run_has_no_rules_to_predict(cli, tmp_path):
    baskets = mined_run(cli, tmp_path, "itemsets")
    result = cli("predict", "latest", baskets, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "has no rules file" in result.stderr


def tampered_description(run: Path, change) -> None:
    path = run / "model" / "estimator.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda document: document["object"].update({"__object__": "os.system"}), "type 'os.system' is not one dmrun saves"),
        (lambda document: document["object"]["attributes"].update({"x": {"__function__": "system"}}), "function 'system'"),
        (lambda document: document["object"]["attributes"].update({"x": {"__dtype__": "O,f8"}}), "structured dtypes with object fields"),
        (lambda document: document.update({"format": "pickle"}), "not a dmrun scikit-learn model file"),
    ],
)
def test_tampered_model_rejected(cli, write_config, iris_csv, tmp_path, change, fragment):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    tampered_description(next(runs.iterdir()), change)
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_pickled_model_arrays_rejected(cli, write_config, iris_csv, tmp_path):
    import numpy as np

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    marker = tmp_path / "code-ran"
    arrays = next(runs.iterdir()) / "model" / "estimator.npz"
    with open(arrays, "wb") as stream:
        np.savez(stream, a0=np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 1
    assert "cannot read the model arrays" in result.stderr
    assert not marker.exists()


class RunsCode:
    """Unpickling this object would create ``marker``; a safe loader never does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_tampered_weights_never_run_code(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: mlp, hidden_sizes: [4]}\ntrain: {epochs: 1}")
    marker = tmp_path / "code-ran"
    weights = next(runs.iterdir()) / "model" / "weights.pt"
    weights.write_bytes(pickle.dumps(RunsCode(marker)))
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 1
    assert "cannot load model weights" in result.stderr
    assert not marker.exists()


def test_failed_run_has_no_model(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    config = write_config("dataset: {path: iris.csv, target: nope}\nmodel: {type: tree}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 3
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 2
    assert "has status 'failed', so it has no model" in result.stderr


def test_kmeans_scores_given_labels(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: kmeans, n_clusters: 3}")
    document = strict_json(cli("predict", "latest", iris_csv, "--runs-dir", runs, "--json").stdout)
    assert document["metrics"]["ari"] > 0.5


def test_unseen_label_warns(cli, write_config, iris_csv, tmp_path):
    import pandas as pd

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree}")
    frame = pd.read_csv(iris_csv)
    frame.loc[0, "species"] = "nebbiolo"
    frame.to_csv(tmp_path / "odd.csv", index=False)
    result = cli("predict", "latest", tmp_path / "odd.csv", "--runs-dir", runs, "--json")
    assert result.exit_code == 0
    assert strict_json(result.stdout)["metrics"] is None
    assert "nebbiolo were not seen in training" in result.stderr


def test_decimal_comma_hint_and_option(cli, write_config, tmp_path):
    rows = "\n".join(f"{4 + index % 3},{index % 5};{index % 2}" for index in range(30))
    (tmp_path / "dec.csv").write_text("x;y\n" + rows + "\n", encoding="utf-8")
    plain = write_config("dataset: {path: dec.csv, target: y}\nmodel: {type: tree}\n", "plain.yaml")
    result = cli("train", plain, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 3
    assert "set dataset.decimal: ','" in result.stderr
    fixed = write_config("dataset: {path: dec.csv, target: y, decimal: ','}\nmodel: {type: tree}\n", "fixed.yaml")
    assert cli("train", fixed, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0
    # New data written with dots is named, and --decimal reads it.
    (tmp_path / "dots.csv").write_text("x;y\n" + rows.replace(",", ".") + "\n", encoding="utf-8")
    dots = cli("predict", "latest", tmp_path / "dots.csv", "--runs-dir", tmp_path / "runs")
    assert dots.exit_code == 3
    assert "dots.csv: column(s) numeric in training contain text: x ('4.0' in data row 1)" in dots.stderr
    assert "pass --decimal ." in dots.stderr
    assert cli("predict", "latest", tmp_path / "dots.csv", "--runs-dir", tmp_path / "runs", "--decimal", ".").exit_code == 0
    bad = cli("predict", "latest", tmp_path / "dots.csv", "--runs-dir", tmp_path / "runs", "--decimal", ";")
    assert bad.exit_code == 2
    assert "invalid value for --decimal: ';'" in bad.stderr


def test_forecast_predict_matches_run_forecasts(cli, tmp_path):
    import importlib.resources

    import pandas as pd

    runs = tmp_path / "runs"
    result = cli("train", ROOT / "configs" / "rnn.yaml", "--set", "train.epochs=3", "--runs-dir", runs, "-q")
    assert result.exit_code == 0, result.output
    series = tmp_path / "sunspots.csv"
    series.write_bytes(importlib.resources.files("dmrun.data").joinpath("files/sunspots_yearly.csv").read_bytes())
    document = strict_json(cli("predict", "latest", series, "--runs-dir", runs, "--json").stdout)
    predictions = pd.DataFrame(document["predictions"])
    assert len(predictions) == len(pd.read_csv(series)) + 1
    assert predictions["forecast"].iloc[:12].isna().all()
    assert predictions["forecast"].iloc[12:].notna().all()
    run_forecasts = pd.read_csv(next(runs.iterdir()) / "artifacts" / "forecast.csv")
    joined = run_forecasts.merge(predictions, on="year", suffixes=("_run", ""))
    assert len(joined) == len(run_forecasts)
    assert joined["forecast"].to_numpy() == pytest.approx(joined["forecast_run"].to_numpy(), rel=1e-5)
    assert document["metrics"]["next_forecast"] == pytest.approx(predictions["forecast"].iloc[-1])
    assert document["metrics"]["forecasts_scored"] == len(predictions) - 1 - 12
    # A column the training data lacked would silently become the time label.
    pd.read_csv(series).assign(cycle=1).to_csv(tmp_path / "more.csv", index=False)
    extra = cli("predict", "latest", tmp_path / "more.csv", "--runs-dir", runs)
    assert extra.exit_code == 3
    assert "more.csv: column(s) the run was not trained with: cycle" in extra.stderr


def test_json_with_output_writes_file(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    target = tmp_path / "predictions.csv"
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs, "--json", "--output", target)
    document = strict_json(result.stdout)
    assert result.exit_code == 0, result.output
    assert document["output"] == str(target)
    assert document["rows"] == 150
    assert "predictions" not in document
    assert len(read_rows(target.read_text(encoding="utf-8"))) == 150


def test_format_and_encoding_options(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    renamed = tmp_path / "iris.txt"
    renamed.write_bytes(iris_csv.read_text(encoding="utf-8").replace("setosa", "sétosa").encode("latin-1"))
    unread = cli("predict", "latest", renamed, "--runs-dir", runs)
    assert unread.exit_code != 0
    result = cli("predict", "latest", renamed, "--runs-dir", runs, "--format", "csv", "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert "sétosa" in result.stdout


def test_unknown_format_option_suggests(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs, "--format", "cvs")
    assert result.exit_code == 2
    assert "--format: unknown format 'cvs'" in result.stderr
    assert "did you mean 'csv'?" in result.stderr


def test_unseen_category_warns(cli, write_config, tmp_path):
    rows = "".join(f"{index % 7},{'north' if index % 2 else 'south'},{'a' if index % 3 else 'b'}\n" for index in range(60))
    (tmp_path / "towns.csv").write_text("x,town,y\n" + rows, encoding="utf-8")
    config = write_config("dataset: {path: towns.csv, target: y}\npreprocess: [{step: onehot}]\nmodel: {type: tree}\n")
    assert cli("train", config, "--runs-dir", tmp_path / "runs", "-q").exit_code == 0
    (tmp_path / "new.csv").write_text("x,town,y\n1,north,a\n2,east,b\n3,east,a\n", encoding="utf-8")
    result = cli("predict", "latest", tmp_path / "new.csv", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.stderr
    assert "new.csv: column 'town' has 2 row(s) with a category not seen in training, such as 'east' in data row 2" in result.stderr
    assert result.stdout.count(",east,") == 2  # both rows still get a prediction


def test_skip_rows_reads_title_line_file(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    titled = tmp_path / "titled.csv"
    titled.write_text("|iris measurements, 1936\n" + iris_csv.read_text(encoding="utf-8"), encoding="utf-8")
    unskipped = cli("predict", "latest", titled, "--runs-dir", runs)
    assert unskipped.exit_code == 3
    assert "the first line has 2 field(s) but the lines after it have 5" in unskipped.stderr
    assert "--skip-rows 1" in unskipped.stderr
    result = cli("predict", "latest", titled, "--skip-rows", "1", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert len(read_rows(result.stdout)) == 150


def test_negative_skip_rows_refused(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    result = cli("predict", "latest", iris_csv, "--skip-rows", "-1", "--runs-dir", runs)
    assert result.exit_code == 2
    assert "invalid value for --skip-rows: -1" in result.stderr


def test_run_skip_rows_not_reused(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    titled = tmp_path / "titled.csv"
    titled.write_text("|iris measurements, 1936\n" + iris_csv.read_text(encoding="utf-8"), encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, target: species, skip_rows: 1}\nmodel: {type: tree, max_depth: 3}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    result = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert len(read_rows(result.stdout)) == 150


def test_csv_options_not_applied_to_parquet(cli, write_config, iris_csv, tmp_path):
    """A run trained on a semicolon, comma-decimal CSV predicts for a Parquet file of the same rows."""
    import pandas as pd

    runs = tmp_path / "runs"
    frame = pd.read_csv(iris_csv)
    frame.to_csv(tmp_path / "semicolon.csv", sep=";", decimal=",", index=False, encoding="latin-1")
    config = write_config(
        "dataset: {path: semicolon.csv, target: species, delimiter: ';', decimal: ',', encoding: latin-1}\n"
        "model: {type: tree, max_depth: 3}\n"
    )
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    frame.to_parquet(tmp_path / "iris.parquet")
    result = cli("predict", "latest", tmp_path / "iris.parquet", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert len(read_rows(result.stdout)) == 150
    chosen = cli("predict", "latest", tmp_path / "iris.parquet", "--encoding", "gbk", "--runs-dir", runs)
    assert chosen.exit_code == 2
    assert "encoding applies to CSV, TSV, basket, JSON Lines or ARFF files, and iris.parquet is read as parquet" in chosen.stderr
    assert "remove dataset.encoding from the config (or --encoding from the command line)" in chosen.stderr


def test_missing_value_after_impute_named(cli, write_config, iris_csv, tmp_path):
    """An impute step without columns leaves a value missing only in new data, and the error gives the reason."""
    runs = tmp_path / "runs"
    text = iris_csv.read_text(encoding="utf-8").splitlines()
    text[5] = "," + text[5].split(",", 1)[1]  # one missing sepal_length in the training file
    (tmp_path / "gappy.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    config = write_config(
        "dataset: {path: gappy.csv, target: species}\n"
        "preprocess: [{step: impute, strategy: median}]\nmodel: {type: tree, max_depth: 3}\n"
    )
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    new = text[:1] + [text[1].replace(text[1].split(",")[1], "", 1)] + text[2:4]  # sepal_width missing in row 1
    (tmp_path / "new.csv").write_text("\n".join(new) + "\n", encoding="utf-8")
    result = cli("predict", "latest", tmp_path / "new.csv", "--runs-dir", runs)
    assert result.exit_code == 3
    assert "row 1 has missing or infinite feature values after preprocessing, in column(s) 'sepal_width'" in result.stderr
    assert "it fills only the columns that had missing values in the training data" in result.stderr


def test_delimiter_option_and_hint(cli, write_config, iris_csv, tmp_path):
    """A run trained on a semicolon CSV reads a comma CSV with --delimiter, and the error without it names the delimiter."""
    import pandas as pd

    runs = tmp_path / "runs"
    pd.read_csv(iris_csv).to_csv(tmp_path / "semicolon.csv", sep=";", index=False)
    config = write_config("dataset: {path: semicolon.csv, target: species, delimiter: ';'}\nmodel: {type: tree, max_depth: 3}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    unread = cli("predict", "latest", iris_csv, "--runs-dir", runs)
    assert unread.exit_code == 3
    assert "the file looks ','-separated, but it was read with the run's delimiter; pass --delimiter ','" in unread.stderr
    result = cli("predict", "latest", iris_csv, "--delimiter", ",", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    invalid = cli("predict", "latest", iris_csv, "--delimiter", ",,", "--runs-dir", runs)
    assert invalid.exit_code == 2
    assert "invalid value for --delimiter" in invalid.stderr


def test_options_of_another_format_not_inherited(cli, write_config, tmp_path):
    """A JSON Lines file is read as UTF-8 even when the run was trained on a GBK CSV."""
    import json

    runs = tmp_path / "runs"
    rows = [{"长度": float(index % 7), "类别": "甲" if index % 2 else "乙"} for index in range(40)]
    (tmp_path / "gbk.csv").write_bytes(("长度,类别\n" + "".join(f"{row['长度']},{row['类别']}\n" for row in rows)).encode("gbk"))
    config = write_config("dataset: {path: gbk.csv, target: 类别, encoding: gbk}\nmodel: {type: tree, max_depth: 2}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    (tmp_path / "new.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[:5]), encoding="utf-8")
    result = cli("predict", "latest", tmp_path / "new.jsonl", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert "甲" in result.stdout


def test_decimal_comma_file_hint(cli, write_config, iris_csv, tmp_path):
    import pandas as pd

    runs = tmp_path / "runs"
    train(cli, write_config, runs, "{type: tree, max_depth: 3}")
    pd.read_csv(iris_csv).to_csv(tmp_path / "commas.csv", sep=";", decimal=",", index=False)
    result = cli("predict", "latest", tmp_path / "commas.csv", "--delimiter", ";", "--runs-dir", runs)
    assert result.exit_code == 3
    assert "the file writes numbers with a decimal comma; pass --decimal ," in result.stderr
    fixed = cli("predict", "latest", tmp_path / "commas.csv", "--delimiter", ";", "--decimal", ",", "--runs-dir", runs)
    assert fixed.exit_code == 0, fixed.output


def test_missing_data_file_has_hint(cli, write_config, iris_csv, tmp_path):
    runs = tmp_path / "runs"
    config = write_config("dataset: {path: iris.csv, target: species}\nmodel: {type: tree}\n")
    assert cli("train", config, "--runs-dir", runs, "-q").exit_code == 0
    missing = cli("predict", "latest", tmp_path / "nothere.csv", "--runs-dir", runs)
    assert missing.exit_code == 2
    assert "error: data file not found:" in missing.stderr
    assert "hint: check the path" in missing.stderr
    folder = cli("predict", "latest", tmp_path, "--runs-dir", runs)
    assert folder.exit_code == 2
    assert "data file is a folder, not a file" in folder.stderr
