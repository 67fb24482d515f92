"""ARFF date attributes: Java date patterns, ISO 8601, errors, and dates as model features."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpers import read_json, strict_json

# 2024-01-02 03:04:05 UTC
BASE = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()


def read_dates(tmp_path, declaration: str, values: list[str]):
    from dmrun.config.schema import DatasetConfig
    from dmrun.data import read_file

    quoted = [value if value == "?" else f'"{value}"' for value in values]
    rows = "\n".join(f"{value},{index}" for index, value in enumerate(quoted))
    text = f"@relation r\n@attribute when {declaration}\n@attribute n numeric\n@data\n{rows}\n"
    (tmp_path / "dates.arff").write_text(text, encoding="utf-8")
    return read_file(tmp_path / "dates.arff", DatasetConfig(path="dates.arff")).frame["when"]


@pytest.mark.parametrize(
    ("declaration", "value", "seconds"),
    [
        ('date "yyyy-MM-dd HH:mm:ss"', "2024-01-02 03:04:05", BASE),
        ("date 'dd/MM/yyyy'", "02/01/2024", BASE - 3 * 3600 - 4 * 60 - 5),
        ("date yyyy-MM-dd'T'HH:mm:ss.SSS", "2024-01-02T03:04:05.250", BASE + 0.25),
        ("date \"yyyy-MM-dd'T'HH:mm:ssXXX\"", "2024-01-02T05:04:05+02:00", BASE),
        ("date \"yyyy-MM-dd'T'HH:mm:ssXXX\"", "2024-01-02T03:04:05Z", BASE),
        ('date "yyyyMMddHHmmssZ"', "20240101190405-0800", BASE),
        ('date "yyyy-MM-dd HHX"', "2024-01-02 11+08", BASE - 4 * 60 - 5),
        ("date \"'day' d 'of' MMM yy, h:mm:ss a\"", "day 2 of Jan 24, 3:04:05 AM", BASE),
        ("date \"yyyy-MM-dd 'at' HH 'o''clock'\"", "2024-01-02 at 03 o'clock", BASE - 4 * 60 - 5),
        ("date", "2024-01-02T03:04:05", BASE),
        ("date", "2024-01-02", BASE - 3 * 3600 - 4 * 60 - 5),
    ],
)
def test_date_formats_parsed(tmp_path, declaration, value, seconds):
    from dmrun.preprocess import epoch_seconds

    column = read_dates(tmp_path, declaration, [value, "?"])
    assert str(column.dtype).startswith("datetime64")
    converted = epoch_seconds(column)
    assert converted[0] == pytest.approx(seconds)
    assert converted[1] != converted[1]  # a missing date stays missing (NaN)


def test_zone_offsets_aligned_in_utc(tmp_path):
    column = read_dates(tmp_path, "date \"yyyy-MM-dd'T'HH:mmXXX\"", ["2024-01-02T03:04+00:00", "2024-01-02T05:04+02:00"])
    assert str(column.dt.tz) == "UTC"
    assert column.iloc[0] == column.iloc[1]


def test_unparseable_date_named(tmp_path):
    from dmrun.errors import DataError

    with pytest.raises(DataError) as caught:
        read_dates(tmp_path, 'date "yyyy-MM-dd HH:mm:ss"', ["2024-01-02 03:04:05", "2024-13-45 03:04:05"])
    assert "dates.arff line 6: attribute 'when' is a date in the format yyyy-MM-dd HH:mm:ss" in caught.value.message
    assert "'2024-13-45 03:04:05'" in caught.value.message


def test_default_format_named_in_error(tmp_path):
    from dmrun.errors import DataError

    with pytest.raises(DataError) as caught:
        read_dates(tmp_path, "date", ["yesterday"])
    assert "line 5: attribute 'when' is a date in the format ISO 8601" in caught.value.message


def test_unsupported_pattern_letter(tmp_path):
    from dmrun.errors import DataError

    with pytest.raises(DataError) as caught:
        read_dates(tmp_path, 'date "yyyy-MM-dd z"', ["2024-01-02 UTC"])
    assert "dates.arff line 2: attribute 'when'" in caught.value.message
    assert "letter 'z'" in caught.value.message


EVENTS = """@relation events
@attribute stamp date "yyyy-MM-dd HH:mm"
@attribute size numeric
@attribute era {early, late}
@data
ROWS
"""


@pytest.mark.parametrize("model", ["{type: tree}", "{type: mlp, hidden_sizes: [8]}"])
def test_dates_train_models(tmp_path, write_config, cli, model):
    # The class depends only on the date, so a model that reads it as a number can learn it.
    rows = [f"2024-{month:02d}-{day:02d} 12:00,{(day * 7) % 5},{'early' if month < 4 else 'late'}" for month in range(1, 7) for day in (3, 9, 15, 21, 27)]
    (tmp_path / "events.arff").write_text(EVENTS.replace("ROWS", "\n".join(rows)), encoding="utf-8")
    preprocess = "preprocess: [{step: scale}]\ntrain: {epochs: 60, optimizer: {lr: 0.05}}\n" if "mlp" in model else ""
    config = write_config(
        f"name: dates\nseed: 0\ndataset: {{path: events.arff, target: era, split: {{test_size: 0.3, val_size: 0}}}}\n"
        f"model: {model}\n{preprocess}"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert document["metrics"]["accuracy"] >= 0.85
    run = tmp_path / "runs" / next((tmp_path / "runs").iterdir()).name
    assert "stamp" in read_json(run / "data.json")["features"]

    predicted = cli("predict", run, tmp_path / "events.arff", "--json")
    assert predicted.exit_code == 0, predicted.output
    assert strict_json(predicted.stdout)["metrics"]["accuracy"] >= 0.85
