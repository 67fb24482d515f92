"""Run folders shared by the report tests: every example config, trained briefly."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import EXAMPLE_CONFIGS
from report_checks import QUICK


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory) -> dict[str, Path]:
    """Train every example config with the QUICK overrides; return {config stem: run folder}."""
    from dmrun.config.loading import load_config
    from dmrun.runner import run_experiment

    runs_dir = tmp_path_factory.mktemp("example-runs")
    return {
        config.stem: run_experiment(load_config(config, QUICK[config.stem]), runs_dir).run.path
        for config in EXAMPLE_CONFIGS
    }
