"""Reading tables from files: labels, text features, missing markers, encodings, shapes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dmrun.data import readers

from helpers import read_json, run_folder_from_stdout, train_config


def labelled_rows(labels: list, rows: int = 60) -> list[list]:
    """Three well-separated classes in two numeric features, labelled with ``labels``."""
    return [[index % 3 + (index % 7) / 10, -(index % 3) + (index % 5) / 10, labels[index % 3]] for index in range(rows)]


def write_table(path: Path, header: list[str], rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    lines = [delimiter.join(header)] + [delimiter.join(str(cell) for cell in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def mlp_config(data: str, target: str, preprocess: str = "", dataset: str = "") -> str:
    """Build a small MLP config. ``preprocess`` is a YAML flow list, ``dataset`` adds flow-map entries."""
    return (
        f"name: table\ndataset: {{path: {data}, target: {target}{', ' + dataset if dataset else ''}}}\n"
        + (f"preprocess: {preprocess}\n" if preprocess else "")
        + "model: {type: mlp, hidden_sizes: [8]}\ntrain: {epochs: 2}\n"
    )


MARKERS = "missing_values: ['NA', '.']"
IMPUTE_ONEHOT = "[{step: impute, strategy: most_frequent}, {step: onehot}]"


def column_summary(run: Path) -> dict[str, dict]:
    """data.json's column entries by column name."""
    return {column["name"]: column for column in read_json(run / "data.json")["columns"]}


def train_cli(cli, config: Path, runs_dir: Path):
    return cli("train", config, "--runs-dir", runs_dir, "--quiet")


# --- class labels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels", [[1, 2, 3], [-1, 0, 1], ["low", "mid", "high"]], ids=["one-based", "negative", "text"]
)
def test_label_mapping_keeps_originals(tmp_path, write_config, labels):
    write_table(tmp_path / "labels.csv", ["x1", "x2", "y"], labelled_rows(labels))
    run = train_config(write_config(mlp_config("labels.csv", "y")), tmp_path / "runs").run.path
    mapping = read_json(run / "data.json")["label_mapping"]
    assert sorted(mapping.values(), key=str) == sorted(labels, key=str)
    assert list(mapping) == ["0", "1", "2"]
    assert mapping == {str(code): label for code, label in enumerate(sorted(labels))}
    assert [repr(label) for label in mapping.values()] == [repr(label) for label in sorted(labels)]  # 1, not 1.0


@pytest.mark.parametrize(
    "labels", [[1, 2, 3], [-1, 0, 1], ["low", "mid", "high"]], ids=["one-based", "negative", "text"]
)
def test_confusion_matrix_uses_originals(tmp_path, write_config, labels):
    write_table(tmp_path / "labels.csv", ["x1", "x2", "y"], labelled_rows(labels))
    run = train_config(write_config(mlp_config("labels.csv", "y")), tmp_path / "runs").run.path
    with open(run / "artifacts" / "confusion_matrix.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    expected = [str(label) for label in sorted(labels)]
    assert rows[0][1:] == expected
    assert [row[0] for row in rows[1:]] == expected


def test_integer_labels_survive_gaps(tmp_path, write_config):
    rows = labelled_rows([1, 2, 3])
    rows[5][2] = ""
    write_table(tmp_path / "gap.csv", ["x1", "x2", "y"], rows)
    config = write_config("name: gap\ndataset: {path: gap.csv, target: y}\nmodel: {type: tree}\n")
    run = train_config(config, tmp_path / "runs").run.path
    summary = read_json(run / "data.json")
    with open(run / "artifacts" / "confusion_matrix.csv", newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert summary["rows_dropped"] == {"missing target": 1}
    assert [repr(label) for label in summary["label_mapping"].values()] == ["1", "2", "3"]  # 1, not 1.0
    assert header[1:] == ["1", "2", "3"]


# --- text features and missing values ----------------------------------------------------------


def text_feature_rows() -> list[list]:
    colours = ["red", "blue", "NA", "green"]
    shapes = ["round", ".", "square"]
    return [[index % 7, colours[index % 4], shapes[index % 3], "yes" if index % 2 else "no"] for index in range(40)]


def test_text_features_need_onehot(cli, tmp_path, write_config):
    write_table(tmp_path / "shop.csv", ["size", "colour", "shape", "bought"], text_feature_rows())
    config = write_config("name: text\ndataset: {path: shop.csv, target: bought}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3, result.output
    assert "feature columns are not numeric: colour, shape" in result.stderr
    assert "onehot" in result.stderr


def test_impute_and_onehot_train(tmp_path, write_config):
    write_table(tmp_path / "shop.csv", ["size", "colour", "shape", "bought"], text_feature_rows())
    config = write_config(mlp_config("shop.csv", "bought", IMPUTE_ONEHOT, MARKERS))
    outcome = train_config(config, tmp_path / "runs")
    summary = read_json(outcome.run.path / "data.json")
    assert read_json(outcome.run.path / "run.json")["status"] == "completed"
    assert "colour_blue" in summary["features"]
    assert "colour_NA" not in summary["features"]
    assert "shape_." not in summary["features"]


def test_declared_markers_are_missing(tmp_path, write_config):
    write_table(tmp_path / "shop.csv", ["size", "colour", "shape", "bought"], text_feature_rows())
    config = write_config(mlp_config("shop.csv", "bought", IMPUTE_ONEHOT, MARKERS))
    columns = column_summary(train_config(config, tmp_path / "runs").run.path)
    assert columns["colour"]["missing"] == 10
    assert columns["shape"]["missing"] == 13
    assert columns["size"]["missing"] == 0


def test_empty_cells_stay_missing(tmp_path, write_config):
    (tmp_path / "gaps.csv").write_text("a,b,y\n1,,x\n2,3,z\n,4,x\n5,6,z\n7,8,x\n9,1,z\n", encoding="utf-8")
    config = write_config(mlp_config("gaps.csv", "y", "[{step: impute, strategy: median}]", MARKERS))
    columns = column_summary(train_config(config, tmp_path / "runs").run.path)
    assert columns["a"]["missing"] == 1
    assert columns["b"]["missing"] == 1


# --- file formats and encodings ------------------------------------------------------------------


def test_bom_and_quoted_header(tmp_path, write_config):
    rows = labelled_rows(["a", "b", "c"])
    text = '"x1",x2,y\n' + "".join(f"{x1},{x2},{y}\n" for x1, x2, y in rows)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    config = write_config("name: bom\ndataset: {path: bom.csv, target: y}\nmodel: {type: tree}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert [column["name"] for column in summary["columns"]] == ["x1", "x2", "y"]
    assert summary["features"] == ["x1", "x2"]


def test_semicolon_delimiter_detected(tmp_path, write_config):
    write_table(tmp_path / "semi.csv", ["x1", "x2", "y"], labelled_rows(["a", "b", "c"]), delimiter=";")
    config = write_config("name: semi\ndataset: {path: semi.csv, target: y}\nmodel: {type: tree}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["delimiter"] == ";"
    assert [column["name"] for column in summary["columns"]] == ["x1", "x2", "y"]


def write_gbk_table(folder: Path) -> Path:
    return write_table(folder / "gbk.csv", ["长度", "宽度", "类别"], labelled_rows(["甲", "乙", "丙"]), encoding="gbk")


def test_gbk_table_trains_tree(cli, tmp_path, write_config):
    write_gbk_table(tmp_path)
    config = write_config("name: gbk\ndataset:\n  path: gbk.csv\n  target: 类别\n  encoding: gbk\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 0, result.output
    summary = read_json(run_folder_from_stdout(result.stdout) / "data.json")
    assert summary["target"] == "类别"
    assert set(summary["label_mapping"].values()) == {"甲", "乙", "丙"}


def test_gbk_table_needs_encoding(cli, tmp_path, write_config):
    write_gbk_table(tmp_path)
    config = write_config("name: gbk\ndataset:\n  path: gbk.csv\n  target: 类别\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3, result.output
    assert "is not UTF-8" in result.stderr
    assert "gbk" in result.stderr


# --- shapes and sizes ------------------------------------------------------------------------------


def test_cnn_shape_mismatch_named(cli, tmp_path, write_config):
    rows = [[(index * pixel) % 17 for pixel in range(64)] + [index % 2] for index in range(30)]
    write_table(tmp_path / "pixels.csv", [f"p{pixel}" for pixel in range(64)] + ["label"], rows)
    config = write_config(
        "name: shape\ndataset: {path: pixels.csv, target: label}\n"
        "model: {type: cnn, input_shape: [1, 28, 28]}\ntrain: {epochs: 1}\n"
    )
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert "784" in result.stderr
    assert "has 64" in result.stderr


def test_kmeans_more_clusters_than_rows(cli, tmp_path, write_config):
    write_table(tmp_path / "four.csv", ["a", "b"], [[index, index * 2] for index in range(4)])
    config = write_config("name: few\ndataset: {path: four.csv}\nmodel: {type: kmeans, n_clusters: 5}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3, result.output
    assert "n_clusters=5" in result.stderr
    assert "4 rows" in result.stderr


def test_kmeans_few_distinct_points(cli, tmp_path, write_config):
    points = [[0, 0], [5, 5], [10, 0]]
    write_table(tmp_path / "twelve.csv", ["a", "b"], [points[index % 3] for index in range(12)])
    config = write_config("name: dups\ndataset: {path: twelve.csv}\nmodel: {type: kmeans, n_clusters: 5, n_init: 2}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3, result.output
    assert "n_clusters=5 but the data has only 3 distinct points (12 rows)" in result.stderr
    assert "at most 3" in result.stderr



def test_kmeans_records_every_distinct_point(tmp_path, write_config):
    points = [[0, 0], [5, 5], [10, 0], [0, 9], [7, 2]]
    write_table(tmp_path / "ten.csv", ["a", "b"], [points[index % 5] for index in range(10)])
    config = write_config("name: dups\ndataset: {path: ten.csv}\nmodel: {type: kmeans, n_clusters: 2, n_init: 2}\n")
    metrics = read_json(train_config(config, tmp_path / "runs").run.path / "metrics.json")
    assert metrics["distinct_points"] == 5


# --- headers, splits and output precision ----------------------------------------------------------


TABLE_WITH_HEADER = "a,b,y\n" + "".join(f"{index},{index % 3},{'xy'[index % 2]}\n" for index in range(40))

# A title line above a comma-separated table, as in the first line of UCI's adult.test.
TITLED = "|1x3 Cross validator\n" + "".join(f"{index}, {index % 3}, {'xy'[index % 2]}\n" for index in range(40))


def test_title_line_does_not_choose_delimiter():
    assert readers.detect_delimiter(TITLED) == ","


def test_title_line_refused_with_skip_hint(cli, tmp_path, write_config):
    (tmp_path / "titled.csv").write_text(TITLED, encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, header: false, target: column_3}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3, result.output
    assert "the first line has 1 field(s) but the lines after it have 3" in result.stderr
    assert "dataset.skip_rows: 1" in result.stderr


def test_skip_rows_reads_past_title(tmp_path, write_config):
    (tmp_path / "titled.csv").write_text(TITLED, encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, header: false, skip_rows: 1, target: column_3}\nmodel: {type: tree}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["rows"] == 40


def test_skip_rows_past_the_end(cli, tmp_path, write_config):
    write_table(tmp_path / "small.csv", ["a", "y"], [[1, "x"], [2, "y"]])
    config = write_config("dataset: {path: small.csv, target: y, skip_rows: 5}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3
    assert "small.csv has no lines after the 5 skipped (skip_rows)" in result.stderr


def test_validate_reads_header_after_skipped_rows(cli, tmp_path, write_config):
    (tmp_path / "titled.csv").write_text("My title\n" + TABLE_WITH_HEADER, encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, target: y, skip_rows: 1}\nmodel: {type: tree}\n")
    assert cli("validate", config).exit_code == 0


def test_validate_names_title_line(cli, tmp_path, write_config):
    (tmp_path / "titled.csv").write_text("My title\n" + TABLE_WITH_HEADER, encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("validate", config)
    assert result.exit_code != 0
    assert "dataset.skip_rows: 1" in result.stderr


def test_skip_rows_beyond_first_block(tmp_path, write_config):
    # 60,000 lines of about 20 bytes: the skipped lines end past the first 1 MiB block that is read.
    lines = "".join(f"{index % 97}.5,{index % 89}.25\n" for index in range(60_000))
    (tmp_path / "long.csv").write_text("x,y\n" + lines, encoding="utf-8")
    config = write_config("dataset: {path: long.csv, header: false, skip_rows: 55001}\nmodel: {type: kmeans, n_clusters: 2, n_init: 1}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["rows"] == 5_000


def test_blank_line_before_title_counted_in_hint(cli, tmp_path, write_config):
    (tmp_path / "titled.csv").write_text("\nMy title\n\n" + TABLE_WITH_HEADER, encoding="utf-8")
    config = write_config("dataset: {path: titled.csv, target: y}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3
    assert "dataset.skip_rows: 3" in result.stderr
    config = write_config("dataset: {path: titled.csv, target: y, skip_rows: 3}\nmodel: {type: tree}\n")
    assert train_cli(cli, config, tmp_path / "runs").exit_code == 0


def test_row_names_left_out_of_header_still_read(tmp_path, write_config):
    # R's write.csv writes row names as a first column that the header does not name.
    rows = "".join(f'"{index}",{index % 5},"{index % 2}"\n' for index in range(1, 31))
    (tmp_path / "rstyle.csv").write_text('"a","y"\n' + rows, encoding="utf-8")
    config = write_config("dataset: {path: rstyle.csv, target: y}\nmodel: {type: tree}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["features"] == ["a"]
    assert summary["rows"] == 30


def test_trailing_delimiter_on_every_line_drops_empty_column(tmp_path, write_config):
    lines = "".join(f"{index},{index % 3},{'xy'[index % 2]},\n" for index in range(40))
    (tmp_path / "trail.csv").write_text("a,b,y,\n" + lines, encoding="utf-8")
    config = write_config("dataset: {path: trail.csv, target: y}\nmodel: {type: tree}\n")
    summary = read_json(train_config(config, tmp_path / "runs").run.path / "data.json")
    assert summary["reader"]["empty_columns_dropped"] == ["Unnamed: 3"]
    assert summary["features"] == ["a", "b"]


def test_trailing_delimiters_named(cli, tmp_path, write_config):
    (tmp_path / "trail.csv").write_text("a,y\n" + "".join(f"{index},{'xy'[index % 2]},\n" for index in range(10)), encoding="utf-8")
    config = write_config("dataset: {path: trail.csv, target: y}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3
    assert "the first line has 2 field(s) and the lines after it 3, the last 1 of them empty" in result.stderr
    assert "extra delimiter" in result.stderr


def headerless_rows() -> list[list]:
    return [[index, index % 7, (index * 3) % 5, "b" if index % 2 else "m"] for index in range(1, 41)]


def test_headerless_file_gets_hint(cli, tmp_path, write_config):
    lines = [",".join(map(str, row)) for row in headerless_rows()]
    (tmp_path / "plain.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config("dataset: {path: plain.csv, target: label}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3
    assert "column 'label' not found" in result.stderr
    assert "dataset.header: false" in result.stderr


def test_header_false_names_columns(cli, tmp_path, write_config):
    lines = [",".join(map(str, row)) for row in headerless_rows()]
    (tmp_path / "plain.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(
        "dataset: {path: plain.csv, header: false, columns: [id, a, b, label], drop_columns: [id], target: label}\n"
        "model: {type: tree}\n"
    )
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = run_folder_from_stdout(result.stdout)
    summary = read_json(run / "data.json")
    assert summary["rows"] == 40
    assert summary["features"] == ["a", "b"]


def test_header_false_default_names(tmp_path, write_config):
    lines = [",".join(map(str, row)) for row in headerless_rows()]
    (tmp_path / "plain.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config("dataset: {path: plain.csv, header: false, target: column_4}\nmodel: {type: tree}\n")
    run = train_config(config, tmp_path / "runs").run.path
    assert read_json(run / "data.json")["features"] == ["column_1", "column_2", "column_3"]


def test_column_count_mismatch_named(cli, tmp_path, write_config):
    (tmp_path / "plain.csv").write_text("1,2,x\n3,4,y\n", encoding="utf-8")
    config = write_config("dataset: {path: plain.csv, header: false, columns: [a, b], target: b}\nmodel: {type: tree}\n")
    result = train_cli(cli, config, tmp_path / "runs")
    assert result.exit_code == 3
    assert "names 2 columns (a, b), but plain.csv has 3" in result.stderr
    assert "give a file with the 2 columns it names" in result.stderr


def test_tree_uses_all_training_rows(tmp_path, write_config):
    config = write_config("dataset: {name: iris}\nmodel: {type: tree}\n")
    run = train_config(config, tmp_path / "runs").run.path
    split = read_json(run / "data.json")["split"]
    assert split == {"train": 120, "validation": 0, "test": 30}


def test_forecast_keeps_time_column(tmp_path, write_config):
    config = write_config(
        "dataset: {name: sunspots, task: forecasting}\nmodel: {type: rnn, window: 5, hidden_size: 4}\n"
        "train: {epochs: 1}\n"
    )
    run = train_config(config, tmp_path / "runs").run.path
    with open(run / "artifacts" / "forecast.csv", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["year", "actual", "forecast", "naive_forecast"]
    assert rows[-1][0] == "2008"
    assert rows[-1][1] == "2.9"  # the value as written in the data, not a float32 rounding
    assert rows[-1][3] == "7.5"  # the naive forecast is the previous year's value


def test_unknown_encoding_fails_validate(cli, write_config):
    config = write_config("dataset: {name: iris, encoding: gbkk}\nmodel: {type: kmeans}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert "dataset.encoding: unknown encoding 'gbkk'" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PAR1\x15\x04\x15\x00\x00", "table.csv is read as csv, but its content is a parquet file"),
        (b"", "table.csv is empty (0 bytes)"),
        (b" \n\n", "table.csv is empty: it has no header line"),
        ("等级,y\n1,2\n".encode("gbk"), "table.csv is not UTF-8 (byte 0xb5 at offset 0)"),
    ],
    ids=["parquet-named-csv", "empty", "blank", "gbk-without-encoding"],
)
def test_validate_names_the_file_problem(cli, write_config, tmp_path, content, expected):
    # The same cause train reports, rather than a missing target column or a crash.
    (tmp_path / "table.csv").write_bytes(content)
    config = write_config("dataset: {path: table.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "not found" not in result.stderr


def test_validate_reads_gbk_header_with_encoding(cli, write_config, tmp_path):
    (tmp_path / "table.csv").write_bytes("等级,y\n1,2\n".encode("gbk"))
    config = write_config("dataset: {path: table.csv, target: 等级, encoding: gbk}\nmodel: {type: tree}\n")
    result = cli("validate", config)
    assert result.exit_code == 0, result.stderr


def test_validate_checks_spark_options(cli, write_config, tmp_path):
    (tmp_path / "table.csv").write_text("x,y\n1,a\n2,b\n", encoding="utf-8")
    config = write_config("dataset: {path: table.csv, target: y}\nmodel: {type: tree, engine: spark, min_samples_split: 4}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert "model.min_samples_split: 4 is not supported on the spark engine" in result.stderr
