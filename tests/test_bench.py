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
    assert "| synthetic 2,000 baskets at 0.01 | dmrun |" in text
    assert "| synthetic 2,000 baskets at 0.01 | pyfim script |" in text
    assert "failed" not in text
    assert "Fitted exponent" in text
    assert "dmrun runs list over 20 runs" in text
