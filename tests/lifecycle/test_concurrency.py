"""Many dmrun processes writing into one runs folder at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import read_json, run_folders, subprocess_env

LAUNCHER = Path(__file__).with_name("forked_launch.py")
RULES_MODULES = "dmrun.runner,dmrun.trainers.rules,dmrun.trainers.rules_output,dmrun.data.readers,mlxtend.frequent_patterns,mlxtend.preprocessing"
RUN_FILES = ("run.json", "config.yaml", "data.json", "metrics.json", "log.txt")


def launch_together(count: int, tmp_path: Path, modules: str, *arguments: str) -> list[int]:
    """Run ``dmrun ARGUMENTS`` in ``count`` processes that start at the same moment."""
    logs = tmp_path / "logs"
    logs.mkdir()
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER), str(count), str(logs), modules, *arguments],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def assert_complete(folder: Path) -> None:
    """Check that a run folder is completed, with every file whole and no temporary file left."""
    record = read_json(folder / "run.json")
    assert record["status"] == "completed", folder
    assert record["id"] == folder.name
    for name in RUN_FILES:
        assert (folder / name).is_file(), f"{folder.name} has no {name}"
    read_json(folder / "metrics.json")
    read_json(folder / "data.json")
    assert not [path.name for path in folder.rglob(".*.tmp")]


def test_fifty_runs_at_once(cli, tmp_path):
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("milk,bread\nmilk\nbread,eggs\nmilk,eggs,bread\n", encoding="utf-8")
    runs = tmp_path / "runs"

    codes = launch_together(50, tmp_path, RULES_MODULES, "mine", "rules", str(baskets), "--support", "0.5", "--runs-dir", str(runs), "-q")

    assert codes == [0] * 50
    folders = run_folders(runs)
    assert len(folders) == 50
    for folder in folders:
        assert_complete(folder)
    assert len({read_json(folder / "run.json")["pid"] for folder in folders}) == 50
    listed = json.loads(cli("runs", "list", "--runs-dir", runs, "--json").stdout)["runs"]
    assert sorted(run["id"] for run in listed) == [folder.name for folder in folders]
    assert {run["status"] for run in listed} == {"completed"}
    assert {run["main_metric"] for run in listed} == {"rules"}


def test_separate_interpreters_at_once(cli, tmp_path):
    """Independent ``python -m dmrun`` processes, each with its own start-up, also never collide."""
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("a,b\na,c\nb,c\na,b,c\n", encoding="utf-8")
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "dmrun", "mine", "itemsets", str(baskets), "--support", "0.5", "--runs-dir", str(runs), "-q"]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=180)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, errors
    folders = run_folders(runs)
    assert len(folders) == 4
    for folder in folders:
        assert_complete(folder)
