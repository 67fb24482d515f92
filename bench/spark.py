"""Measure the local engines against the spark engine on Spark local[2], for docs/scaling.md.

    python bench/spark.py [--repeat N] [--data FOLDER]

Each case runs dmrun twice as whole processes, once per engine, in turn. Spark runs a Java
process under dmrun, so the peak memory is the largest sum of the resident memory of dmrun and
all its descendants, sampled from /proc every 0.1 s. GNU time would report only the largest
single process. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import ROOT, adult_csv, mnist_csv, write_config  # noqa: E402

PYTHON = sys.executable
MASTER = "local[2]"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stream:
                parent = int(stream.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_rss_bytes(root: int) -> int:
    """Return the summed resident memory of ``root`` and every descendant."""
    tree, total, pending = _children(), 0, [root]
    while pending:
        pid = pending.pop()
        pending += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as stream:
                total += int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_once(command: list[str], timeout: float = 1800) -> tuple[float, float]:
    """Run a command and return its wall seconds and its peak summed resident memory in MB."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_bytes(process.pid))
            if time.perf_counter() - started > timeout:
                process.kill()
                raise RuntimeError(f"timed out: {' '.join(command)}")
            time.sleep(0.1)
        if process.returncode != 0:
            output.seek(0)
            tail = output.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(f"exit {process.returncode}: {' / '.join(tail)}")
    return time.perf_counter() - started, peak / 2**20


def cases(data: Path, work: Path, runs: Path) -> list[tuple[str, dict[str, list[str]]]]:
    dmrun = [PYTHON, "-m", "dmrun"]
    found = []
    retail = data / "fimi" / "retail.dat"
    if retail.exists():
        mine = [*dmrun, "mine", "rules", str(retail), "--support", "0.002", "--no-plots", "--quiet", "--runs-dir", str(runs)]
        found.append(("rules, FIMI retail at support 0.002", {
            "fim": mine, f"spark {MASTER}": [*mine, "--engine", "spark", "--master", MASTER],
        }))
    mnist = mnist_csv(data, work)
    if mnist is not None:
        config = write_config(work, "scaling-kmeans", (
            f"name: scaling-kmeans\nseed: 0\nreport: {{plots: false}}\ndataset: {{path: {mnist}, target: label}}\n"
            "model: {type: kmeans, n_clusters: 10, n_init: 1}\n"
        ))
        found.append(("k-means, MNIST test images (10,000 x 784), k=10, n_init=1", _train_pair(dmrun, config, runs, "sklearn")))
    adult = adult_csv(data, work)
    if adult is not None:
        config = write_config(work, "scaling-tree", (
            f"name: scaling-tree\nseed: 0\nreport: {{plots: false}}\n"
            f"dataset: {{path: {adult}, target: income, split: {{test_size: 0.25, val_size: 0.0}}}}\n"
            "preprocess: [{step: impute, strategy: most_frequent}, {step: onehot}]\n"
            "model: {type: tree, max_depth: 12}\n"
        ))
        found.append(("decision tree, UCI Adult (32,561 rows), max_depth 12", _train_pair(dmrun, config, runs, "sklearn")))
    return found


def _train_pair(dmrun: list[str], config: Path, runs: Path, local: str) -> dict[str, list[str]]:
    train = [*dmrun, "train", str(config), "--quiet", "--runs-dir", str(runs)]
    spark = [*train, "--set", "model.engine=spark", "--set", f"spark={{master: '{MASTER}'}}"]
    return {local: train, f"spark {MASTER}": spark}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--only", default="", help="run only the cases whose title contains this text")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print("| case | engine | median s | peak MB (all processes) |")
        print("|---|---|---|---|")
        for title, commands in cases(options.data, work, work / "runs"):
            if options.only not in title:
                continue
            for name, command in commands.items():
                measured = [run_once(command) for _ in range(options.repeat)]
                seconds = statistics.median(value[0] for value in measured)
                peak = statistics.median(value[1] for value in measured)
                print(f"| {title} | {name} | {seconds:.1f} | {peak:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
