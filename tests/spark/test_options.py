"""The spark engine's config, master URL and requirement checks; none of these tests starts Spark."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dmrun.config.schema import ExperimentConfig
from dmrun.errors import ConfigError
from dmrun.spark import session
from dmrun.spark.options import check_supported
from helpers import REPO_ROOT, run_folders


def make_config(model: dict, dataset: dict | None = None, **sections) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"dataset": dataset or {"name": "iris"}, "model": model, **sections})


def test_master_from_config_first():
    settings = make_config({"type": "kmeans", "engine": "spark"}, spark={"master": "spark://head:7077"}).spark
    environ = {"DMRUN_SPARK_MASTER": "yarn", "SPARK_MASTER": "local[1]"}
    assert session.resolve_master(settings, environ) == ("spark://head:7077", "spark.master")


def test_master_from_environment_in_order():
    assert session.resolve_master(None, {"DMRUN_SPARK_MASTER": "yarn", "SPARK_MASTER": "local[1]"}) == (
        "yarn",
        "DMRUN_SPARK_MASTER",
    )
    assert session.resolve_master(None, {"SPARK_MASTER": "k8s://https://api:443"}) == (
        "k8s://https://api:443",
        "SPARK_MASTER",
    )
    assert session.resolve_master(None, {}) == ("local[*]", "default")


def test_missing_pyspark_names_the_extra(monkeypatch):
    real_find_spec = session.importlib.util.find_spec
    monkeypatch.setattr(
        session.importlib.util, "find_spec", lambda name: None if name == "pyspark" else real_find_spec(name)
    )
    with pytest.raises(ConfigError) as caught:
        session.check_requirements({})
    assert "needs pyspark, which is not installed" in caught.value.message
    assert "pip install 'dmrun[spark]'" in caught.value.hint


def test_missing_java_names_what_was_searched(tmp_path):
    with pytest.raises(ConfigError) as caught:
        session.find_java({"JAVA_HOME": str(tmp_path)})
    assert f"JAVA_HOME={tmp_path} has no executable bin/java" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        session.find_java({"PATH": str(tmp_path)})
    assert "JAVA_HOME is not set and no `java` is on PATH" in caught.value.message


def test_java_found_on_path(tmp_path):
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\n", encoding="utf-8")
    java.chmod(0o755)
    assert session.find_java({"PATH": str(tmp_path)}) == java


@pytest.mark.parametrize(
    ("model", "dataset", "preprocess", "message"),
    [
        ({"type": "rules", "engine": "spark", "algorithm": "apriori"}, None, [], "model.algorithm: 'apriori'"),
        ({"type": "tree", "engine": "spark", "max_leaf_nodes": 8}, None, [], "model.max_leaf_nodes: 8"),
        ({"type": "tree", "engine": "spark", "criterion": "friedman_mse"}, None, [], "model.criterion: 'friedman_mse'"),
        ({"type": "tree", "engine": "spark", "ccp_alpha": 0.1}, None, [], "model.ccp_alpha: 0.1"),
        ({"type": "tree", "engine": "spark", "max_depth": 31}, None, [], "model.max_depth: 31 is above 30, the largest"),
        ({"type": "kmeans", "engine": "spark"}, None, [{"step": "pca"}], "preprocess[0]: step 'pca'"),
        ({"type": "kmeans", "engine": "spark"}, None, [{"step": "impute", "strategy": "constant"}], "preprocess[0].strategy"),
        (
            {"type": "tree", "engine": "spark"},
            {"name": "iris", "split": {"group_by": "target"}},
            [],
            "dataset.split.group_by: 'target'",
        ),
        (
            {"type": "rules", "engine": "spark"},
            {"name": "adult_baskets", "baskets": {"layout": "onehot"}},
            [],
            "dataset.baskets.layout: 'onehot'",
        ),
    ],
)
def test_unsupported_option_is_named(model, dataset, preprocess, message, tmp_path):
    config = make_config(model, dataset, preprocess=preprocess)
    with pytest.raises(ConfigError) as caught:
        check_supported(config, tmp_path)
    assert message in caught.value.message
    assert "spark engine" in caught.value.message
    assert caught.value.hint


def test_unsupported_file_format_is_named(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"")
    config = make_config({"type": "kmeans", "engine": "spark"}, {"path": "x.npy"})
    with pytest.raises(ConfigError, match="dataset.format: 'npy' is not supported on the spark engine"):
        check_supported(config, tmp_path)


def test_csv_encoding_spark_cannot_read_is_named(tmp_path):
    (tmp_path / "gbk.csv").write_bytes("等级,y\n1,2\n".encode("gbk"))
    config = make_config({"type": "tree", "engine": "spark"}, {"path": "gbk.csv", "target": "y", "encoding": "gbk"})
    with pytest.raises(ConfigError, match="dataset.encoding: 'gbk' is not supported on the spark engine") as caught:
        check_supported(config, tmp_path)
    assert "iconv -f gbk -t utf-8" in caught.value.hint


def test_latin1_csv_accepted(tmp_path):
    (tmp_path / "latin.csv").write_bytes("x,y\n1,é\n".encode("latin-1"))
    config = make_config({"type": "tree", "engine": "spark"}, {"path": "latin.csv", "target": "y", "encoding": "latin-1"})
    check_supported(config, tmp_path)


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[2,3]", "spark://head:7077", "yarn", "k8s://https://h:443"])
def test_master_urls_accepted(master):
    session.check_master(master, "spark.master")


@pytest.mark.parametrize("master", ["bogus://nowhere", "local[two]", "spark:/head", ""])
def test_bad_master_named_before_spark_starts(master):
    with pytest.raises(ConfigError, match="is not a Spark master URL") as caught:
        session.check_master(master, "spark.master")
    assert "local[*]" in caught.value.hint


def test_cli_bad_master_fails_before_the_run(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\nb,c\n", encoding="utf-8")
    runs = tmp_path / "runs"
    result = cli("mine", "rules", baskets, "--engine", "spark", "--master", "bogus://nowhere", "--runs-dir", runs)
    assert result.exit_code == 2
    assert "error: spark.master (or --master): 'bogus://nowhere' is not a Spark master URL" in result.stderr
    assert run_folders(runs) == []


def test_spark_section_needs_spark_engine():
    with pytest.raises(ValueError, match="the `spark` section applies to models with `engine: spark`"):
        make_config({"type": "kmeans"}, spark={"master": "local[2]"})


def test_engine_defaults_stay_local():
    assert make_config({"type": "kmeans"}).engine == "sklearn"
    assert make_config({"type": "tree"}).engine == "sklearn"
    assert make_config({"type": "rules"}, {"name": "adult_baskets"}).engine == "fim"


def test_cli_without_java_fails_before_the_run(cli, tmp_path, monkeypatch):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\nb,c\n", encoding="utf-8")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    runs = tmp_path / "runs"
    result = cli("mine", "rules", baskets, "--engine", "spark", "--runs-dir", runs)
    assert result.exit_code == 2
    assert "error: the spark engine needs a Java runtime" in result.stderr
    assert "hint: set JAVA_HOME" in result.stderr
    assert "Traceback" not in result.output
    assert run_folders(runs) == []


def test_cli_master_needs_spark_engine(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\nb,c\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--master", "local[2]", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "--master applies to --engine spark, not to --engine fim" in result.stderr


def test_local_runs_never_import_pyspark(tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\nb,c\na,b,c\n", encoding="utf-8")
    probe = textwrap.dedent(
        f"""
        import sys
        from typer.testing import CliRunner
        from dmrun.cli import app
        result = CliRunner().invoke(app, ["mine", "rules", {str(baskets)!r}, "--no-plots", "--runs-dir", {str(tmp_path / "runs")!r}])
        print(result.exit_code, "pyspark" in sys.modules)
        """
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert completed.stdout.split()[-2:] == ["0", "False"], completed.stderr


def test_predict_rejects_spark_runs(cli, tmp_path):
    from helpers import make_run

    config = "dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3, engine: spark}\n"
    run = make_run(tmp_path / "runs", "20260101-100000-km-aaaaaa", {"inertia": 1.0}, config=config)
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n", encoding="utf-8")
    result = cli("predict", run, rows)
    assert result.exit_code == 2
    assert "predict for kmeans runs trained on the spark engine is not supported yet" in result.stderr
    assert "pyspark.ml.PipelineModel.load" in result.stderr
