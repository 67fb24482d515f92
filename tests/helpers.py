"""Helpers shared by the test modules: strict JSON, run folders, subprocess calls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS_DIR = REPO_ROOT / "configs"
EXAMPLE_CONFIGS = sorted(CONFIGS_DIR.glob("*.yaml"))


@dataclass
class CliResult:
    """The exit code and streams of one dmrun invocation. ``output`` joins stdout and stderr."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def strict_json(text: str):
    """Parse strict JSON: the NaN, Infinity and -Infinity tokens Python accepts are errors."""

    def reject(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def read_json(path: Path):
    return strict_json(path.read_text(encoding="utf-8"))


def run_folder_pattern(name: str) -> re.Pattern:
    """The documented run folder name: ``<YYYYmmdd>-<HHMMSS>-<name>-<6 hex digits>``."""
    return re.compile(rf"\d{{8}}-\d{{6}}-{re.escape(name)}-[0-9a-f]{{6}}")


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders under ``runs_dir``, oldest name first."""
    if not runs_dir.exists():
        return []
    return sorted(path for path in runs_dir.iterdir() if path.is_dir())


def only_run_folder(runs_dir: Path) -> Path:
    folders = run_folders(runs_dir)
    assert len(folders) == 1, f"expected one run folder in {runs_dir}, found {folders}"
    return folders[0]


def run_folder_from_stdout(stdout: str) -> Path:
    """The folder named on the ``run folder: PATH`` line that train and mine print last."""
    match = re.search(r"^run folder: (.+)$", stdout, flags=re.MULTILINE)
    assert match, f"no 'run folder:' line in stdout:\n{stdout}"
    return Path(match.group(1).strip())


def subprocess_env() -> dict[str, str]:
    """The environment for a ``python -m dmrun`` child: this checkout first on the path, no colour.

    A relative entry such as ``PYTHONPATH=.`` would point elsewhere from the child's working
    folder, so the repository root is put first as an absolute path.
    """
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


def start_mining(kind: str, data: Path, runs: Path, *args: str) -> subprocess.Popen:
    """Start ``python -m dmrun mine KIND DATA ARGS`` quietly into ``runs``, as a separate process."""
    command = [sys.executable, "-m", "dmrun", "mine", kind, str(data), *args, "--runs-dir", str(runs), "-q"]
    return subprocess.Popen(
        command, cwd=runs.parent, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_log(runs: Path, text: str, poll: float, timeout: float = 60) -> None:
    """Wait until the log.txt of the run folder under ``runs`` contains ``text``."""
    import time

    deadline = time.monotonic() + timeout
    while not list(runs.glob("*/log.txt")) or text not in next(runs.glob("*/log.txt")).read_text():
        assert time.monotonic() < deadline, f"the run's log did not reach {text!r} within {timeout:g} s"
        time.sleep(poll)


def run_dmrun(*args: str | Path, cwd: Path, timeout: float = 120) -> CliResult:
    """Run ``python -m dmrun`` as a separate process."""
    env = subprocess_env()
    completed = subprocess.run(
        [sys.executable, "-m", "dmrun", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def train_config(config_path: Path, runs_dir: Path):
    """Load a config, run it in-process and return the ``RunOutcome``."""
    from dmrun.config.loading import load_config
    from dmrun.runner import run_experiment

    return run_experiment(load_config(config_path), runs_dir)


def mlxtend_itemsets(transactions: list[list[str]], min_support: float, algorithm: str = "fpgrowth", max_len=None):
    """Itemset supports from a direct mlxtend call: {frozenset of items: support}."""
    import pandas as pd
    from mlxtend.frequent_patterns import apriori, fpgrowth, fpmax
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(transactions).transform(transactions), columns=encoder.columns_)
    miner = {"apriori": apriori, "fpgrowth": fpgrowth, "fpmax": fpmax}[algorithm]
    found = miner(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
    return {frozenset(items): float(support) for items, support in zip(found["itemsets"], found["support"])}


def mlxtend_rules(transactions: list[list[str]], min_support: float, min_confidence: float):
    """Rules from direct mlxtend fpgrowth + association_rules: {(antecedents, consequents): row}."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(transactions).transform(transactions), columns=encoder.columns_)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    rules = association_rules(
        itemsets, num_itemsets=len(transactions), metric="confidence", min_threshold=min_confidence
    )
    return {
        (frozenset(row["antecedents"]), frozenset(row["consequents"])): row for row in rules.to_dict("records")
    }


def itemsets_from_run(run_path: Path) -> dict[frozenset, float]:
    """Itemset supports a run wrote to artifacts/itemsets.json: {frozenset of items: support}."""
    records = read_json(run_path / "artifacts" / "itemsets.json")
    return {frozenset(record["itemset"]): record["support"] for record in records}


def make_run(
    runs_dir: Path,
    run_id: str,
    metrics: dict | None = None,
    status: str = "completed",
    config: str | None = None,
    **record,
) -> Path:
    """Write a minimal run folder (run.json, metrics.json, config.yaml) without training anything."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    started = f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}.000Z"
    document = {
        "format_version": 1,
        "id": run_id,
        "name": run_id.split("-")[2],
        "status": status,
        "started": started,
        "duration_s": 1.5,
        "algorithm": "kmeans",
        "host": "elsewhere",
        "pid": 1,
        **record,
    }
    (folder / "run.json").write_text(json.dumps(document), encoding="utf-8")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if config is not None:
        (folder / "config.yaml").write_text(config, encoding="utf-8")
    return folder
