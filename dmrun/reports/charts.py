"""Chart functions: plain data in, a matplotlib figure out.

Run folders are read elsewhere (plots.py, content.py), and these functions only draw. Each returns
a figure made by ``figures.new_figure`` and is called inside ``figures.plotting()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dmrun.reports.figures import new_figure, shorten

# Bounds that keep plots fast and legible on large runs.
MAX_SCATTER_POINTS = 20_000
MAX_SILHOUETTE_ROWS = 3_000
MAX_RULE_POINTS = 5_000
GRAPH_RULES = 12
TOP_BARS = 20
TREE_DEPTH_SHOWN = 4


def _palette(count: int) -> list[Any]:
    """Return ``count`` distinct colours: tab10 up to 10, tab20 up to 20, then a continuous map."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](index) for index in range(count)]
    if count <= 20:
        return [colormaps["tab20"](index) for index in range(count)]
    return [colormaps["turbo"](index / max(count - 1, 1)) for index in range(count)]


# --- supervised ----------------------------------------------------------------------------------


def learning_curves(histories: Mapping[str, Any], best_epoch: int | None = None, loss_name: str | None = None):
    """Plot loss and validation metrics per epoch for one or more runs (name -> history DataFrame).

    The best epoch is marked when one run is shown and ``best_epoch`` is given.
    """
    metric_columns = sorted({column for frame in histories.values() for column in frame.columns if column.startswith("val_") and column != "val_loss"})
    panels = 2 if metric_columns else 1
    figure = new_figure(6.0 * panels, 4.2)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    colours = _palette(max(len(histories), 1))
    single = len(histories) == 1

    # Markers keep short histories visible: a line through one epoch draws nothing.
    marker = "o" if max(len(frame) for frame in histories.values()) <= 25 else None
    last_epoch = int(max(frame["epoch"].max() for frame in histories.values()))
    loss_axis = axes[0]
    for colour, (name, frame) in zip(colours, histories.items()):
        prefix = "" if single else f"{name}: "
        loss_axis.plot(frame["epoch"], frame["train_loss"], color=colour, marker=marker, markersize=4, label=f"{prefix}train loss")
        if "val_loss" in frame:
            loss_axis.plot(frame["epoch"], frame["val_loss"], color=colour, linestyle="--", marker=marker, markersize=4, label=f"{prefix}validation loss")
    loss_label = {"cross_entropy": "cross-entropy loss", "mse": "MSE loss (standardised target)"}.get(loss_name or "", "loss")
    loss_axis.set(title="Loss per epoch", xlabel="epoch", ylabel=loss_label)

    if metric_columns:
        metric_axis = axes[1]
        styles = ["-", "--", ":", "-."]
        for colour, (name, frame) in zip(colours, histories.items()):
            for style, column in zip(styles, metric_columns):
                if column in frame:
                    label = column.removeprefix("val_") if single else f"{name}: {column.removeprefix('val_')}"
                    metric_axis.plot(frame["epoch"], frame[column], color=colour, linestyle=style, marker=marker, markersize=4, label=label)
        scores = {"val_accuracy", "val_f1_macro"}
        units = "score from 0 to 1" if set(metric_columns) <= scores else "target units"
        metric_axis.set(title="Validation metrics per epoch", xlabel="epoch", ylabel=f"value ({units})")

    for axis in axes:
        if single and best_epoch:
            axis.axvline(best_epoch, color="0.35", linestyle=":", linewidth=1.2, label=f"best epoch ({best_epoch})")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        axis.xaxis.get_major_locator().set_params(integer=True)
        if last_epoch <= 10:  # few epochs: one tick per epoch, with room on both sides
            axis.set_xticks(range(1, last_epoch + 1))
            axis.set_xlim(0.5, last_epoch + 0.5)
    return figure


def _tick_labels(axis: Any, names: Sequence[str], which: str) -> None:
    """Set class names as tick labels, rotating the x labels when they would collide."""
    labels = [shorten(name, 24) for name in names]
    positions = range(len(labels))
    if which == "x":
        longest = max((len(label) for label in labels), default=0)
        crowded = longest > 8 or longest * len(labels) > 40
        axis.set_xticks(positions, labels, rotation=45 if crowded else 0, ha="right" if crowded else "center")
    else:
        axis.set_yticks(positions, labels)


def confusion_matrix(actual: Sequence[str], predicted: Sequence[str], classes: Sequence[str]):
    """Plot counts per (true, predicted) class, coloured by the share of each true class."""
    index = {name: position for position, name in enumerate(classes)}
    size = len(classes)
    counts = np.zeros((size, size), dtype=int)
    for true, guess in zip(actual, predicted):
        counts[index[true], index[guess]] += 1
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts, dtype=float), where=totals > 0)

    side = min(max(4.8, 0.5 * size + 2.8), 14)
    figure = new_figure(side + 1.2, side)
    axis = figure.subplots()
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class", shrink=0.8)
    if size <= 25:
        font = 10 if size <= 10 else 7
        for row in range(size):
            for column in range(size):
                if counts[row, column]:
                    colour = "white" if shares[row, column] > 0.6 else "black"
                    axis.text(column, row, str(counts[row, column]), ha="center", va="center", fontsize=font, color=colour)
    _tick_labels(axis, classes, "x")
    _tick_labels(axis, classes, "y")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    axis.set(
        title=f"Confusion matrix, test split ({counts.sum()} rows, accuracy {accuracy:.3f})",
        xlabel="predicted class",
        ylabel="true class",
    )
    return figure


def roc_pr_curves(actual: Sequence[str], scores: np.ndarray, classes: Sequence[str]):
    """Plot ROC and precision-recall curves: one curve for two classes, one-vs-rest for more.

    ``scores`` has shape (rows, classes): the predicted probability of each class.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    actual = np.asarray(actual)
    # With two classes the second one is the positive class, as in scikit-learn.
    shown = [classes[1]] if len(classes) == 2 else list(classes)
    figure = new_figure(12.5 if len(shown) > 1 else 11, 5.0 + (0.17 * len(shown) if len(shown) > 8 else 0))
    roc_axis, pr_axis = figure.subplots(1, 2)
    colours = _palette(len(shown))
    drawn = 0
    for colour, name in zip(colours, shown):
        truth = actual == name
        if truth.all() or not truth.any():
            continue  # a class absent from the test split (or the only one) has no curve
        column = scores[:, list(classes).index(name)]
        false_positive, true_positive, _ = roc_curve(truth, column)
        precision, recall, _ = precision_recall_curve(truth, column)
        label = shorten(name, 24) if len(shown) > 1 else f"positive class: {shorten(name, 24)}"
        roc_axis.plot(false_positive, true_positive, color=colour, label=f"{label} (AUC {auc(false_positive, true_positive):.3f})")
        pr_axis.plot(recall, precision, color=colour, label=f"{label} (AP {average_precision_score(truth, column):.3f})")
        drawn += 1
    if not drawn:
        return None

    roc_axis.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="chance")
    suffix = " (one-vs-rest)" if len(shown) > 1 else ""
    roc_axis.set(title=f"ROC curve{suffix}", xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    pr_axis.set(title=f"Precision-recall curve{suffix}", xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    for axis, location in ((roc_axis, "lower right"), (pr_axis, "lower left")):
        axis.grid(alpha=0.3)
        if len(shown) <= 8:
            axis.legend(fontsize=8, loc=location)
        else:  # below the axes, so many curves stay visible
            axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return figure


def predicted_vs_actual(actual: Any, predicted: Any, what: str):
    """Scatter predicted against actual values with the line of perfect prediction."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    figure = new_figure(5.6, 5.2)
    axis = figure.subplots()
    axis.scatter(actual, predicted, s=14, alpha=0.6, edgecolors="none")
    low = float(np.nanmin([actual.min(), predicted.min()]))
    high = float(np.nanmax([actual.max(), predicted.max()]))
    axis.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="predicted = actual")
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    axis.set(title=f"Predicted against actual, {what}\n{len(actual)} rows, RMSE {rmse:.4g}", xlabel="actual value", ylabel="predicted value")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def forecast_series(series: Any, forecast: Any):
    """Plot the whole series with the train, validation and test parts marked and the test forecast.

    ``series`` is the ``SeriesData`` the trainer received; ``forecast`` is forecast.csv.
    """
    parts = [("train", series.train), ("validation", series.val), ("test", series.test)]
    values = np.concatenate([np.asarray(part, dtype=float) for _, part in parts])
    positions = _numeric_times(series.times, len(values))
    figure = new_figure(11, 4.6)
    axis = figure.subplots()
    axis.plot(positions, values, color="0.2", linewidth=1.1, label="actual")

    start = 0
    shades = {"train": None, "validation": "#fff3cd", "test": "#dbeafe"}
    for name, part in parts:
        end = start + len(part)
        if len(part) and shades[name]:
            axis.axvspan(positions[start], positions[end - 1], color=shades[name], alpha=0.8, zorder=0, label=f"{name} part")
        start = end
    # Row i of forecast.csv is the test window whose last target is the i-th test point.
    horizon = forecast_horizon(forecast)
    ends = np.arange(len(values) - len(forecast), len(values))
    if horizon == 1:
        axis.plot(positions[ends], forecast["forecast"], color="#d62728", linewidth=1.6, label="forecast (one step ahead)")
    else:
        for step, color in ((1, "#d62728"), (horizon, "#9467bd")):
            at = positions[ends - horizon + step]
            axis.plot(at, forecast[f"forecast_step{step}"], color=color, linewidth=1.4, label=f"forecast ({step} step{'s' if step > 1 else ''} ahead)")
    naive_at = positions[ends - horizon + 1]
    axis.plot(naive_at, forecast["naive_forecast"], color="#7f7f7f", linestyle=":", linewidth=1.2, label="naive forecast (last value)")
    axis.set(
        title=f"Forecast of {series.name}: {len(series.train)} train, {len(series.val)} validation, {len(series.test)} test points",
        xlabel=series.time_column or "position in the series",
        ylabel=series.name,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", ncol=3)
    return figure


def forecast_horizon(forecast: Any) -> int:
    """Return the number of steps in forecast.csv: 1, or the count of ``forecast_stepN`` columns."""
    if "forecast" in forecast.columns:
        return 1
    return sum(1 for column in forecast.columns if str(column).startswith("forecast_step"))


def _numeric_times(times: Sequence[Any] | None, count: int) -> np.ndarray:
    """Return the time labels as numbers when they all are, and positions 0..count-1 otherwise."""
    if times is not None and len(times) == count:
        try:
            return np.asarray(times, dtype=float)
        except (TypeError, ValueError):
            pass
    return np.arange(count, dtype=float)


# --- clustering ----------------------------------------------------------------------------------


def _sample_rows(count: int, limit: int, seed: int = 0) -> np.ndarray:
    """Return the indices of at most ``limit`` rows, chosen with a fixed seed, in order."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def cluster_projection(X: np.ndarray, labels: np.ndarray, centers: np.ndarray):
    """Plot the rows and cluster centres in the plane of the first two principal components."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=float)
    rows = _sample_rows(len(X), MAX_SCATTER_POINTS)
    if X.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=0).fit(X)
        points, centres = pca.transform(X[rows]), pca.transform(centers)
        shares = pca.explained_variance_ratio_
        labels_xy = (f"PC1 ({shares[0]:.0%} of variance)", f"PC2 ({shares[1]:.0%} of variance)")
    else:  # one feature: spread the points vertically so they do not overlap
        jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(rows))
        points = np.column_stack([X[rows, 0], labels[rows] + jitter])
        centres = np.column_stack([centers[:, 0], np.arange(len(centers))])
        labels_xy = ("feature value", "cluster")

    clusters = len(centers)
    figure = new_figure(7.6, 6.0)
    axis = figure.subplots()
    colours = _palette(clusters)
    for cluster in range(clusters):
        mask = labels[rows] == cluster
        axis.scatter(points[mask, 0], points[mask, 1], s=12, alpha=0.6, color=colours[cluster], edgecolors="none", label=f"cluster {cluster} ({int((labels == cluster).sum())} rows)")
    axis.scatter(centres[:, 0], centres[:, 1], s=220, marker="X", color=colours, edgecolors="black", linewidths=1.5, label="centres")
    for cluster, (x, y) in enumerate(centres):
        axis.annotate(str(cluster), (x, y), xytext=(8, 8), textcoords="offset points", fontsize=10, fontweight="bold")
    sampled = f", {len(rows):,} of {len(X):,} rows shown" if len(rows) < len(X) else ""
    axis.set(title=f"k-means clusters, PCA projection (k={clusters}{sampled})", xlabel=labels_xy[0], ylabel=labels_xy[1])
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best", ncol=1 if clusters <= 10 else 2, markerscale=0.8)
    return figure


def silhouette(X: np.ndarray, labels: np.ndarray):
    """Plot each row's silhouette coefficient, grouped by cluster and sorted, with the average."""
    from sklearn.metrics import silhouette_samples

    rows = _sample_rows(len(X), MAX_SILHOUETTE_ROWS)
    sampled = f", {len(rows):,} of {len(X):,} rows sampled" if len(rows) < len(X) else ""
    X, labels = np.asarray(X, dtype=float)[rows], np.asarray(labels)[rows]
    used = np.unique(labels)
    if len(used) < 2 or len(used) >= len(X):
        return None
    values = silhouette_samples(X, labels)
    average = float(values.mean())

    figure = new_figure(7.2, max(4.5, 0.35 * len(used) + 3.5))
    axis = figure.subplots()
    colours = _palette(int(labels.max()) + 1)
    bottom = 0
    gap = max(len(X) // 60, 2)
    ticks = []
    for cluster in used:
        band = np.sort(values[labels == cluster])
        axis.fill_betweenx(np.arange(bottom, bottom + len(band)), 0, band, color=colours[cluster], alpha=0.8)
        ticks.append(bottom + len(band) / 2)
        bottom += len(band) + gap
    axis.axvline(average, color="#d62728", linestyle="--", label=f"average {average:.3f}")
    axis.set_yticks(ticks, [f"cluster {cluster}" for cluster in used])
    axis.set(title=f"Silhouette per cluster (average {average:.3f}{sampled})", xlabel="silhouette coefficient (-1 to 1)", xlim=(min(-0.1, values.min() - 0.05), 1))
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3, axis="x")
    return figure


# --- decision tree -------------------------------------------------------------------------------


def decision_tree(model: Any, feature_names: list[str], class_names: list[str] | None):
    """Draw the fitted tree with its split rules, at most ``TREE_DEPTH_SHOWN`` levels deep."""
    from sklearn.tree import plot_tree

    depth = model.get_depth()
    shown = min(depth, TREE_DEPTH_SHOWN)
    leaves = min(model.get_n_leaves(), 2**shown)
    figure = new_figure(max(9.0, 2.3 * leaves), 1.9 * (shown + 1) + 1.2)
    axis = figure.subplots()
    plot_tree(
        model,
        max_depth=shown,
        feature_names=[shorten(name, 28) for name in feature_names],
        class_names=[shorten(name, 20) for name in class_names] if class_names else None,
        filled=True,
        rounded=True,
        impurity=False,
        fontsize=9,
        ax=axis,
    )
    cut = f"; the first {shown} of {depth} levels are drawn, tree.txt has all" if shown < depth else ""
    axis.set_title(f"Decision tree: depth {depth}, {model.get_n_leaves()} leaves{cut}")
    return figure


def horizontal_bars(names: Sequence[str], values: Sequence[float], title: str, xlabel: str, colour: str = "#4c72b0"):
    """Plot labelled horizontal bars, largest at the top."""
    figure = new_figure(8.0, max(3.0, 0.34 * len(names) + 1.5))
    axis = figure.subplots()
    positions = np.arange(len(names))[::-1]
    axis.barh(positions, values, color=colour)
    axis.set_yticks(positions, [shorten(name, 40) for name in names])
    for position, value in zip(positions, values):
        axis.text(value, position, f" {value:.3g}", va="center", fontsize=8)
    axis.set(title=title, xlabel=xlabel)
    axis.margins(x=0.12)
    axis.grid(alpha=0.3, axis="x")
    return figure


def feature_importances(names: Sequence[str], importances: Sequence[float]):
    """Plot the largest feature importances of a tree (impurity decrease, summing to 1)."""
    pairs = sorted(zip(names, importances), key=lambda pair: pair[1], reverse=True)
    nonzero = [(name, value) for name, value in pairs if value > 0][:TOP_BARS] or pairs[:TOP_BARS]
    unused = len(pairs) - len([pair for pair in pairs if pair[1] > 0])
    note = f" ({unused} unused features left out)" if unused else ""
    return horizontal_bars(
        [name for name, _ in nonzero],
        [float(value) for _, value in nonzero],
        f"Feature importances{note}",
        "importance (share of the total impurity decrease)",
    )


# --- association rules ---------------------------------------------------------------------------


def rules_scatter(rules: Any):
    """Plot support against confidence with lift as colour, on a bounded sample of the rules.

    The ``MAX_RULE_POINTS / 10`` rules with the highest lift are always kept, so the rules a
    reader looks for are never sampled away.
    """
    total = len(rules)
    if total > MAX_RULE_POINTS:
        top = rules.nlargest(MAX_RULE_POINTS // 10, "lift")
        rest = rules.drop(top.index).sample(MAX_RULE_POINTS - len(top), random_state=0)
        rules = rules.loc[top.index.union(rest.index)]
    rules = rules.sort_values("lift")  # the highest lift is drawn last, on top
    figure = new_figure(7.6, 5.6)
    axis = figure.subplots()
    size = 16 if len(rules) > 500 else 40
    points = axis.scatter(rules["support"], rules["confidence"], c=rules["lift"], cmap="viridis", s=size, alpha=0.8, edgecolors="none")
    figure.colorbar(points, ax=axis, label="lift")
    shown = f", {len(rules):,} of {total:,} shown" if len(rules) < total else ""
    axis.set(title=f"Association rules: support against confidence ({total:,} rules{shown})", xlabel="support (share of transactions)", ylabel="confidence")
    axis.grid(alpha=0.3)
    return figure


def rules_graph(rules: Any, sort_by: str):
    """Draw the top rules as a graph: antecedent items, rule nodes and consequent items in three columns.

    Grey lines run from antecedent items to the rule node, and coloured arrows run from the rule
    node to its consequent items. Node size shows support and node colour shows lift.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    rules = rules.head(GRAPH_RULES).reset_index(drop=True)
    sides = [(str(row["antecedents"]).split("|"), str(row["consequents"]).split("|")) for _, row in rules.iterrows()]
    left_items = _ordered_items(left for left, _ in sides)
    right_items = _ordered_items(right for _, right in sides)
    rows = max(len(rules), len(left_items), len(right_items))
    left_place = _column_positions(left_items, rows)
    right_place = _column_positions(right_items, rows)
    rule_place = _column_positions(list(range(len(rules))), rows)

    figure = new_figure(12, max(5.0, 0.45 * rows + 2.0))
    axis = figure.subplots()
    norm = Normalize(float(rules["lift"].min()), float(rules["lift"].max()) + 1e-9)
    cmap = colormaps["plasma"]
    for index, ((left, right), (_, row)) in enumerate(zip(sides, rules.iterrows())):
        y = rule_place[index]
        colour = cmap(norm(float(row["lift"])))
        for item in left:
            axis.plot([0, 1], [left_place[item], y], color="0.7", linewidth=1, zorder=1)
        for item in right:
            axis.annotate("", xy=(2, right_place[item]), xytext=(1, y), arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.5, shrinkA=10, shrinkB=4), zorder=2)
        axis.scatter(1, y, s=200 + 1500 * float(row["support"]), color=colour, edgecolors="black", linewidths=0.8, zorder=3)
        text_colour = "white" if norm(float(row["lift"])) < 0.6 else "black"
        axis.text(1, y, f"R{index + 1}", ha="center", va="center", fontsize=8, fontweight="bold", color=text_colour, zorder=4)
    for place, x, align in ((left_place, -0.03, "right"), (right_place, 2.03, "left")):
        for item, y in place.items():
            axis.scatter(0 if align == "right" else 2, y, s=40, color="#2b2b2b", zorder=3)
            axis.text(x, y, shorten(item, 40), ha=align, va="center", fontsize=9)

    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axis, label="lift", shrink=0.7)
    legend = [
        Line2D([], [], color="0.7", label="antecedent item → rule"),
        Line2D([], [], color=cmap(0.8), marker=">", label="rule → consequent item"),
        Line2D([], [], linestyle="none", marker="o", markersize=10, markerfacecolor="white", markeredgecolor="black", label="rule: size = support"),
    ]
    axis.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8, frameon=False)
    axis.text(0, rows + 0.1, "antecedents (if)", ha="center", fontsize=10, fontweight="bold")
    axis.text(1, rows + 0.1, "rules", ha="center", fontsize=10, fontweight="bold")
    axis.text(2, rows + 0.1, "consequents (then)", ha="center", fontsize=10, fontweight="bold")
    axis.set(title=f"Top {len(rules)} rules by {sort_by} (Rn is row n of rules.csv)", xlim=(-1.3, 3.3), ylim=(-0.6, rows + 0.7))
    axis.axis("off")
    return figure


def _ordered_items(groups: Any) -> list[str]:
    """Return the items of ``groups`` in order of first appearance, without repeats."""
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return list(seen)


def _column_positions(entries: list[Any], rows: int) -> dict[Any, float]:
    """Spread ``entries`` evenly from the top to the bottom of a column ``rows`` high."""
    if len(entries) == 1:
        return {entries[0]: (rows - 1) / 2}
    step = (rows - 1) / max(len(entries) - 1, 1)
    return {entry: rows - 1 - index * step for index, entry in enumerate(entries)}


def item_frequencies(counts: Mapping[str, int], transactions: int):
    """Plot the most frequent items as a share of transactions."""
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_BARS]
    return horizontal_bars(
        [name for name, _ in top],
        [count / max(transactions, 1) for _, count in top],
        f"Most frequent items\n{len(counts):,} distinct items in {transactions:,} transactions",
        "support (share of transactions containing the item)",
        colour="#55a868",
    )


# --- runs compared -------------------------------------------------------------------------------


def metric_against_values(values: Sequence[Any], scores: Sequence[float], key: str, metric: str, best: int | None):
    """Plot a metric against the values of one swept key; categorical values get one slot each."""
    figure = new_figure(5.6, 4.2)
    axis = figure.subplots()
    numeric = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)
    positions = list(values) if numeric else [sorted(set(map(str, values))).index(str(value)) for value in values]
    axis.scatter(positions, scores, s=36, alpha=0.8)
    if numeric and len(set(values)) > 1:
        # Join the mean score at each value, so a trend such as an elbow is visible.
        ordered = sorted(set(values))
        means = [float(np.mean([score for value, score in zip(values, scores) if value == key])) for key in ordered]
        axis.plot(ordered, means, color="C0", alpha=0.4, linewidth=1)
    if numeric and all(isinstance(value, int) for value in values):
        axis.xaxis.get_major_locator().set_params(integer=True)
    if best is not None:
        axis.scatter([positions[best]], [scores[best]], s=160, facecolors="none", edgecolors="#d62728", linewidths=2, label="best trial")
        axis.legend(fontsize=8)
    if not numeric:
        names = sorted(set(map(str, values)))
        axis.set_xticks(range(len(names)), [shorten(name, 18) for name in names], rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    elif _spans_decades(values):
        axis.set_xscale("log")
    axis.set(title=f"{metric} against {key}", xlabel=key, ylabel=metric)
    axis.grid(alpha=0.3)
    return figure


def _spans_decades(values: Sequence[float]) -> bool:
    positive = [float(value) for value in values if value and value > 0]
    return len(positive) == len(values) and len(positive) > 1 and max(positive) / min(positive) >= 100
