"""scikit-learn transformers that dmrun defines itself: log transform and outlier clipping.

They keep only NumPy arrays and plain values as state, so ``dmrun.sklearn_format`` can save
them and load them back, and both are on its list of allowed types. Both keep column names
(one output per input).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from dmrun.errors import DataError


def make_discretiser(step: Any):
    """Return the KBinsDiscretizer a ``discretise`` step describes, with ordinal bin numbers."""
    from sklearn.preprocessing import KBinsDiscretizer

    options: dict[str, Any] = {"n_bins": step.n_bins, "encode": "ordinal", "strategy": step.strategy}
    if step.strategy == "quantile":
        options["quantile_method"] = "averaged_inverted_cdf"
    if step.strategy in ("quantile", "kmeans"):
        options["subsample"] = None
    return KBinsDiscretizer(**options)


def _names(X) -> list[str]:
    return [str(column) for column in getattr(X, "columns", range(np.shape(X)[1]))]


class Log1pTransform(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Apply ``log1p(x + shift)``; a value below -1 after the shift is a data error naming its column."""

    def __init__(self, shift: float = 0.0) -> None:
        self.shift = shift

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(_names(X), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self._check(X, "the training split")
        return self

    def _check(self, X, where: str) -> None:
        values = np.asarray(X, dtype="float64") + self.shift
        with np.errstate(invalid="ignore"):
            below = values <= -1
        if below.any():
            row, column = (int(index) for index in np.argwhere(below)[0])
            name = self.feature_names_in_[column]
            raw = values[row, column] - self.shift
            raise DataError(
                f"log step: column '{name}' has the value {raw:g} in {where} (row {row + 1}); "
                f"log1p(x + shift) needs x + shift > -1, and shift is {self.shift:g}",
                hint=f"set `shift:` on the log step above {-1 - float(np.nanmin(values - self.shift)):g}, "
                f"or leave '{name}' out of its columns",
            )

    def transform(self, X):
        self._check(X, "the data")
        return np.log1p(np.asarray(X, dtype="float64") + self.shift)


class ClipOutliers(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to bounds fitted on the training split: quantiles, or fixed values."""

    def __init__(
        self,
        lower_quantile: float | None = 0.01,
        upper_quantile: float | None = 0.99,
        lower: float | None = None,
        upper: float | None = None,
    ) -> None:
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(_names(X), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        values = np.asarray(X, dtype="float64")
        width = values.shape[1]
        self.lower_ = self._bounds(values, self.lower, self.lower_quantile, -np.inf, width)
        self.upper_ = self._bounds(values, self.upper, self.upper_quantile, np.inf, width)
        return self

    @staticmethod
    def _bounds(values, fixed, quantile, unbounded, width):
        if fixed is not None:
            return np.full(width, float(fixed))
        if quantile is None or len(values) == 0:
            return np.full(width, unbounded)
        with np.errstate(invalid="ignore"):
            bounds = np.nanquantile(values, quantile, axis=0)
        return np.where(np.isnan(bounds), unbounded, bounds)

    def transform(self, X):
        return np.clip(np.asarray(X, dtype="float64"), self.lower_, self.upper_)

