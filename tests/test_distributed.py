"""Training under torchrun: `dmrun train --nproc 2` runs two gloo ranks on the loopback interface.

The two-process tests start real ranks through torch's elastic agent, each a `python -m dmrun`
process, on a small MLP that trains in a few seconds. Faults are injected into the ranks with a
`sitecustomize` module on the ranks' PYTHONPATH, which Python imports at start-up.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dmrun.distributed import RankEnvironment, check_distributable, rank_environment, threads_per_rank
from dmrun.errors import ConfigError
from helpers import REPO_ROOT, make_run, only_run_folder, read_json, train_config

# Without dropout, one process and two ranks compute the same updates up to float rounding.
CONFIG = """
    name: ddp-mlp
    seed: 3
    dataset: {name: digits}
    preprocess: [{step: scale}]
    model: {type: mlp, hidden_sizes: [32], dropout: 0.0}
    train: {epochs: 4, batch_size: 64}
    report: {plots: false}
"""
# Measured on a 2-core CPU for configs/mlp.yaml without dropout (3 epochs) and for the iris
# config below. The test metrics of 1 and 2 processes are equal, and the final training losses
# differ by about 1e-8 relative because float additions run in another order.
LOSS_TOLERANCE = 1e-6
ACCURACY_TOLERANCE = 1 / 360  # one of the 360 test rows

FAULTS = """
import os
import signal

fault, rank = os.environ.get("DMRUN_TEST_FAULT"), os.environ.get("RANK")
if fault and rank is not None:
    import dmrun.runner

    if fault == "data" and rank == "1":
        from dmrun.errors import DataError

        def prepare_data(*args, **kwargs):
            raise DataError("rank 1 cannot read the data")

        dmrun.runner.prepare_data = prepare_data
    if fault == "train" and rank == "1":
        import dmrun.trainers.torch_loop as loop

        step = loop._ShardedStep.__call__

        def failing_step(self, batch, inputs, targets, epoch):
            if epoch == 2:
                raise MemoryError("rank 1 ran out of memory")
            return step(self, batch, inputs, targets, epoch)

        loop._ShardedStep.__call__ = failing_step
    if fault == "sigterm" and rank == "0":
        report = dmrun.runner.LoggingReporter.epoch

        def report_then_stop(self, epoch, epochs, values):
            report(self, epoch, epochs, values)
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGTERM)

        dmrun.runner.LoggingReporter.epoch = report_then_stop
"""


def launch(tmp_path: Path, *args: str | Path, fault: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m dmrun train ... --nproc 2` with an optional injected fault."""
    inject = tmp_path / "inject"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(FAULTS, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(PYTHONPATH=os.pathsep.join([str(inject), str(REPO_ROOT)]), NO_COLOR="1", COLUMNS="200")
    if fault:
        env["DMRUN_TEST_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "dmrun", "train", *map(str, args), "--nproc", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def two_ranks_launch(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The config, the run folder and the process of an uninterrupted two-rank run with --json."""
    folder = tmp_path_factory.mktemp("two-ranks")
    config = folder / "ddp.yaml"
    config.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    completed = launch(folder, config, "--runs-dir", folder / "runs", "--json")
    assert completed.returncode == 0, completed.stderr
    return config, only_run_folder(folder / "runs"), completed


@pytest.fixture
def two_ranks(two_ranks_launch) -> tuple[Path, Path]:
    config, run, _ = two_ranks_launch
    return config, run


def test_two_ranks_match_one_process(two_ranks, tmp_path):
    config, run = two_ranks
    single = read_json(train_config(config, tmp_path / "runs").run.path / "metrics.json")
    double = read_json(run / "metrics.json")
    assert abs(double["accuracy"] - single["accuracy"]) <= ACCURACY_TOLERANCE
    assert abs(double["f1_macro"] - single["f1_macro"]) <= ACCURACY_TOLERANCE
    assert math.isclose(double["final_train_loss"], single["final_train_loss"], rel_tol=LOSS_TOLERANCE)
    assert math.isclose(double["final_val_loss"], single["final_val_loss"], rel_tol=LOSS_TOLERANCE)
    assert double["epochs_run"] == single["epochs_run"] == 4


def test_last_batch_of_one_row_matches(write_config, tmp_path):
    # iris trains on 105 rows, so batches of 52 leave a last batch of 1 row, and rank 1's part is empty.
    config = write_config(
        """
        name: ddp-iris
        seed: 1
        dataset: {name: iris}
        preprocess: [{step: scale}]
        model: {type: mlp, hidden_sizes: [16], dropout: 0.0}
        train: {epochs: 5, batch_size: 52, optimizer: {name: adam, lr: 0.05}}
        report: {plots: false}
        """
    )
    single = read_json(train_config(config, tmp_path / "one").run.path / "metrics.json")
    completed = launch(tmp_path, config, "--runs-dir", tmp_path / "two", "-q")
    assert completed.returncode == 0, completed.stderr
    double = read_json(only_run_folder(tmp_path / "two") / "metrics.json")
    assert read_json(only_run_folder(tmp_path / "two") / "data.json")["split"]["train"] == 105
    assert abs(double["accuracy"] - single["accuracy"]) <= 1 / 30
    assert math.isclose(double["final_train_loss"], single["final_train_loss"], rel_tol=LOSS_TOLERANCE)
    assert math.isclose(double["final_val_loss"], single["final_val_loss"], rel_tol=LOSS_TOLERANCE)


def test_rank0_writes_one_folder(two_ranks):
    config, run = two_ranks
    assert only_run_folder(run.parent) == run
    record = read_json(run / "run.json")
    assert record["status"] == "completed"
    assert record["distributed"] == {"world_size": 2, "backend": "gloo", "nnodes": 1, "local_world_size": 2}
    assert sorted(path.name for path in run.iterdir()) == [
        "artifacts", "config.yaml", "data.json", "history.csv", "log.txt", "metrics.json", "model", "run.json",
    ]
    assert len((run / "history.csv").read_text(encoding="utf-8").splitlines()) == 5
    assert (run / "log.txt").read_text(encoding="utf-8").count("epoch 4/4") == 1


def test_json_output_once(two_ranks_launch):
    _, run, completed = two_ranks_launch
    document = json.loads(completed.stdout)  # fails on a second document or any other line
    assert document["status"] == "completed"
    assert Path(document["run_dir"]).name == run.name
    assert "epoch" not in completed.stderr
    assert "closing signal" not in completed.stderr


def test_resume_on_two_ranks(two_ranks, tmp_path):
    config, uninterrupted = two_ranks
    runs = tmp_path / "runs"
    stopped = launch(tmp_path, config, "--runs-dir", runs, fault="sigterm")
    assert stopped.returncode == 143, stopped.stderr
    folder = only_run_folder(runs)
    record = read_json(folder / "run.json")
    assert record["status"] == "interrupted"
    assert record["last_completed_epoch"] == 2

    import torch

    state = torch.load(folder / "checkpoint" / "last.pt", weights_only=True)
    assert state["world_size"] == 2
    assert not torch.equal(state["random_ranks"][0]["torch"], state["random_ranks"][1]["torch"])

    resumed = launch(tmp_path, "--resume", folder, "--runs-dir", runs, "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert only_run_folder(runs) == folder
    assert (folder / "metrics.json").read_bytes() == (uninterrupted / "metrics.json").read_bytes()
    assert [entry["from_epoch"] for entry in read_json(folder / "run.json")["resumed"]] == [2]


def test_resume_on_other_world_size(cli, tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-120000-ddp-0a0a0a", status="interrupted", algorithm="mlp", distributed={"world_size": 2})
    result = cli("train", "--resume", "20260101-120000", "--runs-dir", runs)
    assert result.exit_code == 2
    assert "was trained on 2 process(es), so it cannot be resumed on 1" in result.stderr
    assert "--nproc 2" in result.stderr


def test_rank_data_error_fails_run(two_ranks, tmp_path):
    config, _ = two_ranks
    completed = launch(tmp_path, config, "--runs-dir", tmp_path / "runs", fault="data")
    assert completed.returncode == 3, completed.stderr
    assert completed.stderr.count("rank 1: rank 1 cannot read the data") == 1
    record = read_json(only_run_folder(tmp_path / "runs") / "run.json")
    assert record["status"] == "failed"
    assert record["exit_code"] == 3
    assert record["error"] == {"type": "DataError", "message": "rank 1: rank 1 cannot read the data", "rank": 1}


def test_rank_crash_in_training_fails_run(two_ranks, tmp_path):
    config, _ = two_ranks
    completed = launch(tmp_path, config, "--runs-dir", tmp_path / "runs", fault="train")
    assert completed.returncode == 1, completed.stderr
    record = read_json(only_run_folder(tmp_path / "runs") / "run.json")
    assert record["status"] == "failed"
    assert record["error"]["message"] == "rank 1: MemoryError: rank 1 ran out of memory"


@pytest.mark.parametrize("algorithm", ["kmeans", "tree", "rules"])
def test_nproc_rejects_other_algorithms(cli, write_config, algorithm):
    model = {"kmeans": "{type: kmeans, n_clusters: 3}", "tree": "{type: tree}", "rules": "{type: rules}"}[algorithm]
    config = write_config(f"dataset: {{name: iris}}\nmodel: {model}\n")
    result = cli("train", config, "--nproc", "2")
    assert result.exit_code == 2
    assert f"model type '{algorithm}' cannot train on 2 processes" in result.stderr
    assert "drop --nproc" in result.stderr


def test_nproc_rejects_unshared_batch(cli, write_config):
    config = write_config("dataset: {name: iris}\nmodel: {type: mlp}\ntrain: {batch_size: 33}\n")
    result = cli("train", config, "--nproc", "2")
    assert result.exit_code == 2
    assert "train.batch_size 33 cannot be shared by 2 processes" in result.stderr
    assert "such as 32 or 34" in result.stderr


def test_nproc_under_torchrun_rejected(cli, write_config, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = cli("train", write_config("dataset: {name: iris}\nmodel: {type: mlp}\n"), "--nproc", "2")
    assert result.exit_code == 2
    assert "--nproc cannot be used under torchrun" in result.stderr


@pytest.mark.parametrize("command", [["mine", "rules"], ["mine", "itemsets"], ["sweep"]], ids=["rules", "itemsets", "sweep"])
def test_torchrun_rejects_mine_and_sweep(cli, write_config, tmp_path, monkeypatch, command):
    (tmp_path / "baskets.csv").write_text("bread,milk\nbread,butter\n", encoding="utf-8")
    config = write_config("dataset: {name: iris}\nmodel: {type: tree}\nsweep: {model.max_depth: [2, 3]}\n")
    argument = config if command == ["sweep"] else tmp_path / "baskets.csv"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = cli(*command, argument, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert f"dmrun {' '.join(command)} runs in one process, but torchrun started 2" in result.stderr
    monkeypatch.setenv("RANK", "1")
    other = cli(*command, argument, "--runs-dir", tmp_path / "runs")
    assert other.exit_code == 2
    assert other.stderr == ""  # rank 0 alone reports the error
    assert not (tmp_path / "runs").exists()


def test_rank_environment_from_torchrun():
    environment = rank_environment(
        {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "GROUP_WORLD_SIZE": "2"}
    )
    assert environment == RankEnvironment(rank=3, local_rank=1, world_size=4, local_world_size=2, nnodes=2)


def test_rank_environment_single_process():
    assert rank_environment({}) is None
    assert rank_environment({"RANK": "0", "WORLD_SIZE": "1"}) is None


def test_rank_environment_rejects_bad_rank():
    with pytest.raises(ConfigError, match="RANK is 2, outside the world of 2 processes"):
        rank_environment({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="LOCAL_RANK is 'x'"):
        rank_environment({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "x"})


def test_one_process_allows_anything():
    check_distributable("kmeans", 33, 1)


def test_threads_shared_among_local_ranks():
    cores = len(os.sched_getaffinity(0))
    assert threads_per_rank(1) == cores
    assert threads_per_rank(cores * 2) == 1
