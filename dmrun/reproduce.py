"""Re-run a run from its saved config and seed, and compare the metrics with the original's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dmrun.config.loading import LoadedConfig, validate_data
from dmrun.config.yaml_source import parse_yaml
from dmrun.errors import ConfigError
from dmrun.expect import is_number
from dmrun.rundiff import changed, environment


def load_saved_config(folder: Path) -> LoadedConfig:
    """Load a run folder's config.yaml, the resolved config the run used.

    Raises:
        ConfigError: when the folder has no config.yaml or it no longer validates (for example
            after a dmrun upgrade removed a key).
    """
    path = folder / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"run {folder.name} has no config.yaml", hint="only runs that got past config loading can be reproduced")
    document = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    data = document.data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the saved config is not a mapping")
    model = data.get("model")
    if isinstance(model, dict) and model.get("min_count") is not None:
        # The resolved config lists both support settings, and min_count replaced min_support in the run.
        model.pop("min_support", None)
    return LoadedConfig(config=validate_data(data, document), path=path, base_dir=folder)


def compare_metrics(original: dict[str, Any], reproduced: dict[str, Any], tolerance: float) -> list[dict[str, Any]]:
    """Return one entry per metric of either run: metric, original, reproduced, matched.

    Numbers match when they differ by at most ``tolerance`` (0 means exactly equal); lists and
    tables match element by element; null matches only null.
    """
    names = list(dict.fromkeys([*original, *reproduced]))
    return [
        {
            "metric": name,
            "original": original.get(name),
            "reproduced": reproduced.get(name),
            "matched": name in original and name in reproduced and _close(original[name], reproduced[name], tolerance),
        }
        for name in names
    ]


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if is_number(a) and is_number(b):
        return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= tolerance)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[key], b[key], tolerance) for key in a)
    return a == b


def environment_differences(original: dict[str, Any], reproduced: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``{"key", "original", "reproduced"}`` for each environment value that changed."""
    return [
        {"key": entry["key"], "original": entry["a"], "reproduced": entry["b"]}
        for entry in changed(environment(original), environment(reproduced))
    ]
