"""Containers passed from the data layer to preprocessing and trainers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """A rectangular dataset: feature columns and an optional target column.

    ``meta`` carries facts the reader knows and the trainers may use, such as ``image_shape``
    for image datasets. ``task`` is the task the data was made for, or ``None`` when unknown.
    """

    frame: Any  # pandas.DataFrame
    target: str | None
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Baskets:
    """Transactions for rule mining: one list of distinct, non-empty items per basket."""

    transactions: list[list[str]]
    source: str
    summary: dict[str, Any] = field(default_factory=dict)
    item_counts: dict[str, int] | None = None  # baskets containing each item, when the reader counted them
    # When set, ``transactions`` hold int codes that index these names (``readers.build_baskets(coded=True)``).
    item_names: list[str] | None = None
