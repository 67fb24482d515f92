"""``--help``, ``list``, ``validate``, ``schema`` and ``runs`` must not import the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from helpers import EXAMPLE_CONFIGS, REPO_ROOT

HEAVY = ["torch", "sklearn", "pandas", "mlxtend", "matplotlib", "openpyxl", "pyspark"]

PROBE = textwrap.dedent(
    """
    import json, sys
    from typer.testing import CliRunner
    from dmrun.cli import app

    runner = CliRunner()
    codes = [
        runner.invoke(app, ["--help"]).exit_code,
        runner.invoke(app, ["list"]).exit_code,
        runner.invoke(app, ["validate", *sys.argv[1:]]).exit_code,
        runner.invoke(app, ["schema"]).exit_code,
        runner.invoke(app, ["runs", "list"]).exit_code,
    ]
    heavy = sorted(name for name in {heavy} if name in sys.modules)
    print(json.dumps({{"codes": codes, "heavy": heavy}}))
    """
).format(heavy=HEAVY)


def run_probe(*configs, prelude: str = "") -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", prelude + PROBE, *map(str, configs)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_light_commands_import_nothing_heavy(tmp_path):
    data = tmp_path / "table.csv"
    data.write_text("a,y\n1,x\n", encoding="utf-8")
    file_config = tmp_path / "file.yaml"
    file_config.write_text("dataset: {path: table.csv, target: y}\nmodel: {type: tree}\n", encoding="utf-8")
    report = run_probe(*EXAMPLE_CONFIGS, file_config)
    assert report["codes"] == [0, 0, 0, 0, 0]
    assert report["heavy"] == []


def test_failed_validate_imports_nothing_heavy(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: {name: iris}\nmodel: {type: mlp, dropout: 3}\n", encoding="utf-8")
    report = run_probe(broken)
    assert report["codes"] == [0, 0, 2, 0, 0]
    assert report["heavy"] == []


def test_probe_sees_heavy_imports():
    """A control run: the probe must report a heavy module that is imported."""
    report = run_probe(*EXAMPLE_CONFIGS[:1], prelude="import pandas\n")
    assert report["heavy"] == ["pandas"]


def test_run_commands_import_nothing_heavy(tmp_path):
    from helpers import make_run

    runs = tmp_path / "runs"
    config = "dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n"
    make_run(runs, "20260101-100000-km-aaaaaa", {"ari": 0.5}, config=config)
    make_run(runs, "20260101-110000-km-bbbbbb", {"ari": 0.6}, config=config)
    (tmp_path / "km.yaml").write_text(config, encoding="utf-8")
    probe = textwrap.dedent(
        f"""
        import json, sys
        from typer.testing import CliRunner
        from dmrun.cli import app

        runner = CliRunner()
        runs = {str(runs)!r}
        codes = [
            runner.invoke(app, ["gate", "latest", "--runs-dir", runs, "--rule", "ari > 0"]).exit_code,
            runner.invoke(app, ["runs", "diff", "20260101-10", "20260101-11", "--runs-dir", runs]).exit_code,
            runner.invoke(app, ["runs", "compare", "20260101-10", "20260101-11", "--runs-dir", runs]).exit_code,
            runner.invoke(app, ["sweep", {str(tmp_path / "km.yaml")!r}, "--grid", "model.n_clusters=2,3", "--dry-run"]).exit_code,
        ]
        print(json.dumps({{"codes": codes, "heavy": sorted(name for name in {HEAVY} if name in sys.modules)}}))
        """
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0]
    assert report["heavy"] == []


LIGHT_PROBE = textwrap.dedent(
    """
    import json, sys
    from dmrun.cli import main

    sys.argv = ["dmrun", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    loaded = sorted(name for name in ("dmrun.config.schema", "pydantic.main", "rich.console") if name in sys.modules)
    print(json.dumps({"code": code, "loaded": loaded}))
    """
)


def run_light_probe(*args: str, cwd=REPO_ROOT) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", LIGHT_PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_help_skips_schema_and_rich():
    report = run_light_probe("--help")
    assert report["code"] == 0
    assert "dmrun.config.schema" not in report["loaded"]
    assert "rich.console" not in report["loaded"]


def test_runs_list_imports_no_pydantic(tmp_path):
    from helpers import make_run

    make_run(tmp_path / "runs", "20260101-100000-km-aaaaaa", {"ari": 0.5})
    report = run_light_probe("runs", "list", "--runs-dir", str(tmp_path / "runs"))
    assert report["code"] == 0
    # Importing pydantic in full (as typer 0.29 does to check options) costs about a third of the start-up.
    assert report["loaded"] == []


def test_light_probe_sees_schema():
    """A control run: validating a config builds the schema, and the probe must see it."""
    report = run_light_probe("validate", str(EXAMPLE_CONFIGS[0]))
    assert report["code"] == 0
    assert "dmrun.config.schema" in report["loaded"]


def test_validate_and_list_skip_rich():
    for args in (["validate", str(EXAMPLE_CONFIGS[0])], ["list"]):
        report = run_light_probe(*args)
        assert report["code"] == 0
        assert "rich.console" not in report["loaded"]


def test_validate_prints_brackets_in_paths(tmp_path, cli):
    # rich would read "[red]" in a path as markup and drop it.
    folder = tmp_path / "[red]configs"
    folder.mkdir()
    config = folder / "tree.yaml"
    config.write_text("dataset: {name: iris}\nmodel: {type: tree}\n", encoding="utf-8")
    result = cli("validate", config)
    assert result.exit_code == 0
    assert f"ok: {config} (tree on iris)" in result.stdout


def test_mining_skips_numpy_ma(tmp_path):
    # numpy.ma takes about 0.14 s to import, a tenth of a small mining run.
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("bread,milk\nbread,butter\nbread,milk,butter\nmilk\n", encoding="utf-8")
    probe = textwrap.dedent(
        f"""
        import json, sys
        from dmrun.cli import main

        sys.argv = ["dmrun", "mine", "rules", {str(baskets)!r}, "--support", "0.25", "--no-plots", "-q",
                    "--runs-dir", {str(tmp_path / "runs")!r}]
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code
        print(json.dumps({{"code": code, "ma": "numpy.ma" in sys.modules}}))
        """
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["code"] in (0, None)
    assert report["ma"] is False
