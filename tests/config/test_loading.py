"""Config errors through the CLI, and the YAML 1.2 rules of the config loader."""

from __future__ import annotations

import time

import pytest

from dmrun.config.loading import load_config
from dmrun.errors import ConfigError
from helpers import run_folders

def assert_config_error(result) -> None:
    """A config problem: exit code 2, an ``error:`` line, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


# --- one problem each ---------------------------------------------------------------------


def test_unknown_key_suggests_name(cli, write_config):
    path = write_config(
        """
        name: typo
        dataset:
          name: iris
        model:
          type: mlp
          hidden_sise: [8]
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:6:3: model.hidden_sise: unknown key 'hidden_sise'" in result.stderr
    assert "did you mean 'hidden_sizes'?" in result.stderr


def test_unclosed_bracket_shows_opening(cli, write_config):
    path = write_config("dataset: {name: iris}\nmodel:\n  type: tree\n  max_depth: [5\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:5:1: invalid YAML: expected ',' or ']'" in result.stderr
    assert f"{path}:4:14: while parsing a flow sequence, which starts here" in result.stderr
    assert "      max_depth: [5\n                 ^" in result.stderr


def test_wrong_type_is_rejected(cli, write_config):
    path = write_config(
        """
        name: wrong-type
        dataset: {name: iris}
        model: {type: mlp}
        train:
          epochs: "5"
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:5:3: train.epochs: invalid value '5'" in result.stderr
    assert "valid integer" in result.stderr


def test_out_of_range_is_rejected(cli, write_config):
    path = write_config(
        """
        name: range
        dataset: {name: iris}
        model:
          type: mlp
          dropout: 1.5
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:5:3: model.dropout: invalid value 1.5" in result.stderr
    assert "less than 1" in result.stderr


def test_misspelled_choice_suggests_value(cli, write_config):
    path = write_config(
        """
        name: literal
        dataset: {name: iris}
        model:
          type: mlp
          activation: rleu
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:5:3: model.activation: invalid value 'rleu'" in result.stderr
    assert "did you mean 'relu'?" in result.stderr


def test_unknown_model_type_lists_types(cli, write_config):
    path = write_config(
        """
        name: unknown-type
        dataset: {name: iris}
        model:
          type: transformer
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert "invalid value 'transformer'" in result.stderr
    assert "mlp, nn, cnn, rnn, kmeans, tree, rules" in result.stderr


def test_misspelled_model_type_suggests(cli, write_config):
    path = write_config("name: t\ndataset: {name: iris}\nmodel: {type: tre}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert "did you mean 'tree'?" in result.stderr


def test_missing_model_section_named(cli, write_config):
    path = write_config("name: no-model\ndataset: {name: iris}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert "missing required key 'model'" in result.stderr


def test_every_problem_reported_together(cli, write_config):
    path = write_config(
        """
        name: many
        seed: -1
        dataset:
          name: iris
          split: {test_sise: 0.3}
        model:
          type: mlp
          activation: rleu
        train:
          epochs: 0
        """
    )
    result = cli("validate", path)
    assert_config_error(result)
    assert "invalid config (4 problems)" in result.stderr
    assert f"{path}:2:1: seed:" in result.stderr
    assert f"{path}:5:11: dataset.split.test_sise:" in result.stderr
    assert f"{path}:8:3: model.activation:" in result.stderr
    assert f"{path}:10:3: train.epochs:" in result.stderr


def test_train_rejects_bad_config(cli, write_config, tmp_path):
    path = write_config("name: bad\ndataset: {name: iris}\nmodel: {type: mlp, dropout: 2}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs")
    assert_config_error(result)
    assert run_folders(tmp_path / "runs") == []


# --- YAML 1.2 rules -------------------------------------------------------------------------


def test_tab_indentation_is_rejected(cli, write_config):
    path = write_config("name: tabs\ndataset:\n\tname: iris\nmodel:\n  type: tree\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:3:1: YAML indentation must use spaces" in result.stderr


def test_tab_before_comment_accepted(write_config):
    path = write_config("name: tab-comment\nseed: 3\t# a tab before the comment\ndataset:\n  name: iris\nmodel:\n  type: tree\n")
    assert load_config(path).config.seed == 3


def test_exponent_floats_load_as_floats(write_config):
    path = write_config(
        """
        name: floats
        dataset: {name: iris}
        model: {type: mlp}
        train:
          optimizer:
            lr: 1e-3
            weight_decay: 5E-4
        """
    )
    optimizer = load_config(path).config.train.optimizer
    assert isinstance(optimizer.lr, float)
    assert optimizer.lr == 0.001
    assert isinstance(optimizer.weight_decay, float)
    assert optimizer.weight_decay == 0.0005


def test_yes_is_not_a_bool(cli, write_config):
    path = write_config("name: yes-bool\ndataset:\n  name: iris\n  split: {stratify: yes}\nmodel: {type: tree}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert "dataset.split.stratify: invalid value 'yes'" in result.stderr
    assert "write true or false" in result.stderr


def test_leading_zero_stays_decimal(write_config):
    path = write_config("name: octal\nseed: 010\ndataset: {name: iris}\nmodel: {type: tree}\n")
    assert load_config(path).config.seed == 10


def test_duplicate_key_is_rejected(cli, write_config):
    path = write_config("name: dup\nseed: 1\nseed: 2\ndataset: {name: iris}\nmodel: {type: tree}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:3:1: seed: duplicate key 'seed' (first defined on line 2)" in result.stderr


def test_merge_key_allows_override(write_config):
    path = write_config(
        """
        name: merge
        dataset: {name: iris}
        model:
          type: tree
          <<: {max_depth: 3, min_samples_leaf: 2}
          max_depth: 4
        """
    )
    model = load_config(path).config.model
    assert model.max_depth == 4
    assert model.min_samples_leaf == 2


def test_alias_bomb_rejected_quickly(cli, write_config):
    levels = ["  drop_columns: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    keys = ["missing_values", "target", "format", "delimiter", "encoding", "task", "name", "path"]
    for index, key in enumerate(keys, start=1):
        references = ", ".join([f"*l{index - 1}"] * 10)
        levels.append(f"  {key}: &l{index} [{references}]")
    path = write_config("name: bomb\ndataset:\n" + "\n".join(levels) + "\nmodel: {type: tree}\n")
    started = time.perf_counter()
    result = cli("validate", path)
    elapsed = time.perf_counter() - started
    assert_config_error(result)
    assert "aliases expand to more than" in result.stderr
    assert elapsed < 5


@pytest.mark.parametrize(
    ("foreign", "dmrun_key"), [("experiment", "name"), ("algorithm", "model"), ("epochs", "train.epochs")]
)
def test_foreign_key_names_dmrun_key(cli, write_config, foreign, dmrun_key):
    path = write_config(f"{foreign}: x\nname: foreign\ndataset: {{name: iris}}\nmodel: {{type: tree}}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert f"{path}:1:1: {foreign}: unknown key '{foreign}'" in result.stderr
    assert f"dmrun calls this `{dmrun_key}`" in result.stderr


def test_name_and_path_rejected(cli, write_config):
    path = write_config("name: both\ndataset: {name: iris, path: data.csv}\nmodel: {type: tree}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert "give exactly one of `name`" in result.stderr


def test_missing_data_path_named(cli, write_config, tmp_path):
    path = write_config("name: lost\ndataset: {path: nowhere/data.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("train", path, "--runs-dir", tmp_path / "runs")
    assert_config_error(result)
    assert "dataset.path 'nowhere/data.csv' not found" in result.stderr
    assert str(tmp_path / "nowhere" / "data.csv") in result.stderr
    assert run_folders(tmp_path / "runs") == []


def test_validate_checks_data_path(cli, write_config):
    path = write_config("name: lost\ndataset: {path: missing.csv, target: y}\nmodel: {type: tree}\n")
    result = cli("validate", path)
    assert_config_error(result)
    assert "missing.csv" in result.stderr


def test_data_path_relative_to_config(cli, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data.csv").write_text("a,y\n1,x\n2,z\n", encoding="utf-8")
    (folder / "exp.yaml").write_text("dataset: {path: data.csv, target: y}\nmodel: {type: tree}\n", encoding="utf-8")
    result = cli("validate", folder / "exp.yaml")
    assert result.exit_code == 0, result.output


def test_name_defaults_to_file_name(write_config):
    path = write_config("dataset: {name: iris}\nmodel: {type: tree}\n", name="my experiment.yaml")
    assert load_config(path).config.name == "my-experiment"


def test_load_config_raises_config_error(write_config):
    path = write_config("name: x\ndataset: {name: iris}\nmodel: {type: tree, max_depth: 0}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.details) == 1
    assert caught.value.exit_code == 2


def test_secret_values_never_echoed(cli, write_config):
    path = write_config(
        """
        dataset: {name: iris, api_token: DUMMY-TOKEN-1}
        model:
          type: kmeans
          password: "DUMMY TOKEN 2"
        """
    )
    result = cli("validate", path, "--set", "model.secret_key=DUMMY-TOKEN-3")
    assert result.exit_code == 2
    assert "unknown key 'api_token'" in result.stderr
    assert "unknown key 'password'" in result.stderr
    assert "unknown key 'secret_key'" in result.stderr
    assert "DUMMY" not in result.output


def test_tab_after_colon_accepted(write_config):
    path = write_config("dataset: {name: iris}\nmodel:\n  type:\tkmeans\n  n_clusters:\t3\n")
    assert load_config(path).config.model.n_clusters == 3


def test_tab_inside_quotes_kept():
    from dmrun.config.yaml_source import parse_yaml

    assert parse_yaml('x: "a\tb"\ny: \'c:\td\'', "inline").data == {"x": "a\tb", "y": "c:\td"}


def test_invalid_name_explained(cli, write_config):
    path = write_config('name: "my run"\ndataset: {name: iris}\nmodel: {type: kmeans}\n')
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "a run name uses letters, digits" in result.stderr


def test_section_check_points_at_section(cli, write_config):
    path = write_config("dataset: {name: iris}\nmodel: {type: kmeans}\ntrain: {epochs: 3}\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"{path}:3:1: train: the `train` section applies to mlp, cnn and rnn" in result.stderr


def test_validate_checks_csv_header_columns(cli, write_config, tmp_path):
    (tmp_path / "people.csv").write_text("Name;Survived;Age\nA;1;30\n", encoding="utf-8")
    typo = write_config("dataset: {path: people.csv, target: Survivd}\nmodel: {type: tree}\n", name="typo.yaml")
    result = cli("validate", typo)
    assert result.exit_code == 2
    assert "dataset.target: column 'Survivd' not found in the header of people.csv" in result.stderr
    assert "did you mean 'Survived'" in result.stderr
    dropped = write_config("dataset: {path: people.csv, target: Survived, drop_columns: [Nme]}\nmodel: {type: tree}\n", name="drop.yaml")
    assert "dataset.drop_columns: column 'Nme'" in cli("validate", dropped).stderr
    good = write_config("dataset: {path: people.csv, target: Survived, drop_columns: [Name]}\nmodel: {type: tree}\n", name="good.yaml")
    assert cli("validate", good).exit_code == 0
