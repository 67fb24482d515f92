"""``dmrun mine`` reads a basket file in the mining child while it starts up: same results, same errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmrun.data import read_ahead
from helpers import run_folder_from_stdout

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="reading ahead needs os.fork")

BASKETS = "bread milk\nbread butter milk\nbeer bread\nmilk butter\nbread milk butter beer\n" * 20


@pytest.fixture
def forked(monkeypatch) -> list[int]:
    """Record the pid of every child that dmrun forks."""
    from dmrun import forking

    pids = []
    original = forking.fork

    def recording_fork() -> int:
        pid = original()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(forking, "fork", recording_fork)
    return pids


def all_reaped(pids: list[int]) -> bool:
    """Tell whether dmrun waited for each of these children, so none is running or left a zombie."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


@pytest.fixture
def taken(monkeypatch) -> list:
    """Record what each ``read_ahead.take`` call returned."""
    results = []
    original = read_ahead.take

    def spy(path, options):
        result = original(path, options)
        results.append(result)
        return result

    monkeypatch.setattr(read_ahead, "take", spy)
    return results


def mine(cli, data: Path, runs: Path, *args: str):
    return cli("mine", "rules", data, "--support", "0.2", "--runs-dir", runs, "--quiet", *args)


def test_read_ahead_same_files(cli, tmp_path, taken, monkeypatch, forked):
    data = tmp_path / "baskets.dat"
    data.write_text(BASKETS, encoding="utf-8")
    ahead = mine(cli, data, tmp_path / "ahead")
    assert ahead.exit_code == 0, ahead.output
    assert taken and taken[0] is not None, "the run did not use the baskets read ahead"
    monkeypatch.setattr(read_ahead, "start", lambda *args, **kwargs: None)
    in_process = mine(cli, data, tmp_path / "in_process")
    assert in_process.exit_code == 0, in_process.output
    assert taken[1] is None
    first, second = run_folder_from_stdout(ahead.stdout), run_folder_from_stdout(in_process.stdout)
    for name in ("artifacts/itemsets.csv", "artifacts/rules.csv", "artifacts/rules.json", "data.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert forked
    assert all_reaped(forked)


def test_read_ahead_other_options_read_again(tmp_path, forked):
    data = tmp_path / "baskets.dat"
    data.write_text(BASKETS, encoding="utf-8")
    options = {"encoding": "utf-8", "delimiter": None, "ignore_items": [], "skip_rows": 0, "reject_tables": True}
    read_ahead.start(data, options)
    assert read_ahead.take(data, {**options, "skip_rows": 1}) is None
    assert forked
    assert all_reaped(forked)
    read_ahead.start(data, options)
    baskets = read_ahead.take(data, options)
    assert baskets is not None and len(baskets.transactions) == 100
    assert baskets.summary["distinct_items"] == 4
    with pytest.raises(TypeError, match="in the process that read them"):
        list(baskets.transactions)
    read_ahead.close()
    assert forked
    assert all_reaped(forked)


def test_read_ahead_unreadable_file_error(cli, tmp_path, taken, forked):
    data = tmp_path / "latin1.dat"
    data.write_bytes("caf\xe9 bread\nmilk\n".encode("latin-1"))
    result = mine(cli, data, tmp_path / "runs")
    assert result.exit_code == 3
    assert taken == [None]
    assert "not UTF-8 (byte 0xe9 at offset 3)" in result.stderr
    assert "Traceback" not in result.stderr
    assert forked
    assert all_reaped(forked)


def test_read_ahead_invalid_option_ends_child(cli, tmp_path, forked):
    data = tmp_path / "baskets.dat"
    data.write_text(BASKETS, encoding="utf-8")
    result = mine(cli, data, tmp_path / "runs", "--confidence", "2")
    assert result.exit_code == 2
    assert "--confidence" in result.stderr
    assert read_ahead._pending is None
    assert forked
    assert all_reaped(forked)


@pytest.mark.parametrize("read_in_child", [True, False])
def test_itemset_bound_error_either_process(cli, tmp_path, monkeypatch, read_in_child, forked):
    # 30 of 40 baskets hold the same 40 items: at support 0.5 their 2**40 subsets are all frequent.
    items = " ".join(f"i{index}" for index in range(40))
    data = tmp_path / "wide.dat"
    data.write_text(f"{items}\n" * 30 + "a b\n" * 10, encoding="utf-8")
    if not read_in_child:
        monkeypatch.setattr(read_ahead, "start", lambda *args, **kwargs: None)
    result = cli("mine", "itemsets", data, "--support", "0.5", "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 3
    assert "20 basket(s) share 40 items" in result.stderr
    assert "--max-len" in result.stderr
    assert "Traceback" not in result.stderr
    log = next((tmp_path / "runs").glob("*/log.txt")).read_text(encoding="utf-8")
    assert "mining itemsets with" not in log  # rejected before mining starts, as when read in process
    assert len(forked) == (1 if read_in_child else 0)  # the bound is checked before a miner is forked
    assert all_reaped(forked)


def child_pids(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as stream:
        return [int(child) for child in stream.read().split()]


def gone(pid: int) -> bool:
    """Tell whether a process has ended: it no longer exists, or it is a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_reading_child_ends_with_dmrun(tmp_path, signal_name):
    import random
    import signal
    import time

    from helpers import start_mining, wait_for_log

    generator = random.Random(0)
    items = [f"item{index}" for index in range(2000)]
    data = tmp_path / "large.dat"
    data.write_text("".join(" ".join(generator.sample(items, 20)) + "\n" for _ in range(400_000)), encoding="utf-8")
    runs = tmp_path / "runs"
    process = start_mining("rules", data, runs, "--support", "0.5")
    wait_for_log(runs, "loading data", poll=0.02)
    children = child_pids(process.pid)
    assert children, "no reading child while the data loads"
    process.send_signal(getattr(signal, signal_name))
    process.wait(timeout=30)  # not communicate(): an orphaned child would keep the output pipes open
    deadline = time.monotonic() + 1  # reading the file takes about 2 s on a 2-core machine
    while not all(map(gone, children)):
        assert time.monotonic() < deadline, f"the reading child outlived dmrun after {signal_name}"
        time.sleep(0.02)
    process.communicate(timeout=30)
