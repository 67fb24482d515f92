"""Peer: a scikit-learn decision tree on a CSV with text and numeric columns.

Missing markers (`?`) become missing values, text columns are imputed with the most frequent
value and one-hot encoded, numbers are imputed with the median; 75/25 stratified split.

    python sklearn_tree.py DATA.csv TARGET
"""

import sys

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

path, target = sys.argv[1], sys.argv[2]
frame = pd.read_csv(path, na_values=["?"], skipinitialspace=True)
labels = frame.pop(target)
numbers = [column for column in frame.columns if pd.api.types.is_numeric_dtype(frame[column])]
text = [column for column in frame.columns if column not in numbers]
prepare = ColumnTransformer(
    [
        ("text", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), text),
        ("numbers", SimpleImputer(strategy="median"), numbers),
    ]
)
train, test, y_train, y_test = train_test_split(frame, labels, test_size=0.25, random_state=0, stratify=labels)
model = make_pipeline(prepare, DecisionTreeClassifier(max_depth=12, random_state=0)).fit(train, y_train)
print(f"accuracy {accuracy_score(y_test, model.predict(test)):.4f}")
