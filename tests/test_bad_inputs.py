"""Broken configs, data files and command lines: each fails with its exit code and a message
naming the value, never with a traceback, and no run folder claims success.

Add a case here whenever a new fault is found.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IRIS_MODEL = "dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n"
TABLE = "a,b,label\n" + "".join(f"{index},{index % 3},{'xy'[index % 2]}\n" for index in range(20))


@dataclass
class Case:
    """One broken input: the files it needs, the command line, the exit code and a message fragment."""

    args: list[str]
    code: int
    fragment: str
    files: dict[str, str | bytes] = field(default_factory=dict)


def config_case(text: str | bytes, code: int, fragment: str, *extra: str, **files: str | bytes) -> Case:
    return Case(["train", "c.yaml", *extra], code, fragment, {"c.yaml": text, **files})


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + level)}: &{chr(98 + level)} [{', '.join(['*' + chr(97 + level)] * 10)}]\n" for level in range(6)
)

CASES = {
    # --- configs ---------------------------------------------------------------------------------
    "unknown-top-key": config_case(IRIS_MODEL + "modle: {}\n", 2, "unknown key 'modle'"),
    "yaml-syntax": config_case("dataset: {name: iris\nmodel: [\n", 2, "invalid YAML"),
    "tab-indent": config_case("dataset:\n\tname: iris\n", 2, "indentation must use spaces"),
    "duplicate-key": config_case(IRIS_MODEL + "seed: 1\nseed: 2\n", 2, "duplicate key 'seed'"),
    "alias-bomb": config_case(BILLION_LAUGHS, 2, "YAML aliases expand to more than 100000 nodes"),
    "two-documents": config_case(IRIS_MODEL + "---\nseed: 1\n", 2, "more than one YAML document"),
    "list-config": config_case("- dataset\n- model\n", 2, "the config must be a mapping"),
    "empty-config": config_case("", 2, "missing required key 'dataset'"),
    "unknown-model": config_case("dataset: {name: iris}\nmodel: {type: svm}\n", 2, "invalid value 'svm'"),
    "negative-epochs": config_case(
        "dataset: {name: iris}\nmodel: {type: mlp}\ntrain: {epochs: -1}\n", 2, "train.epochs: invalid value -1"
    ),
    "zero-lr": config_case(
        "dataset: {name: iris}\nmodel: {type: mlp}\ntrain: {optimizer: {lr: 0}}\n", 2, "train.optimizer.lr: invalid value 0"
    ),
    "nan-lr": config_case(
        "dataset: {name: iris}\nmodel: {type: mlp}\ntrain: {optimizer: {lr: .nan}}\n", 2, "train.optimizer.lr: invalid value nan"
    ),
    "quoted-epochs": config_case(
        "dataset: {name: iris}\nmodel: {type: mlp}\ntrain: {epochs: '5'}\n", 2, "train.epochs: invalid value '5'"
    ),
    "test-size-above-one": config_case(
        "dataset: {name: iris, split: {test_size: 1.5}}\nmodel: {type: tree}\n", 2, "invalid value 1.5"
    ),
    "splits-leave-nothing": config_case(
        "dataset: {name: iris, split: {test_size: 0.6, val_size: 0.4}}\nmodel: {type: mlp}\n", 2, "0.6 + 0.4"
    ),
    "name-and-path": config_case(
        "dataset: {name: iris, path: x.csv}\nmodel: {type: tree}\n", 2, "give exactly one of `name`"
    ),
    "sheet-for-csv": config_case(
        "dataset: {path: x.csv, target: y, sheet: 1}\nmodel: {type: tree}\n", 2, "`sheet` applies to Excel workbooks only"
    ),
    "data-file-missing": config_case("dataset: {path: nope.csv, target: y}\nmodel: {type: tree}\n", 2, "nope.csv"),
    "unknown-builtin": config_case("dataset: {name: irsi}\nmodel: {type: tree}\n", 2, "did you mean 'iris'"),
    "train-for-kmeans": config_case(IRIS_MODEL + "train: {epochs: 3}\n", 2, "the `train` section applies to mlp"),
    "negative-seed": config_case(IRIS_MODEL + "seed: -4\n", 2, "seed: invalid value -4"),
    "name-with-slash": config_case(IRIS_MODEL + "name: ../../etc\n", 2, "invalid value '../../etc'"),
    "name-with-dots": config_case(IRIS_MODEL + "name: a..b\n", 2, "it contains '..'"),
    "not-utf8": config_case(IRIS_MODEL.encode() + b"name: caf\xe9\n", 2, "byte 0xe9"),
    "yes-as-bool": config_case(
        "dataset: {name: iris, split: {stratify: yes}}\nmodel: {type: tree}\n", 2, "write true or false"
    ),
    "fpmax-rules": config_case(
        "dataset: {name: adult_baskets}\nmodel: {type: rules, algorithm: fpmax}\n", 2, "fpmax"
    ),
    "rules-with-preprocess": config_case(
        "dataset: {name: adult_baskets}\npreprocess: [{step: scale}]\nmodel: {type: rules}\n", 2, "not scale"
    ),
    "unknown-step": config_case(IRIS_MODEL + "preprocess: [{step: normalise}]\n", 2, "invalid value 'normalise'"),
    "zero-hidden-units": config_case(
        "dataset: {name: iris}\nmodel: {type: mlp, hidden_sizes: [0]}\n", 2, "model.hidden_sizes[0]: invalid value 0"
    ),
    "early-stopping-without-validation": config_case(
        "dataset: {name: iris, split: {val_size: 0}}\nmodel: {type: mlp}\ntrain: {early_stopping: {patience: 2}}\n",
        2,
        "needs a validation split",
    ),
    "huge-config": config_case("# " + "x" * 1_100_000 + "\n" + IRIS_MODEL, 2, "the limit is 1000000"),
    "config-is-folder": Case(["train", "."], 2, "config path is a folder"),
    "config-not-found": Case(["train", "missing.yaml"], 2, "config file not found: missing.yaml"),
    # --- command lines ---------------------------------------------------------------------------
    "set-without-equals": config_case(IRIS_MODEL, 2, "expected key=value", "--set", "seed"),
    "set-unknown-key": config_case(IRIS_MODEL, 2, "unknown key 'n_cluster'", "--set", "model.n_cluster=3"),
    "set-index-out-of-range": config_case(IRIS_MODEL, 2, "index 5 is out of range", "--set", "preprocess[5].step=scale"),
    "expect-malformed": config_case(IRIS_MODEL, 2, "accuracy>>1", "--expect", "accuracy>>1"),
    "expect-unknown-metric": config_case(IRIS_MODEL, 2, "'accuracy'", "--expect", "accuracy>=0.9"),
    "run-name-escapes": config_case(IRIS_MODEL, 2, "invalid value for --run-name: '../x'", "--run-name", "../x"),
    "run-name-control": config_case(IRIS_MODEL, 2, "control character", "--run-name", "a\x07b"),
    "overwrite-alone": config_case(IRIS_MODEL, 2, "--overwrite applies only with --run-name", "--overwrite"),
    "resume-unknown-run": Case(["train", "--resume", "nope"], 2, "no run matches 'nope'"),
    "resume-with-set": Case(["train", "--resume", "nope", "--set", "seed=1"], 2, "--set cannot be used with it"),
    "train-without-config": Case(["train"], 2, "missing argument CONFIG"),
    "unknown-option": config_case(IRIS_MODEL, 2, "no such option: --epochs", "--epochs", "3"),
    "support-zero": Case(["mine", "rules", "--support", "0"], 2, "--support: 0 is outside (0, 1]"),
    "support-percentage": Case(["mine", "rules", "--support", "5"], 2, "if 5 is a percentage, use 0.05"),
    "confidence-above-one": Case(["mine", "rules", "--confidence", "2"], 2, "--confidence: 2 is outside [0, 1]"),
    "basket-file-missing": Case(["mine", "rules", "gone.csv"], 2, "basket file not found: gone.csv"),
    "fpmax-for-rules": Case(["mine", "rules", "--algorithm", "fpmax"], 2, "--algorithm fpmax finds maximal itemsets only"),
    "bad-encoding-name": Case(["mine", "rules", "b.csv", "--encoding", "klingon"], 2, "klingon", {"b.csv": "a,b\n"}),
    "skip-rows-builtin-baskets": Case(["mine", "rules", "--skip-rows", "1"], 2, "--skip-rows applies to basket files"),
    "skip-rows-negative-mine": Case(["mine", "itemsets", "b.csv", "--skip-rows", "-2"], 2, "invalid value for --skip-rows: -2", {"b.csv": "a,b\n"}),
    "blank-basket-file": Case(
        ["mine", "rules", "b.csv"], 3, "b.csv contains no transactions: all 3 of its rows are empty", {"b.csv": "\n  \n,\n"}
    ),
    "all-items-ignored": Case(
        ["mine", "rules", "b.csv", "--ignore-items", "NONE"], 3, "contains no transactions", {"b.csv": "NONE\nNONE\n"}
    ),
    "runs-status-unknown": Case(["runs", "list", "--status", "done"], 2, "invalid value for --status: 'done'"),
    "runs-show-unknown": Case(["runs", "show", "nope"], 2, "no run matches 'nope'"),
    "predict-unknown-run": Case(["predict", "nope", "x.csv"], 2, "no run matches 'nope'"),
    "validate-format": Case(["validate", "c.yaml", "--format", "xml"], 2, "invalid value for --format: 'xml'", {"c.yaml": IRIS_MODEL}),
    # --- data files ------------------------------------------------------------------------------
    "target-missing": config_case(
        "dataset: {path: t.csv, target: class}\nmodel: {type: tree}\n", 3, "column 'class' not found", **{"t.csv": TABLE}
    ),
    "single-class": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: tree}\n",
        3,
        "all 20 rows are 'x'",
        **{"t.csv": TABLE.replace(",y\n", ",x\n")},
    ),
    "infinite-feature": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: tree}\n",
        3,
        "feature column 'a' has the non-finite value inf at row 4",
        **{"t.csv": TABLE.replace("\n3,0,y\n", "\n1e999,0,y\n")},
    ),
    "infinite-target": config_case(
        "dataset: {path: t.csv, target: a, task: regression}\nmodel: {type: tree}\n",
        3,
        "target column 'a' has the non-finite value -inf at row 2",
        **{"t.csv": TABLE.replace("\n1,1,y\n", "\n-inf,1,y\n")},
    ),
    "text-regression-target": config_case(
        "dataset: {path: t.csv, target: label, task: regression}\nmodel: {type: tree}\n", 3, "non-numeric value 'x'", **{"t.csv": TABLE}
    ),
    "missing-feature-values": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: tree}\n",
        3,
        "b (1); the first is in row 6",
        **{"t.csv": TABLE.replace("\n5,2,y\n", "\n5,,y\n")},
    ),
    "text-feature": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: tree}\n",
        3,
        "feature columns are not numeric: b",
        **{"t.csv": TABLE.replace("\n5,2,y\n", "\n5,two,y\n")},
    ),
    "kmeans-too-many-clusters": config_case(
        "dataset: {path: p.csv}\nmodel: {type: kmeans, n_clusters: 9}\n", 3, "n_clusters=9 but the dataset has 3 rows", **{"p.csv": "x,y\n1,2\n3,4\n5,6\n"}
    ),
    "kmeans-duplicate-points": config_case(
        "dataset: {path: p.csv}\nmodel: {type: kmeans, n_clusters: 3}\n", 3, "only 2 distinct points (4 rows)", **{"p.csv": "x,y\n1,2\n1,2\n5,6\n5,6\n"}
    ),
    "mlp-single-class": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: mlp}\n",
        3,
        "single class",
        **{"t.csv": TABLE.replace(",y\n", ",x\n")},
    ),
    "skip-rows-negative": config_case(IRIS_MODEL.replace("iris}", "iris, skip_rows: -1}"), 2, "skip_rows: invalid value -1"),
    "skip-rows-builtin": config_case(IRIS_MODEL.replace("iris}", "iris, skip_rows: 1}"), 2, "a built-in dataset has no lines to skip"),
    "skip-rows-parquet": config_case(
        "dataset: {path: t.parquet, target: y, skip_rows: 1}\nmodel: {type: tree}\n", 2, "read as parquet", **{"t.parquet": b"PAR1"}
    ),
    "delimiter-parquet": config_case(
        "dataset: {path: t.parquet, target: y, delimiter: ';'}\nmodel: {type: tree}\n",
        2,
        "delimiter applies to CSV, TSV or basket files, and t.parquet is read as parquet",
        **{"t.parquet": b"PAR1"},
    ),
    "header-false-jsonl": config_case(
        "dataset: {path: t.jsonl, target: y, header: false, columns: [x, y]}\nmodel: {type: tree}\n",
        2,
        "header applies to CSV, TSV, basket or Excel files, and t.jsonl is read as jsonl",
        **{"t.jsonl": '{"x": 1, "y": "a"}\n'},
    ),
    "decimal-npy": config_case(
        "dataset: {path: t.npy, decimal: ','}\nmodel: {type: kmeans}\n", 2, "remove dataset.decimal", **{"t.npy": b"\x93NUMPY"}
    ),
    "mine-delimiter-parquet": Case(
        ["mine", "rules", "b.parquet", "--delimiter", ";", "--layout", "long", "--transaction-column", "t", "--item-column", "i"],
        2,
        "remove dataset.delimiter from the config (or --delimiter from the command line)",
        {"b.parquet": b"PAR1"},
    ),
    "title-line": config_case(
        "dataset: {path: t.csv, target: label}\nmodel: {type: tree}\n", 3, "dataset.skip_rows: 1", **{"t.csv": "|a title\n" + TABLE}
    ),
    "delimiter-two-characters": config_case(IRIS_MODEL.replace("iris}", "iris, delimiter: ',,'}"), 2, "the delimiter must be one character"),
    "delimiter-empty": config_case(IRIS_MODEL.replace("iris}", "iris, delimiter: ''}"), 2, "the delimiter must be one character"),
    "mine-delimiter-two-characters": Case(["mine", "rules", "b.csv", "--delimiter", ",,"], 2, "invalid value for --delimiter", {"b.csv": "a,b\n"}),
    "mine-max-len-zero": Case(
        ["mine", "rules", "b.csv", "--max-len", "0"], 2, "invalid value for --max-len: 0 (input should be greater than or equal to 1)", {"b.csv": "a,b\nb\n"}
    ),
    "mine-skip-rows-past-end": Case(["mine", "rules", "b.csv", "--skip-rows", "5"], 3, "b.csv has no lines after the 5 skipped", {"b.csv": "a,b\nb\n"}),
    "empty-data-file": config_case("dataset: {path: e.csv, target: y}\nmodel: {type: tree}\n", 3, "e.csv is empty", **{"e.csv": ""}),
    "header-only-data": config_case("dataset: {path: h.csv, target: y}\nmodel: {type: tree}\n", 3, "h.csv has a header but 0 data rows", **{"h.csv": "x,y\n"}),
    "wrong-encoding": config_case(
        "dataset: {path: l.csv, target: label}\nmodel: {type: tree}\n", 3, "l.csv is not UTF-8 (byte 0xe9", **{"l.csv": TABLE.replace("x", "\xe9").encode("latin-1")}
    ),
}


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def test_suite_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_rejected(cli, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, case.files)
    result = cli(*case.args)

    assert result.exit_code == case.code, result.output
    assert case.fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output
    runs = Path(os.environ["DMRUN_RUNS_DIR"])
    records = [json.loads(path.read_text(encoding="utf-8")) for path in runs.glob("*/run.json")]
    assert all(record["status"] != "completed" for record in records)
