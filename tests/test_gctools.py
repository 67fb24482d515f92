"""Reading baskets pauses the garbage collector and always turns it back on."""

from __future__ import annotations

import gc

import pytest

from dmrun.data.readers import read_baskets
from dmrun.errors import DataError


def test_collector_back_on_after_reading(tmp_path):
    path = tmp_path / "baskets.txt"
    path.write_text("a b\nb c\n", encoding="utf-8")
    frozen = gc.get_freeze_count()
    baskets = read_baskets(path)
    assert gc.isenabled()
    assert baskets.transactions == [["a", "b"], ["b", "c"]]
    assert baskets.transactions[0][1] is baskets.transactions[1][0]  # one string per distinct item
    assert gc.get_freeze_count() == frozen  # only the dmrun command freezes objects


def test_collector_back_on_after_error(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="contains no transactions"):
        read_baskets(path)
    assert gc.isenabled()
