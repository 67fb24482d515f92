"""``dmrun report``: one run, two runs with --vs, a sweep, Markdown output and the error paths."""

from __future__ import annotations

import csv

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import EXAMPLE_CONFIGS, REPO_ROOT, read_json, strict_json, train_config

STEMS = [config.stem for config in EXAMPLE_CONFIGS]
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", re.IGNORECASE)


def report_html(cli, run: Path, *options: str) -> str:
    """Run `dmrun report RUN` with the default output and return the HTML it wrote."""
    result = cli("report", run, *options)
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written == run / "report.html"
    return written.read_text(encoding="utf-8")


@pytest.mark.parametrize("stem", STEMS)
def test_run_report_is_self_contained(cli, example_runs, stem):
    run = example_runs[stem]
    page = report_html(cli, run)
    assert not EXTERNAL.search(page)
    assert "<script" not in page.lower()
    plots = list((run / "artifacts" / "plots").glob("*.png"))
    assert page.count('src="data:image/png;base64,') == len(plots) > 0


@pytest.mark.parametrize("stem", STEMS)
def test_run_report_has_metrics_and_config(cli, example_runs, stem):
    run = example_runs[stem]
    page = report_html(cli, run)
    metrics = read_json(run / "metrics.json")
    main = next(name for name in ("accuracy", "rmse", "ari", "rules") if name in metrics)
    assert f"<td>{main}</td><td class=\"number\">{metrics[main]:.6g}</td>" in page
    assert f"name: {read_json(run / 'run.json')['name']}" in page
    assert read_json(run / "run.json")["versions"]["python"] in page


def test_rules_report_lists_top_rules(cli, example_runs):
    page = report_html(cli, example_runs["rules"])
    with open(example_runs["rules"] / "artifacts" / "rules.csv", newline="", encoding="utf-8") as stream:
        first = next(csv.DictReader(stream))
    antecedents = first["antecedents"].replace("|", ", ")
    assert "Top rules" in page
    assert f"<td>{antecedents}</td>" in page


def test_tree_report_includes_tree_rules(cli, example_runs):
    page = report_html(cli, example_runs["tree"])
    first_line = (example_runs["tree"] / "artifacts" / "tree.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.replace("<", "&lt;").replace(">", "&gt;") in page


def test_hostile_names_are_escaped(cli, tmp_path, write_config):
    hostile = "<script>alert(1)</script>"
    rows = [f"{index % 7},{index % 3},{'yes' if index % 7 > 3 else 'no'}" for index in range(60)]
    (tmp_path / "table.csv").write_text(f"{hostile},b,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = write_config("""
        name: hostile
        dataset: {path: table.csv, target: label}
        model: {type: tree, max_depth: 2}
    """)
    run = train_config(config, tmp_path / "runs").run.path
    page = report_html(cli, run)
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    markdown = tmp_path / "hostile.md"
    assert cli("report", run, "--markdown", markdown).exit_code == 0
    # Inside fenced code blocks Markdown shows text literally, so only the rest must be escaped.
    outside_code = re.sub(r"```.*?```", "", markdown.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert hostile not in outside_code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outside_code


def test_markdown_links_images_beside_it(cli, example_runs, tmp_path):
    run = example_runs["kmeans"]
    target = tmp_path / "out" / "kmeans.md"
    target.parent.mkdir()
    result = cli("report", run, "--markdown", target)
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == ["kmeans_images/clusters_pca.png", "kmeans_images/silhouette.png"]
    assert all((target.parent / link).read_bytes() == (run / "artifacts" / "plots" / Path(link).name).read_bytes() for link in links)
    assert "data:image" not in text
    assert "| ari |" in text


def test_report_json_names_the_files(cli, example_runs, tmp_path):
    html = tmp_path / "tree.html"
    result = cli("report", example_runs["tree"], "--html", html, "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert document == {"kind": "run", "source": str(example_runs["tree"]), "html": str(html)}
    assert html.is_file()


def test_chinese_names_in_report(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("牛奶,面包\n牛奶,面包,鸡蛋\n面包,鸡蛋\n牛奶,面包,黄油\n牛奶,鸡蛋\n", encoding="utf-8")
    assert cli("mine", "rules", baskets, "--support", "0.4", "--runs-dir", tmp_path / "runs").exit_code == 0
    result = cli("report", "latest", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    page = Path(result.stdout.strip()).read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert "鸡蛋" in page


# --- two runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_mlp_runs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("vs")
    paths = []
    for width in (8, 16):
        config = folder / f"mlp{width}.yaml"
        config.write_text(
            textwrap.dedent(f"""
                name: vs-mlp
                dataset: {{name: iris}}
                preprocess: [{{step: scale}}]
                model: {{type: mlp, hidden_sizes: [{width}]}}
                train: {{epochs: 3, batch_size: 16}}
            """),
            encoding="utf-8",
        )
        paths.append(train_config(config, folder / "runs").run.path)
    return paths[0], paths[1]


def test_vs_highlights_differences(cli, two_mlp_runs, tmp_path):
    first, second = two_mlp_runs
    target = tmp_path / "vs.html"
    result = cli("report", first, "--vs", second, "--html", target)
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert '<tr class="marked"><td>model.hidden_sizes</td><td>[8]</td><td>[16]</td></tr>' in page
    assert "<td>dataset.name</td>" not in page  # equal keys are left out
    metrics_a, metrics_b = read_json(first / "metrics.json"), read_json(second / "metrics.json")
    delta = metrics_b["final_train_loss"] - metrics_a["final_train_loss"]
    assert f'<td class="number">{delta:+.6g}</td>' in page


def test_vs_overlays_learning_curves(cli, two_mlp_runs, tmp_path):
    first, second = two_mlp_runs
    result = cli("report", first, "--vs", second.name, "--runs-dir", second.parent)
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written == first / f"report-vs-{second.name}.html"
    page = written.read_text(encoding="utf-8")
    assert 'alt="learning curves of A and B"' in page
    assert 'alt="A: Confusion matrix on the test split"' in page
    assert 'alt="B: Confusion matrix on the test split"' in page


# --- a sweep -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A sweep over k-means' n_clusters, written by hand in the documented sweep.json format."""
    runs_dir = tmp_path_factory.mktemp("sweep") / "runs"
    config = runs_dir.parent / "kmeans.yaml"
    config.write_text("name: sweep-k\ndataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 2, n_init: 2}\n", encoding="utf-8")
    trials = []
    from dmrun.config.loading import load_config
    from dmrun.runner import run_experiment

    for k in (2, 3, 4):
        run = run_experiment(load_config(config, [f"model.n_clusters={k}"]), runs_dir).run.path
        trials.append({"params": {"model.n_clusters": k}, "run": run.name, "status": "completed", "metrics": read_json(run / "metrics.json")})
    trials.append({"params": {"model.n_clusters": 5}, "run": "20260101-000000-sweep-k-dead00", "status": "failed", "metrics": {}})
    folder = runs_dir / "20260101-000000-sweep-kmeans-k-abc123"
    folder.mkdir()
    sweep = {"format_version": 1, "kind": "sweep", "name": "kmeans-k", "config": str(config), "metric": "silhouette", "goal": "max", "keys": ["model.n_clusters"], "trials": trials}
    (folder / "sweep.json").write_text(json.dumps(sweep), encoding="utf-8")
    return folder


def test_sweep_ranks_trials(cli, sweep_folder):
    result = cli("report", sweep_folder)
    assert result.exit_code == 0, result.output
    page = (sweep_folder / "report.html").read_text(encoding="utf-8")
    sweep = read_json(sweep_folder / "sweep.json")
    ranked = sorted(sweep["trials"][:3], key=lambda trial: -trial["metrics"]["silhouette"])
    positions = [page.index(f"<td>{trial['run']}</td>") for trial in ranked + sweep["trials"][3:]]
    assert positions == sorted(positions)
    assert f'<tr class="marked"><td class="number">1</td><td>{ranked[0]["run"]}</td>' in page


def test_sweep_plots_metric_against_keys(cli, sweep_folder):
    assert cli("report", sweep_folder).exit_code == 0
    page = (sweep_folder / "report.html").read_text(encoding="utf-8")
    for caption in ("silhouette against model.n_clusters", "inertia against model.n_clusters"):
        assert f'alt="{caption}"' in page
    assert "Plots of the best trial" in page


def test_sweep_found_by_id_prefix(cli, sweep_folder, tmp_path):
    result = cli("report", "20260101-000000-sweep-kmeans", "--runs-dir", sweep_folder.parent, "--html", tmp_path / "s.html")
    assert result.exit_code == 0, result.output
    assert "Trials ranked" in (tmp_path / "s.html").read_text(encoding="utf-8")


# --- errors --------------------------------------------------------------------------------------


def test_unknown_run_exits_2(cli, tmp_path):
    result = cli("report", "nothing-like-this", "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "error: no run matches 'nothing-like-this'" in result.stderr
    assert "Traceback" not in result.output


def test_damaged_run_record_exits_1(cli, tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "run.json").write_text("{not json", encoding="utf-8")
    result = cli("report", folder)
    assert result.exit_code == 1
    assert f"error: cannot read the run record {folder / 'run.json'}" in result.stderr
    assert "Traceback" not in result.output


def test_damaged_sweep_record_exits_1(cli, tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.json").write_text('{"kind": "something else"}', encoding="utf-8")
    result = cli("report", folder)
    assert result.exit_code == 1
    assert "error: cannot read the sweep record" in result.stderr


def test_missing_output_folder_exits_2(cli, example_runs, tmp_path):
    result = cli("report", example_runs["kmeans"], "--html", tmp_path / "absent" / "r.html")
    assert result.exit_code == 2
    assert "--html folder does not exist" in result.stderr


def test_vs_with_sweep_exits_2(cli, sweep_folder, example_runs):
    result = cli("report", sweep_folder, "--vs", example_runs["kmeans"])
    assert result.exit_code == 2
    assert "--vs compares two runs" in result.stderr


def test_report_help_imports_nothing_heavy():
    probe = textwrap.dedent(
        """
        import json, sys
        from typer.testing import CliRunner
        from dmrun.cli import app
        code = CliRunner().invoke(app, ["report", "--help"]).exit_code
        heavy = sorted(name for name in ("torch", "sklearn", "pandas", "mlxtend", "matplotlib") if name in sys.modules)
        print(json.dumps({"code": code, "heavy": heavy}))
        """
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {"code": 0, "heavy": []}


def test_failed_run_report_draws_recorded_epochs(cli, tmp_path):
    from helpers import make_run

    run = make_run(tmp_path / "runs", "20260101-120000-net-abcdef", None, status="failed", algorithm="mlp")
    (run / "history.csv").write_text(
        "epoch,train_loss,val_loss,val_accuracy\n1,1.2,1.3,0.5\n2,0.8,0.9,0.7\n3,0.6,0.8,0.75\n", encoding="utf-8"
    )
    page = report_html(cli, run)
    assert page.count('src="data:image/png;base64,') == 1
    assert "learning curves of the 3 recorded epochs (run failed)" in page


def test_failed_run_without_history_has_no_plot(cli, tmp_path):
    from helpers import make_run

    run = make_run(tmp_path / "runs", "20260101-120000-net-abcdef", None, status="failed", algorithm="mlp")
    page = report_html(cli, run)
    assert 'src="data:image/png;base64,' not in page
