"""The benchmark suite's smoke mode runs every rule-mining peer and writes a page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_writes_page(tmp_path):
    page = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(page)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    text = page.read_text(encoding="utf-8")
    assert "| synthetic 2,000 baskets at 0.005 | dmrun |" in text
    assert "| synthetic 2,000 baskets at 0.005 | pyfim script |" in text
    assert "failed" not in text
    assert "- synthetic 2,000 baskets at 0.005: the same " in text  # dmrun's rules equal mlxtend's
    assert "Fitted exponent" in text
    assert "dmrun runs list over 20 runs" in text


def load_bench():
    """Import bench/run.py, which is a script and not part of the package."""
    import importlib.util

    if "bench_run" in sys.modules:
        return sys.modules["bench_run"]
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_rule_comparison_finds_differences(tmp_path):
    compare_rules = load_bench().compare_rules

    header = "antecedents,consequents,support,confidence,lift\n"
    (tmp_path / "ours.csv").write_text(header + "a|b,c,0.2,0.5,1.25\nc,a,0.2,0.4,1.0\n", encoding="utf-8")
    (tmp_path / "same.csv").write_text(header + "c,a,0.2,0.4,1.0\nb|a,c,0.2,0.5,1.25\n", encoding="utf-8")
    (tmp_path / "lift.csv").write_text(header + "c,a,0.2,0.4,1.0\nb|a,c,0.2,0.5,1.3\n", encoding="utf-8")
    (tmp_path / "fewer.csv").write_text(header + "c,a,0.2,0.4,1.0\n", encoding="utf-8")
    assert compare_rules(tmp_path / "ours.csv", tmp_path / "same.csv").startswith("the same 2 rule(s)")
    assert compare_rules(tmp_path / "ours.csv", tmp_path / "lift.csv") == "1 of 2 rules differ, first in lift"
    assert compare_rules(tmp_path / "ours.csv", tmp_path / "fewer.csv").startswith("rule sets differ: 1 rule(s) only in dmrun's")


def test_page_names_the_command_without_out():
    module = load_bench()
    arguments = ["--only", "rules", "--out", "/tmp/page.md", "--case", "retail at", "--out=/tmp/x.md"]
    assert module.command_line(arguments) == "python bench/run.py --only rules --case 'retail at'"
    assert module.command_line([]) == "python bench/run.py"


def run_bench(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *arguments], capture_output=True, text=True, timeout=120
    )


def test_bench_rejects_bad_counts(tmp_path):
    for arguments in (["--repeat", "0"], ["--repeat", "-2"], ["--threads", "two"], ["--support", "1.5"]):
        completed = run_bench(*arguments, "--out", str(tmp_path / "page.md"))
        assert completed.returncode == 2, arguments
        assert f"got '{arguments[1]}'" in completed.stderr
        assert "Traceback" not in completed.stderr
    assert not (tmp_path / "page.md").exists()


def test_bench_names_file_given_as_data(tmp_path):
    not_folder = tmp_path / "datasets.txt"
    not_folder.write_text("", encoding="utf-8")
    completed = run_bench("--only", "rules", "--data", str(not_folder), "--out", str(tmp_path / "page.md"))
    assert completed.returncode == 2
    assert f"--data {not_folder} is a file, not a folder" in completed.stderr


def test_rule_cases_at_given_supports(tmp_path):
    rule_cases = load_bench().rule_cases

    (tmp_path / "fimi").mkdir()
    for name in ("retail.dat", "chess.dat"):
        (tmp_path / "fimi" / name).write_text("1 2\n2 3\n", encoding="utf-8")
    cases = rule_cases(tmp_path, tmp_path / "work", tmp_path / "runs", full=False, supports=[0.003, 0.01])
    titles = [case.title for case in cases]
    assert titles == ["retail.dat at 0.003", "retail.dat at 0.01", "chess.dat at 0.003", "chess.dat at 0.01"]
    assert all("mlxtend" in case.commands for case in cases)
