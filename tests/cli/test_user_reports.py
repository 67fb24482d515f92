"""Configs and commands that tripped users of other tools, replayed against dmrun."""

from __future__ import annotations

import pytest
import yaml

from helpers import only_run_folder, run_folders

FOREIGN_VOCABULARY = """
experiment: sci_notation
dataset:
  name: iris
algorithm:
  name: mlp
  hidden_sizes: [8]
optimizer:
  name: adam
  lr: 1e-3
"""


@pytest.mark.parametrize(("value", "hint"), [("3", "use 0.03"), ("60", "use 0.6"), ("0", None), ("-0.1", None), ("1.5", None)])
def test_config_support_outside_unit_interval(cli, write_config, value, hint):
    path = write_config(f"dataset: {{name: adult_baskets}}\nmodel: {{type: rules, min_support: {value}}}\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"model.min_support: invalid value {value}" in result.stderr
    if hint is not None:
        assert hint in result.stderr
        assert f"model.min_count: {value}" in result.stderr


def test_scientific_notation_saved_as_numbers(cli, write_config, tmp_path):
    path = write_config(
        """
        name: sci
        dataset: {name: iris}
        model: {type: mlp, hidden_sizes: [4]}
        train:
          epochs: 1
          optimizer: {name: adam, lr: 1e-3, weight_decay: 5E-4, eps: 1.0e-8}
        """
    )
    result = cli("train", path, "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((only_run_folder(tmp_path / "runs") / "config.yaml").read_text(encoding="utf-8"))
    assert saved["train"]["optimizer"]["lr"] == 0.001
    assert saved["train"]["optimizer"]["weight_decay"] == 0.0005
    assert saved["train"]["optimizer"]["eps"] == 1e-8


def test_other_tools_keys_get_dmrun_names(cli, write_config):
    result = cli("validate", write_config(FOREIGN_VOCABULARY))
    assert result.exit_code == 2
    assert "experiment: unknown key 'experiment'" in result.stderr
    assert "hint: dmrun calls this `name`" in result.stderr
    assert "hint: dmrun calls this `model`" in result.stderr
    assert "hint: dmrun calls this `train.optimizer`" in result.stderr
    assert "Traceback" not in result.output


def test_tab_indentation_one_line_error(cli, write_config):
    path = write_config("name: tabs\ndataset:\n\tname: iris\nmodel:\n  type: kmeans\n  n_clusters: 3\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"error: {path}:3:1: YAML indentation must use spaces (a tab was found)"
    assert "Traceback" not in result.output


def test_tab_before_nested_comment_accepted(cli, write_config):
    path = write_config("name: tab-comment\ndataset:\n  name: iris\nmodel:\n  type: kmeans\n  n_clusters: 3\t# three species\n")
    result = cli("validate", path)
    assert result.exit_code == 0, result.output


def test_missing_data_file_hides_secrets(cli, write_config, tmp_path):
    path = write_config(
        """
        name: secrets
        tracking: {backend: mlflow, api_token: DUMMY-TOKEN-1234567890}
        dataset: {path: does_not_exist.csv}
        model: {type: kmeans, n_clusters: 3}
        """
    )
    unknown = cli("--verbose", "train", path, "--runs-dir", tmp_path / "runs")
    assert unknown.exit_code == 2
    assert "unknown key 'tracking'" in unknown.stderr
    assert "DUMMY" not in unknown.output

    path.write_text(path.read_text(encoding="utf-8").replace("tracking:", "# tracking:"), encoding="utf-8")
    missing = cli("--verbose", "train", path, "--runs-dir", tmp_path / "runs")
    assert missing.exit_code == 2
    assert "error: dataset.path 'does_not_exist.csv' not found" in missing.stderr
    assert "relative to the config file's folder" in missing.stderr
    assert "Traceback" not in missing.output
    assert run_folders(tmp_path / "runs") == []
