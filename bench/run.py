"""Run dmrun and its peers side by side on the same inputs and write docs/benchmarks.md.

    python bench/run.py            # quick mode: a few minutes
    python bench/run.py --full     # every target at full size

Each case runs dmrun and each peer as whole processes, in turn (dmrun, peer, dmrun, peer, ...),
so that load on a shared machine hits both alike. Wall time and peak resident memory come from
the operating system for each child process (``os.wait4``). The page reports medians and the
ratio dmrun / peer. Inputs come from the ``shared/datasets`` folder beside the repository when
present (``--data`` to point elsewhere); cases whose inputs are missing are listed as skipped.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import math
import os
import platform
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
PEERS = ROOT / "bench" / "peers"
# Hand-written findings (causes of missed targets, how peers differ), appended to the page.
NOTES = ROOT / "bench" / "notes.md"
PYTHON = sys.executable
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    failed: str | None = None

    @property
    def time(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_time(self) -> float:
        return statistics.median(self.cpu_seconds)

    @property
    def memory(self) -> float:
        return statistics.median(self.peak_mb)


@dataclass
class Case:
    group: str
    title: str
    commands: dict[str, list[str]]
    target: str = ""
    timeout: float = 900
    results: dict[str, Measure] = field(default_factory=dict)
    # For rule mining: dmrun's rules.csv is compared with this peer output after measuring.
    reference: Path | None = None
    check: str = ""
    # Address-space cap for the peers, in MB; dmrun keeps to its own --memory-budget.
    peer_limit_mb: int | None = None


TIME = shutil.which("time", path="/usr/bin:/bin")


def half_the_memory_mb() -> int:
    """Return half of this machine's physical memory in MB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**21


def run_once(
    command: list[str], timeout: float, env: dict[str, str], limit_mb: int | None = None
) -> tuple[float, float, float, str | None]:
    """Run a command; return wall seconds, CPU seconds, peak resident MB and an error text or None.

    CPU seconds are user plus system time of the command and the processes it waited for.

    With ``limit_mb``, the command's address space is capped, so a peer that would exhaust the
    machine fails with an out-of-memory error instead.

    A child's peak memory as the kernel reports it includes the pages of the process it was
    forked from, so the command runs under GNU time, whose own small image is the only floor.
    Without it, the peak includes this script's memory.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output, tempfile.NamedTemporaryFile("r") as usage_file:
        if TIME:
            command = [TIME, "-f", "%M", "-o", usage_file.name, *command]
        limit = None
        if limit_mb is not None:
            import resource

            def limit() -> None:
                resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))

        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT, preexec_fn=limit)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                return timeout, 0.0, 0.0, f"timed out after {timeout:.0f} s"
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        cpu_seconds = usage.ru_utime + usage.ru_stime
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            tail = output.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            reason = "killed (out of memory?)" if process.returncode == -9 else f"exit {process.returncode}"
            return seconds, cpu_seconds, usage.ru_maxrss / 1024, f"{reason}: {' / '.join(tail)}"
        peak_kb = usage.ru_maxrss
        if TIME:
            recorded = usage_file.read().split()
            peak_kb = int(recorded[-1]) if recorded and recorded[-1].isdigit() else peak_kb
    return seconds, cpu_seconds, peak_kb / 1024, None


def measure(case: Case, repeat: int, env: dict[str, str]) -> None:
    for name in case.commands:
        case.results[name] = Measure()
    for _ in range(repeat):
        for name, command in case.commands.items():
            result = case.results[name]
            if result.failed:
                continue
            seconds, cpu_seconds, peak, error = run_once(
                command, case.timeout, env, None if name == "dmrun" else case.peer_limit_mb
            )
            if error:
                result.failed = error
                continue
            result.seconds.append(seconds)
            result.cpu_seconds.append(cpu_seconds)
            result.peak_mb.append(peak)
    print(f"  {case.title}: " + ", ".join(
        f"{name} {result.time:.2f} s" if not result.failed else f"{name} failed" for name, result in case.results.items()
    ), file=sys.stderr)


def compare_rules(mine: Path, reference: Path) -> str:
    """Compare dmrun's rules.csv with mlxtend's rules, rule by rule and measure by measure."""
    import numpy as np
    import pandas as pd

    def load(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, dtype={"antecedents": str, "consequents": str})
        keys = [frozenset(a.split("|")) for a in frame["antecedents"]], [frozenset(c.split("|")) for c in frame["consequents"]]
        return frame.set_index(pd.MultiIndex.from_arrays(keys)).drop(columns=["antecedents", "consequents"])

    ours, theirs = load(mine), load(reference)
    only_ours, only_theirs = len(ours.index.difference(theirs.index)), len(theirs.index.difference(ours.index))
    if only_ours or only_theirs:
        return f"rule sets differ: {only_ours} rule(s) only in dmrun's, {only_theirs} only in mlxtend's"
    measures = [column for column in ours.columns if column in theirs.columns]
    theirs = theirs.loc[ours.index, measures].to_numpy(dtype=float)
    ours = ours[measures].to_numpy(dtype=float)
    close = np.isclose(ours, theirs, rtol=1e-9, atol=1e-12, equal_nan=True) | ((ours == theirs) & np.isinf(ours))
    if not close.all():
        column = measures[int(np.flatnonzero(~close.all(axis=0))[0])]
        return f"{int((~close).any(axis=1).sum())} of {len(ours):,} rules differ, first in {column}"
    return f"the same {len(ours):,} rule(s), and {len(measures)} measures equal within 1e-9 relative"


def check_rules(case: Case, runs: Path) -> None:
    """Record on ``case`` whether dmrun's last rules equal mlxtend's."""
    if case.reference is None or not case.reference.exists() or case.results["dmrun"].failed:
        return
    written = sorted(runs.glob("*/artifacts/rules.csv"), key=lambda path: path.stat().st_mtime)
    if written:
        case.check = compare_rules(written[-1], case.reference)


# --- inputs ----------------------------------------------------------------------------------


def mnist_csv(data: Path, work: Path) -> Path | None:
    """Write the MNIST test images (IDX, gzip) as a CSV of 784 pixel columns and a label."""
    images, labels = data / "mnist" / "t10k-images-idx3-ubyte.gz", data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        return None
    out = work / "mnist_test.csv"
    with gzip.open(images, "rb") as stream:
        _, count, rows, columns = struct.unpack(">IIII", stream.read(16))
        pixels = stream.read()
    with gzip.open(labels, "rb") as stream:
        stream.read(8)
        digits = stream.read()
    size = rows * columns
    with open(out, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([f"p{index}" for index in range(size)] + ["label"])
        for row in range(count):
            writer.writerow([*pixels[row * size : (row + 1) * size], digits[row]])
    return out


def adult_csv(data: Path, work: Path, copies: int = 1) -> Path | None:
    """Write UCI Adult with a header row, repeated ``copies`` times for the reading test."""
    source = data / "adult" / "adult.data"
    if not source.exists():
        return None
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = work / (f"adult_x{copies}.csv" if copies > 1 else "adult.csv")
    with open(out, "w", encoding="utf-8") as stream:
        stream.write(",".join(ADULT_COLUMNS) + "\n")
        for _ in range(copies):
            stream.write("\n".join(lines) + "\n")
    return out


def write_config(work: Path, name: str, text: str) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def dmrun(*args: str | Path, runs: Path) -> list[str]:
    """Return a dmrun command; mining runs skip the plots, which the peers do not draw."""
    plots = ["--no-plots"] if args[0] == "mine" else []
    return [PYTHON, "-m", "dmrun", *map(str, args), *plots, "--runs-dir", str(runs), "--quiet"]


def peer(script: str, *args: str | Path) -> list[str]:
    return [PYTHON, str(PEERS / script), *map(str, args)]


# --- cases -----------------------------------------------------------------------------------


FIMI_FILES = ["retail.dat", "T10I4D100K.dat", "chess.dat", "mushroom.dat"]


def rule_cases(data: Path, work: Path, runs: Path, full: bool, supports: list[float] | None = None) -> list[Case]:
    """Return the rule-mining cases: the targets' settings, or each FIMI file at each of ``supports``."""
    fimi = data / "fimi"
    settings = [
        ("retail.dat", 0.002), ("retail.dat", 0.001), ("T10I4D100K.dat", 0.001), ("chess.dat", 0.8), ("mushroom.dat", 0.2),
    ]
    if supports:
        settings = [(filename, support) for filename in FIMI_FILES for support in supports]
    elif not full:
        settings = settings[:1] + settings[3:4]
    cases = []
    for filename, support in settings:
        path = fimi / filename
        if not path.exists():
            continue
        out = work / f"peer-{filename}-{support}.csv"
        commands = {
            "dmrun": dmrun("mine", "rules", path, "--support", str(support), "--confidence", "0.5", runs=runs),
            "pyfim script": peer("rules_pyfim.py", path, support, 0.5, out),
        }
        if importlib.util.find_spec("efficient_apriori") and filename != "mushroom.dat":
            commands["efficient-apriori"] = peer("rules_efficient_apriori.py", path, support, 0.5, out)
        reference = None
        if filename != "mushroom.dat" or full:
            reference = work / f"mlxtend-{filename}-{support}.csv"
            commands["mlxtend"] = peer("rules_mlxtend.py", path, support, 0.5, reference)
        cases.append(
            Case("rules", f"{filename} at {support}", commands, "<= 1.5x pyfim script, >= 10x faster than mlxtend",
                 timeout=1800 if full else 600, reference=reference, peer_limit_mb=half_the_memory_mb())
        )
    return cases


def quest_file(work: Path, size: int) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    from quest import generate

    path = work / f"quest-{size}.dat"
    with open(path, "w", encoding="ascii") as stream:
        for basket in generate(size, seed=0):
            stream.write(" ".join(map(str, basket)) + "\n")
    return path


def smoke_cases(work: Path, runs: Path) -> list[Case]:
    """Return one small synthetic rule-mining case with every peer, to check that the suite runs."""
    path = quest_file(work, 2000)
    out = work / "peer-smoke.csv"
    commands = {
        "dmrun": dmrun("mine", "rules", path, "--support", "0.005", runs=runs),
        "pyfim script": peer("rules_pyfim.py", path, 0.005, 0.5, out),
        "mlxtend": peer("rules_mlxtend.py", path, 0.005, 0.5, work / "mlxtend-smoke.csv"),
    }
    if importlib.util.find_spec("efficient_apriori"):
        commands["efficient-apriori"] = peer("rules_efficient_apriori.py", path, 0.005, 0.5, out)
    return [Case("rules", "synthetic 2,000 baskets at 0.005", commands, "smoke test only", reference=work / "mlxtend-smoke.csv")]


def scaling_case(work: Path, runs: Path, sizes: list[int]) -> tuple[list[Case], list[int]]:
    cases = []
    for size in sizes:
        path = quest_file(work, size)
        cases.append(Case("scaling", f"{size:,} baskets", {"dmrun": dmrun("mine", "rules", path, "--support", "0.005", runs=runs)}))
    return cases, sizes


# Epochs of the torch cases as (quick, full). The time target applies to runs with at least
# 20 s of training. With one thread on a 2-core Xeon virtual machine, quick mode trains each
# case for about 20 s or more.
TORCH_EPOCHS = {"mlp": (60, 150), "cnn": (8, 20), "rnn": (200, 500)}


def training_cases(
    data: Path, mnist: Path | None, adult: Path | None, work: Path, runs: Path, full: bool
) -> list[Case]:
    cases = []
    if mnist is not None:
        for kind, model in (("mlp", "{type: mlp, hidden_sizes: [128, 64], dropout: 0.1}"),
                            ("cnn", "{type: cnn, input_shape: [1, 28, 28], channels: [16, 32], hidden_size: 128, dropout: 0.25}")):
            epochs = TORCH_EPOCHS[kind][1 if full else 0]
            config = write_config(work, f"bench-{kind}", (
                f"name: bench-{kind}\nseed: 0\nreport: {{plots: false}}\n"
                f"dataset: {{path: {mnist}, target: label, split: {{test_size: 0.2, val_size: 0.1, stratify: true}}}}\n"
                "preprocess: [{step: scale, method: standard}]\n"
                f"model: {model}\n"
                f"train: {{epochs: {epochs}, batch_size: 64, optimizer: {{name: adam, lr: 1e-3}}}}\n"
            ))
            cases.append(Case("train", f"{kind} on MNIST test images, {epochs} epochs", {
                "dmrun": dmrun("train", config, runs=runs),
                "PyTorch script": peer("torch_train.py", mnist, kind, epochs, 64),
            }, "<= 1.10x the PyTorch script"))
    sunspots = data / "timeseries" / "monthly-sunspots.csv"
    if sunspots.exists():
        # The LSTM of configs/rnn.yaml on the monthly series (2,820 months) in place of the
        # yearly one (309 years), with every epoch run, so that training lasts long enough.
        epochs = TORCH_EPOCHS["rnn"][1 if full else 0]
        config = write_config(work, "bench-rnn", (
            f"name: bench-rnn\nseed: 0\nreport: {{plots: false}}\n"
            f"dataset: {{path: {sunspots}, target: Sunspots, task: forecasting, split: {{test_size: 0.2, val_size: 0.1}}}}\n"
            "model: {type: rnn, cell: lstm, window: 12, hidden_size: 32, num_layers: 1}\n"
            f"train: {{epochs: {epochs}, batch_size: 16, optimizer: {{name: adam, lr: 5e-3}}}}\n"
        ))
        cases.append(Case("train", f"rnn (LSTM) on monthly sunspots, {epochs} epochs", {
            "dmrun": dmrun("train", config, runs=runs),
            "PyTorch script": peer("torch_forecast.py", sunspots, "Sunspots", epochs, 16),
        }, "<= 1.10x the PyTorch script"))
    if mnist is not None:
        config = write_config(work, "bench-kmeans", (
            f"name: bench-kmeans\nseed: 0\nreport: {{plots: false}}\ndataset: {{path: {mnist}, target: label}}\n"
            "model: {type: kmeans, n_clusters: 10, n_init: 10}\n"
        ))
        cases.append(Case("train", "k-means on MNIST test images", {
            "dmrun": dmrun("train", config, runs=runs), "scikit-learn script": peer("sklearn_kmeans.py", mnist, 10),
        }, "<= 1.10x the scikit-learn script"))
    if adult is not None:
        config = write_config(work, "bench-tree", (
            f"name: bench-tree\nseed: 0\nreport: {{plots: false}}\n"
            f"dataset: {{path: {adult}, target: income, missing_values: ['?'], "
            "split: {test_size: 0.25, val_size: 0.0, stratify: true}}\n"
            "preprocess: [{step: impute, strategy: most_frequent}, {step: onehot}]\n"
            "model: {type: tree, max_depth: 12}\n"
        ))
        cases.append(Case("train", "decision tree on UCI Adult", {
            "dmrun": dmrun("train", config, runs=runs), "scikit-learn script": peer("sklearn_tree.py", adult, "income"),
        }, "<= 1.10x the scikit-learn script"))
    return cases


def startup_cases(runs: Path, copies: int) -> list[Case]:
    listing = runs.parent / "listing"
    listing.mkdir(exist_ok=True)
    template = next(runs.glob("*/run.json"), None)
    if template is not None:
        for index in range(copies):
            folder = listing / f"20260101-000000-copy-{index:06x}"
            shutil.copytree(template.parent, folder, ignore=shutil.ignore_patterns("model", "artifacts"), dirs_exist_ok=True)
    baseline = [PYTHON, "-c", "import typer, pydantic, yaml"]
    return [
        Case("startup", "dmrun --help", {"dmrun": [PYTHON, "-m", "dmrun", "--help"], "import typer, pydantic, yaml": baseline},
             "<= 2x the imports"),
        Case("startup", "dmrun validate configs/cnn.yaml",
             {"dmrun": [PYTHON, "-m", "dmrun", "validate", "configs/cnn.yaml"], "import typer, pydantic, yaml": baseline},
             "<= 2x the imports"),
        Case("startup", f"dmrun runs list over {copies:,} runs",
             {"dmrun": [PYTHON, "-m", "dmrun", "runs", "list", "--runs-dir", str(listing)], "import typer, pydantic, yaml": baseline},
             "<= 2x the imports"),
    ]


def reading_case(data: Path, work: Path, runs: Path, smoke: bool) -> list[Case]:
    copies = 1 if smoke else 50  # adult.data is about 4 MB, so 50 copies make the 200 MB of the target
    big = adult_csv(data, work, copies)
    if big is None:
        return []
    config = write_config(work, "bench-read", (
        f"name: bench-read\nseed: 0\nreport: {{plots: false}}\ndataset: {{path: {big}, target: income, missing_values: ['?']}}\n"
        "preprocess: [{step: impute, strategy: most_frequent}, {step: onehot}]\nmodel: {type: tree, max_depth: 8}\n"
    ))
    size_mb = big.stat().st_size / 2**20
    return [Case("reading", f"tree run on a {size_mb:.0f} MB CSV", {"dmrun": dmrun("train", config, runs=runs)},
                 f"peak memory < 3x the file ({3 * size_mb:.0f} MB)")]


# --- report ----------------------------------------------------------------------------------


def versions() -> str:
    names = ["dmrun", "torch", "scikit-learn", "mlxtend", "pyfim", "numpy", "pandas", "pyarrow", "typer", "pydantic", "efficient-apriori"]
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs = [math.log(size) for size in sizes]
    ys = [math.log(value) for value in seconds]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def command_line(arguments: list[str]) -> str:
    """Return the command that wrote the page, without ``--out`` and its path."""
    recorded, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--out":
            skip = True
        elif not argument.startswith("--out="):
            recorded.append(argument)
    return shlex.join(["python", "bench/run.py", *recorded])


def render(
    cases: list[Case], scaling: tuple[list[Case], list[int]], mode: str, skipped: list[str], shared: bool,
    threads: str = "torch's default for every command",
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command_line(sys.argv[1:])}`; do not edit by hand.",
        "",
        f"- Mode: {mode}, median of the runs per command (column `runs`), commands run in turn.",
        f"- Threads: {threads}.",
        f"- Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, {platform.system()}.",
        f"- Packages: {versions()}.",
        "- Times and memory are for the whole process (start-up, reading, work, writing). Ratio = dmrun / peer:",
        "  below 1 means dmrun is faster or smaller. dmrun runs without plots (`--no-plots`,",
        "  `report: {plots: false}`), because the peers draw none; plots add about 1.6 s to a rules run on retail.dat.",
        "- CPU s is user plus system time, which load from other jobs changes less than wall time.",
        "- dmrun's bytecode is compiled before measuring, as in an installed package.",
    ]
    if shared:
        lines.append(
            "- Other jobs used the machine while these figures were measured, so absolute times are noisy;"
        )
        lines.append("  the ratios are steadier, because each dmrun run sits next to its peer runs.")
    lines.append("")
    for group, heading in (("rules", "Rule mining (itemsets and rules at confidence 0.5, CSV written)"),
                           ("train", "Training"), ("startup", "Start-up"), ("reading", "Reading a large CSV")):
        chosen = [case for case in cases if case.group == group]
        if not chosen:
            continue
        lines += [f"## {heading}", "",
                  "| case | command | runs | median s | CPU s | peak MB | time ratio | CPU ratio | memory ratio | target |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for case in chosen:
            mine = case.results.get("dmrun")
            for name, result in case.results.items():
                if result.failed:
                    lines.append(f"| {case.title} | {name} | | failed: {result.failed[:120]} | | | | | | |")
                    continue
                ratio = cpu_ratio = memory = ""
                if name != "dmrun" and mine and not mine.failed:
                    ratio = f"{mine.time / result.time:.2f}"
                    cpu_ratio = f"{mine.cpu_time / result.cpu_time:.2f}" if result.cpu_time > 0 else ""
                    memory = f"{mine.memory / result.memory:.2f}"
                target = case.target if name == "dmrun" else ""
                lines.append(f"| {case.title} | {name} | {len(result.seconds)} | {result.time:.2f} | {result.cpu_time:.2f} "
                             f"| {result.memory:.0f} | {ratio} | {cpu_ratio} | {memory} | {target} |")
        lines.append("")
        checked = [case for case in chosen if case.check]
        if checked:
            lines += ["dmrun's rules against mlxtend's, compared rule by rule:", ""]
            lines += [f"- {case.title}: {case.check}" for case in checked]
            lines.append("")
    scaling_cases, sizes = scaling
    timed = [case.results["dmrun"] for case in scaling_cases if not case.results["dmrun"].failed]
    if len(timed) == len(sizes) and len(sizes) >= 2:
        exponent = fitted_exponent(sizes, [result.time for result in timed])
        lines += ["## Scaling with the number of baskets", "",
                  "Synthetic T10I4-style baskets (`bench/quest.py`), `dmrun mine rules --support 0.005`.", "",
                  "| baskets | median s | peak MB |", "|---|---|---|"]
        lines += [f"| {size:,} | {result.time:.2f} | {result.memory:.0f} |" for size, result in zip(sizes, timed)]
        target = "smoke sizes, too small to judge the target" if mode == "smoke" else "target at most 1.15"
        lines += ["", f"Fitted exponent of time against baskets: **{exponent:.2f}** ({target})."]
        # Start-up adds a fixed half second or so, which flattens the fit over small inputs. The
        # slope between the two largest inputs shows better how the mining itself grows.
        last = fitted_exponent(sizes[-2:], [result.time for result in timed[-2:]])
        lines += [f"Between the two largest inputs the exponent is {last:.2f}.", ""]
    if skipped:
        lines += ["## Skipped", ""] + [f"- {reason}" for reason in skipped] + [""]
    if NOTES.exists():
        lines += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    """Parse a count of 1 or more for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def support_value(text: str) -> float:
    """Parse a minimum support above 0 and at most 1 for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction of the baskets above 0 and at most 1, such as 0.003, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark dmrun against its peers and write docs/benchmarks.md.")
    parser.add_argument("--full", action="store_true", help="every target at full size (an hour or more)")
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic inputs only, to check the suite runs")
    parser.add_argument("--repeat", type=positive_int, help="runs per command (default 3 quick, 5 full)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"datasets folder, with fimi/, adult/, mnist/ and timeseries/ (default: {DATA})")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown page to write (default: docs/benchmarks.md, the published page)")
    parser.add_argument("--slow-repeat", type=positive_int,
                        help="runs per command for the train and reading groups (default: --repeat)")
    parser.add_argument("--shared", action="store_true", help="say on the page that other jobs shared the machine")
    parser.add_argument("--only", choices=["rules", "scaling", "train", "startup", "reading"], action="append",
                        help="run only these groups (repeatable)")
    parser.add_argument("--case", action="append",
                        help="run only the training and rule-mining cases whose title contains this text, "
                        "such as 'rnn' or 'mushroom' (repeatable)")
    parser.add_argument("--support", type=support_value, action="append",
                        help="mine every FIMI file at this support in place of the target cases, such as 0.003 "
                        "(repeatable; --case retail keeps one file)")
    parser.add_argument("--baskets", type=positive_int, action="append",
                        help="basket counts of the scaling group (repeatable; default 10,000 to 100,000 quick, "
                        "to 1,000,000 full)")
    parser.add_argument("--threads", type=positive_int,
                        help="torch threads for dmrun and the peers alike (sets OMP_NUM_THREADS; default: torch's choice)")
    options = parser.parse_args()
    mode = "quick"
    if options.full:
        mode = "full"
    elif options.smoke:
        mode = "smoke"
    repeat = options.repeat or {"full": 5, "smoke": 1, "quick": 3}[mode]
    groups = set(options.only or ["rules", "scaling", "train", "startup", "reading"])
    if options.smoke:
        groups -= {"train", "reading"}
    if options.support and (options.smoke or "rules" not in groups):
        parser.error("--support sets the rules group's supports, which this run does not measure; "
                     "drop --smoke, or add --only rules")
    elif groups & {"rules", "train", "reading"} and not options.data.is_dir():
        problem = "is a file, not a folder" if options.data.exists() else "does not exist"
        parser.error(f"--data {options.data} {problem}; point --data at the folder that holds fimi/, "
                     "adult/, mnist/ and timeseries/")
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    if options.threads:
        env["OMP_NUM_THREADS"] = str(options.threads)
    # An installed package has its bytecode compiled (pip does it). Without this, a checkout run
    # with PYTHONDONTWRITEBYTECODE set compiles dmrun's sources on every start, about 0.2 s.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "dmrun")], check=True, capture_output=True)
    skipped = []
    if not importlib.util.find_spec("fim"):
        sys.exit("error: pyfim is not installed; run: pip install pyfim")
    if "rules" in groups or "scaling" in groups:
        if not importlib.util.find_spec("efficient_apriori"):
            skipped.append("efficient-apriori peer: not installed (pip install -e '.[bench]')")
    with tempfile.TemporaryDirectory(prefix="dmrun-bench-") as folder:
        work = Path(folder)
        runs = work / "runs"
        cases: list[Case] = []
        if "rules" in groups and options.smoke:
            cases += smoke_cases(work, runs)
        elif "rules" in groups:
            found = rule_cases(options.data, work, runs, options.full, options.support)
            cases += found if found else []
            if not found:
                skipped.append(f"rule mining: no FIMI files under {options.data / 'fimi'}")
        if "train" in groups:
            mnist = mnist_csv(options.data, work)
            adult = adult_csv(options.data, work)
            cases += training_cases(options.data, mnist, adult, work, runs, options.full)
            if mnist is None or adult is None:
                skipped.append(f"training: MNIST or Adult missing under {options.data}")
            if not (options.data / "timeseries" / "monthly-sunspots.csv").exists():
                skipped.append(f"training: timeseries/monthly-sunspots.csv missing under {options.data}")
        if options.case:
            titles = [case.title for case in cases if case.group in ("train", "rules")]
            cases = [case for case in cases if case.group not in ("train", "rules") or any(word in case.title for word in options.case)]
            if not any(case.group in ("train", "rules") for case in cases):
                requested = ", ".join(repr(word) for word in options.case)
                parser.error(f"no training or rule-mining case title contains {requested}; the titles are: "
                             + "; ".join(titles))
        if "reading" in groups:
            cases += reading_case(options.data, work, runs, options.smoke)
        scaling: tuple[list[Case], list[int]] = ([], [])
        if "scaling" in groups:
            sizes = [10_000, 30_000, 100_000, 300_000, 1_000_000] if options.full else [10_000, 30_000, 100_000]
            if options.smoke:
                sizes = [1000, 2000]
            scaling = scaling_case(work, runs, sorted(options.baskets or sizes))
        slow_repeat = options.slow_repeat or repeat
        if not cases and not scaling[0] and "startup" not in groups:
            missing = [reason for reason in skipped if "not installed" not in reason]
            parser.error(f"nothing to measure under {options.data}: " + "; ".join(missing))
        for case in cases + scaling[0]:
            measure(case, slow_repeat if case.group in ("train", "reading") else repeat, env)
            if case.group == "rules":
                check_rules(case, runs)
        if "startup" in groups:
            if not any(runs.glob("*/run.json")):
                subprocess.run(dmrun("train", ROOT / "configs" / "tree.yaml", runs=runs), env=env, check=True,
                               capture_output=True)
            for case in startup_cases(runs, 20 if options.smoke else 1000):
                measure(case, repeat, env)
                cases.append(case)
        options.out.parent.mkdir(parents=True, exist_ok=True)
        threads = f"OMP_NUM_THREADS={options.threads} for every command" if options.threads else None
        page = render(cases, scaling, mode, skipped, options.shared, *([threads] if threads else []))
        options.out.write_text(page, encoding="utf-8")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
