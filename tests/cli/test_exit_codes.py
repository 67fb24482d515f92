"""The documented exit code of each command for its cheap failure cases (runs that train are tested elsewhere)."""

from __future__ import annotations

import pytest

from helpers import CONFIGS_DIR, make_run, strict_json

GOOD = "dataset: {name: iris}\nmodel: {type: kmeans, n_clusters: 3}\n"
BAD = "dataset: {name: iris}\nmodel: {type: kmeans, k: 3}\n"

CASES = [
    (["--help"], 0),
    (["list"], 0),
    (["schema"], 0),
    (["no-such-command"], 2),
    (["validate", "{good}"], 0),
    (["validate", "{bad}"], 2),
    (["train", "{bad}"], 2),
    (["train", "{good}", "--expect", "ari=>1"], 2),
    (["mine", "rules", "--support", "3"], 2),
    (["predict", "nope", "{good}"], 2),
    (["runs", "list"], 0),
    (["runs", "list", "--status", "done"], 2),
    (["runs", "show", "latest"], 0),
    (["runs", "show", "nope"], 2),
    (["runs", "diff", "20260101-10", "latest"], 0),
    (["runs", "diff", "20260101-10", "nope"], 2),
    (["runs", "compare", "20260101-10", "latest"], 0),
    (["runs", "compare", "latest"], 2),
    (["gate", "latest", "--rule", "ari >= 0.5"], 0),
    (["gate", "latest", "--rule", "ari >= 0.9"], 4),
    (["gate", "latest", "--rule", "ari >> 0.9"], 2),
    (["gate", "latest", "--baseline", "{text}", "--rule", "ari >= baseline"], 3),
    (["sweep", "{good}", "--grid", "model.n_clusters=2,3", "--dry-run"], 0),
    (["sweep", "{good}", "--grid", "model.k=2,3"], 2),
    (["sweep", "{good}", "--goal", "up", "--grid", "model.n_clusters=2"], 2),
    (["reproduce", "nope"], 2),
]


@pytest.mark.parametrize(("args", "code"), CASES, ids=[" ".join(args) for args, _ in CASES])
def test_exit_code(cli, tmp_path, monkeypatch, args, code):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-100000-km-aaaaaa", {"ari": 0.7}, config=GOOD)
    make_run(runs, "20260101-110000-km-bbbbbb", {"ari": 0.8}, config=GOOD)
    monkeypatch.setenv("DMRUN_RUNS_DIR", str(runs))
    files = {"good": tmp_path / "good.yaml", "bad": tmp_path / "bad.yaml", "text": tmp_path / "notes.json"}
    files["good"].write_text(GOOD, encoding="utf-8")
    files["bad"].write_text(BAD, encoding="utf-8")
    files["text"].write_text("not json", encoding="utf-8")
    result = cli(*(arg.format(**files) for arg in args))
    assert result.exit_code == code, result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("mine", "rules", "--support", "abc"), "invalid value for '--support' / '-s'"),
        (("mine", "rules", "--support=abc"), "'abc' is not a valid float"),
        (("train", "x.yaml", "--nproc", "0"), "(got '0')"),
        (("train", "--bogus", "x"), "no such option: --bogus"),
        (("trian",), "no such command 'trian'. Did you mean 'train'?"),
    ],
)
def test_parser_usage_errors_use_error_and_hint_lines(cli, args, fragment):
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert lines[1].startswith("hint: run '")
    assert "--help" in lines[1]
    assert "Usage:" not in result.stderr
    assert "Traceback" not in result.output


def test_parser_usage_error_json_carries_the_message(cli):
    result = cli("mine", "rules", "--support", "abc", "--json")
    document = strict_json(result.stdout)
    assert document["exit_code"] == 2
    assert document["error"]["message"].count("'abc'") == 1
    assert document["error"]["hint"].startswith("run '")


def test_runs_dir_file_is_usage_error(cli, tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder\n", encoding="utf-8")
    result = cli("train", CONFIGS_DIR / "tree.yaml", "--runs-dir", blocker)
    assert result.exit_code == 2
    assert f"the runs folder {blocker} is a file" in result.stderr
    assert "--runs-dir" in result.stderr
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    nested = cli("train", CONFIGS_DIR / "tree.yaml", "--runs-dir", blocker / "sub")
    assert nested.exit_code == 2
    assert f"cannot be created: {blocker} is a file, not a folder" in nested.stderr


def test_ctrl_c_before_run_reports_interrupt(cli, tmp_path, monkeypatch):
    import dmrun.cli.mine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dmrun.cli.mine, "build_mining_config", interrupted)
    baskets = tmp_path / "baskets.dat"
    baskets.write_text("a b\nb c\n", encoding="utf-8")
    result = cli("mine", "rules", baskets, "--json", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    document = strict_json(result.stdout)
    assert document["status"] == "interrupted"
    assert document["error"]["type"] == "Interrupted"


def test_interrupt_while_importing_exits_quietly(monkeypatch, capsys):
    import json
    import signal
    import sys
    import types

    from dmrun import entry
    from dmrun.errors import EXIT_SIGTERM, RunInterrupted

    class ImportInterrupted(types.ModuleType):
        def __getattr__(self, name):
            raise RunInterrupted(EXIT_SIGTERM)

    monkeypatch.setitem(sys.modules, "dmrun.cli", ImportInterrupted("dmrun.cli"))
    monkeypatch.setattr(sys, "argv", ["dmrun", "runs", "list", "--json"])
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # leave pytest's own handlers in place
    with pytest.raises(SystemExit) as exit_:
        entry.run()
    assert exit_.value.code == EXIT_SIGTERM
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n"
    document = json.loads(captured.out)
    assert document["status"] == "interrupted"
    assert document["error"]["message"] == "interrupted by SIGTERM"


def run_python(code: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_end_process_flushes_output_first(tmp_path):
    marker = tmp_path / "handler.txt"
    result = run_python(
        "import atexit, ctypes, sys\n"
        "from dmrun.cli import end_process\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        "sys.stdout.write('from python')\n"
        "ctypes.CDLL(None).printf(b', from C')\n"
        "end_process(3)\n"
        "print('after end_process')\n"
    )
    assert result.returncode == 3
    assert result.stdout == "from python, from C"
    assert marker.read_text() == "ran"


def test_end_process_waits_for_running_thread():
    result = run_python(
        "import threading, time\n"
        "from dmrun.cli import end_process\n"
        "def work():\n"
        "    time.sleep(0.2)\n"
        "    print('thread done', flush=True)\n"
        "threading.Thread(target=work).start()\n"
        "end_process(0)\n"
        "print('normal exit', flush=True)\n"
    )
    assert result.returncode == 0
    assert result.stdout.split() == ["normal", "exit", "thread", "done"]


def test_script_keeps_exit_code_and_output(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "bad.yaml"
    config.write_text(BAD, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dmrun", "validate", str(config), "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert strict_json(result.stdout)["valid"] is False
    assert result.stderr.startswith("error:")


def run_script(*arguments: str, **options):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "dmrun", *arguments], timeout=120, **options)


def test_closed_streams_keep_exit_code(tmp_path):
    import os
    import subprocess

    config = tmp_path / "good.yaml"
    config.write_text(GOOD, encoding="utf-8")
    closed_stderr = run_script("validate", str(config), stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(2))
    assert closed_stderr.returncode == 0
    closed_stdout = run_script("validate", str(config), "--json", stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert closed_stdout.returncode == 0
    assert closed_stdout.stderr == b""


def test_help_into_closed_pipe_exits_141():
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run_script("--help", stdout=write_end, stderr=-1)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == b""


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
def test_full_stdout_reported_without_traceback(tmp_path):
    import subprocess

    config = tmp_path / "good.yaml"
    config.write_text(GOOD, encoding="utf-8")
    for arguments in (["--version"], ["validate", str(config), "--json"]):
        with open("/dev/full", "w") as full:
            result = run_script(*arguments, stdout=full, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 1, arguments
        assert result.stderr.startswith("error: cannot write ")
        assert "No space left on device" in result.stderr
        assert "Traceback" not in result.stderr
