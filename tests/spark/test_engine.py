"""The spark engine against the local engines, on Spark ``local[2]``.

One SparkSession serves every test of the module, because dmrun reuses an active session and
leaves it running. Rules must equal the fim engine's byte for byte. k-means and tree metrics
must be within the tolerance stated at each test, because MLlib initialises, splits rows and
bins thresholds differently.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from helpers import read_json, run_folders

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install 'dmrun[spark]')", allow_module_level=True)
if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
    pytest.skip("no Java runtime for Spark (JAVA_HOME or java on PATH)", allow_module_level=True)

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("dmrun tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def mine(tmp_path: Path, data: Path, engine: str, support: float, max_len: int | None = None, **options):
    from dmrun.cli.mine import build_mining_config
    from dmrun.runner import run_experiment

    loaded = build_mining_config(
        str(data), "rules", support, 0.3, None, None, max_len, "fpgrowth", 10, "lift", "utf-8", None,
        engine=engine, plots=False, **options,
    )
    return run_experiment(loaded, tmp_path / engine).run.path


def assert_same_mining(fim_run: Path, spark_run: Path) -> None:
    for name in ("itemsets.csv", "rules.csv", "itemsets.json", "rules.json"):
        assert (spark_run / "artifacts" / name).read_bytes() == (fim_run / "artifacts" / name).read_bytes(), name
    assert read_json(spark_run / "metrics.json") == read_json(fim_run / "metrics.json")


def test_rules_equal_fim_on_messy_baskets(spark, tmp_path):
    baskets = tmp_path / "baskets.csv"
    lines = ["milk,bread, eggs", "bread,bread,butter", "", "milk,,bread", " eggs ,milk", "butter,eggs,milk,bread"]
    baskets.write_text("\n".join(lines * 3) + "\n", encoding="utf-8")
    fim_run = mine(tmp_path, baskets, "fim", 0.2)
    spark_run = mine(tmp_path, baskets, "spark", 0.2, master="local[2]")
    assert_same_mining(fim_run, spark_run)

    local, distributed = read_json(fim_run / "data.json"), read_json(spark_run / "data.json")
    for key in ("transactions", "distinct_items", "items_total", "max_basket_size", "empty_baskets_dropped",
                "blank_items_dropped", "items_trimmed", "duplicate_items_collapsed", "fingerprint"):
        assert distributed[key] == local[key], key
    assert distributed["engine"] == "spark"
    assert distributed["spark"]["master"] == "local[2]"
    record = read_json(spark_run / "run.json")
    assert record["engine"] == "spark"
    assert record["spark"]["master"] == "local[2]"
    assert record["spark"]["version"] == spark.version
    assert record["versions"]["pyspark"] == spark.version


def test_long_table_rules_equal_fim(spark, tmp_path):
    table = tmp_path / "orders.csv"
    rows = [("1", "tea"), ("1", "milk"), ("2", "tea"), ("2", "cake"), ("3", "tea"), ("3", "milk"), ("3", "tea"), ("4", "milk")]
    table.write_text("order,product\n" + "\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    layout = {"layout": "long", "transaction_column": "order", "item_column": "product"}
    fim_run = mine(tmp_path, table, "fim", 0.25, baskets=layout)
    spark_run = mine(tmp_path, table, "spark", 0.25, baskets=layout)
    assert_same_mining(fim_run, spark_run)


def test_rules_equal_fim_on_retail_slice(spark, tmp_path):
    source = DATASETS / "fimi" / "retail.dat"
    if not source.is_file():
        pytest.skip(f"no shared datasets folder at {DATASETS}")
    head = tmp_path / "retail-head.dat"
    with open(source, encoding="ascii") as stream:
        head.write_text("".join(next(stream) for _ in range(1500)), encoding="ascii")
    fim_run = mine(tmp_path, head, "fim", 0.02, max_len=3)
    spark_run = mine(tmp_path, head, "spark", 0.02, max_len=3)
    assert_same_mining(fim_run, spark_run)
    assert read_json(spark_run / "metrics.json")["rules"] > 20


def train(tmp_path: Path, write_config, text: str, engine: str):
    from dmrun.config.loading import load_config
    from dmrun.runner import run_experiment

    path = write_config(text, name=f"{engine}.yaml")
    outcome = run_experiment(load_config(path, [f"model.engine={engine}"]), tmp_path / engine)
    return outcome.run.path, outcome.result.metrics


def test_kmeans_metrics_close_to_sklearn(spark, tmp_path, write_config):
    config = """
        dataset: {name: iris}
        preprocess: [{step: scale, method: minmax}]
        model: {type: kmeans, n_clusters: 3, n_init: 2}
        report: {plots: false}
    """
    _, local = train(tmp_path, write_config, config, "sklearn")
    run, distributed = train(tmp_path, write_config, config, "spark")
    # Both reach the same optimum on iris, so the scores agree up to rounding and ARI and NMI exactly.
    for key in ("inertia", "silhouette", "davies_bouldin", "calinski_harabasz"):
        assert distributed[key] == pytest.approx(local[key], rel=1e-6), key
    assert distributed["ari"] == pytest.approx(local["ari"], abs=1e-12)
    assert distributed["nmi"] == pytest.approx(local["nmi"], abs=1e-12)
    assert sorted(distributed["cluster_sizes"]) == sorted(local["cluster_sizes"])
    assert distributed["distinct_points"] == local["distinct_points"]
    with open(run / "artifacts" / "clusters.csv", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == 150
    assert (run / "model" / "spark_model" / "metadata").is_dir()
    assert read_json(run / "model" / "model.json")["features"] == read_json(run / "data.json")["features"]


def test_tree_metrics_close_to_sklearn(spark, tmp_path, write_config):
    config = """
        dataset: {name: breast_cancer}
        preprocess: [{step: scale, method: standard}]
        model: {type: tree, max_depth: 4}
        report: {plots: false}
    """
    _, local = train(tmp_path, write_config, config, "sklearn")
    run, distributed = train(tmp_path, write_config, config, "spark")
    # Spark draws other test rows and tries 32 thresholds per feature, so accuracy may differ by up to 0.06.
    for key in ("accuracy", "f1_macro"):
        assert distributed[key] == pytest.approx(local[key], abs=0.06), key
    assert distributed["depth"] <= 4
    assert set(distributed["feature_importances"]) == set(local["feature_importances"])
    assert sum(distributed["feature_importances"].values()) == pytest.approx(1.0)
    split = read_json(run / "data.json")["split"]
    with open(run / "artifacts" / "predictions.csv", encoding="utf-8") as stream:
        predictions = list(csv.DictReader(stream))
    assert len(predictions) == split["test"]
    assert sum(map(sum, distributed["confusion_matrix"])) == split["test"]
    classes = read_json(run / "data.json")["label_mapping"].values()
    assert set(predictions[0]) == {"target", "prediction", *(f"probability_{name}" for name in classes)}


def test_tree_encodes_text_and_imputes(spark, tmp_path, write_config):
    rows = ["city,size,rooms,price"]
    for index in range(60):
        size = "" if index % 7 == 0 else str(40 + index)
        rows.append(f"{['oslo', 'rome', 'lima'][index % 3]},{size},{1 + index % 4},{'high' if index % 3 == 0 else 'low'}")
    (tmp_path / "homes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = """
        dataset: {path: homes.csv, target: price}
        preprocess: [{step: impute, strategy: median}, {step: onehot, columns: [city]}]
        model: {type: tree, max_depth: 3}
        report: {plots: false}
    """
    run, metrics = train(tmp_path, write_config, config, "spark")
    summary = read_json(run / "data.json")
    assert summary["features"] == ["city_lima", "city_oslo", "city_rome", "size", "rooms"]
    assert summary["label_mapping"] == {"0": "high", "1": "low"}
    assert next(column for column in summary["columns"] if column["name"] == "size")["missing"] == 9
    assert metrics["accuracy"] == 1.0
    assert "city_oslo" in (run / "artifacts" / "tree.txt").read_text(encoding="utf-8")


def test_missing_feature_without_impute_is_data_error(spark, tmp_path, write_config):
    from dmrun.errors import DataError

    (tmp_path / "gaps.csv").write_text("x,y\n1,a\n,b\n3,a\n4,b\n5,a\n6,b\n", encoding="utf-8")
    config = """
        dataset: {path: gaps.csv, target: y}
        model: {type: tree}
        report: {plots: false}
    """
    with pytest.raises(DataError, match="feature column 'x' has 1 missing value"):
        train(tmp_path, write_config, config, "spark")
    assert read_json(run_folders(tmp_path / "spark")[0] / "run.json")["status"] == "failed"
