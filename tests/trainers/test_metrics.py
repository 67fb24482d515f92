"""The predictions file: labels, rounding of probabilities, empty cells for missing values."""

import csv

import numpy as np

from dmrun.trainers.metrics import write_predictions


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_classification_rows_round_probabilities(tmp_path):
    path = tmp_path / "predictions.csv"
    probabilities = np.array([[1 / 3, 2 / 3], [0.25, 0.75], [1 / 3, 2 / 3], [1.0, 0.0], [np.nan, 1e-9]])
    write_predictions(path, np.array([1, 1, 0, 0, 1]), np.array([1.0, 1.0, 1.0, 0.0, 1.0]), ["no, never", "yes"], probabilities)

    rows = read_rows(path)
    assert rows[0] == ["target", "prediction", "probability_no, never", "probability_yes"]
    assert rows[1:] == [
        ["yes", "yes", "0.333333", "0.666667"],
        ["yes", "yes", "0.25", "0.75"],
        ["no, never", "yes", "0.333333", "0.666667"],
        ["no, never", "no, never", "1.0", "0.0"],
        ["yes", "yes", "", "1e-09"],
    ]
    expected = [[f"{value:.6g}" for value in row] for row in probabilities]
    assert [[float(cell) for cell in row[2:]] for row in rows[1:5]] == [[float(cell) for cell in row] for row in expected[:4]]


def test_regression_rows_keep_both_values(tmp_path):
    path = tmp_path / "predictions.csv"
    write_predictions(path, np.array([3, 4]), np.array([2.5, np.nan]), None)

    assert read_rows(path) == [["target", "prediction"], ["3.0", "2.5"], ["4.0", ""]]


def test_empty_split_writes_header_only(tmp_path):
    path = tmp_path / "predictions.csv"
    write_predictions(path, np.array([], dtype=int), np.array([], dtype=int), ["a", "b"], np.empty((0, 2)))

    assert read_rows(path) == [["target", "prediction", "probability_a", "probability_b"]]
