"""``dmrun validate`` and ``dmrun list``: read configs and registries, run nothing."""

from __future__ import annotations

from pathlib import Path

from dmrun.cli import output
from dmrun.errors import DmrunError


def validate_configs(paths: list[Path], overrides: list[str] | None = None, as_json: bool = False) -> int:
    """Validate each config and return the number of invalid ones.

    Prints one line per valid file and every problem of the others, or with ``as_json`` one
    JSON document: ``{"valid": bool, "configs": [{"path", "valid", "model", "dataset", "error"}]}``.
    """
    from dmrun.config.loading import load_config
    from dmrun.data import check_header_columns, check_reference

    failures = 0
    entries = []
    for path in paths:
        entry: dict = {"path": str(path), "valid": True, "model": None, "dataset": None, "error": None}
        try:
            loaded = load_config(path, overrides)
            check_reference(loaded.config.dataset, loaded.base_dir)
            if loaded.config.model.type != "rules":
                check_header_columns(loaded.config.dataset, loaded.base_dir)
            if loaded.config.engine == "spark":
                from dmrun.spark.options import check_supported

                check_supported(loaded.config, loaded.base_dir)  # options only; Spark and Java are not needed here
            if loaded.config.sweep is not None:
                from dmrun.sweep import plan_sweep

                plan_sweep(path, [], overrides or [])  # checks every trial's config, as `dmrun sweep` would
        except DmrunError as err:
            failures += 1
            if str(path) not in err.message:
                err.message = f"{path}: {err.message}"
            output.print_error(err)
            entry.update(valid=False, error=output.error_document(err, None)["error"])
            entries.append(entry)
            continue
        config = loaded.config
        entry.update(model=config.model.type, dataset=config.dataset.name or config.dataset.path)
        entries.append(entry)
        if not as_json:
            output.print_line(f"ok: {path} ({output.describe_config(config)})")
    if as_json:
        output.print_json({"valid": failures == 0, "configs": entries})
    return failures


def _print_section(title: str, entries: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in entries) + 2
    output.print_line(f"{title}:")
    for name, text in entries:
        output.print_line(f"  {name.ljust(width)}{text}")


def print_catalogue() -> None:
    """Print algorithms, built-in datasets and preprocessing steps, one line each."""
    from dmrun.data.builtin import BUILTIN_DATASETS
    from dmrun.preprocess import STEPS
    from dmrun.trainers import TRAINERS

    _print_section("algorithms (model.type)", [(entry.name, entry.summary) for entry in TRAINERS.values()])
    _print_section(
        "built-in datasets (dataset.name)",
        [(entry.name, f"[{entry.kind}] {entry.summary}") for entry in BUILTIN_DATASETS.values()],
    )
    _print_section("preprocessing steps (preprocess[].step)", list(STEPS.items()))
