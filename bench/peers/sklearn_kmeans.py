"""Peer: scikit-learn k-means on the same CSV, with the same clustering scores dmrun reports.

    python sklearn_kmeans.py DATA.csv CLUSTERS
"""

import sys

import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score

path, clusters = sys.argv[1], int(sys.argv[2])
frame = pd.read_csv(path)
labels = frame.pop("label").to_numpy()
features = frame.to_numpy(dtype=float)
found = KMeans(n_clusters=clusters, n_init=10, random_state=0).fit_predict(features)
print(f"ari {adjusted_rand_score(labels, found):.4f}")
print(f"silhouette {silhouette_score(features, found):.4f}")
print(f"davies_bouldin {davies_bouldin_score(features, found):.4f} calinski {calinski_harabasz_score(features, found):.1f}")
