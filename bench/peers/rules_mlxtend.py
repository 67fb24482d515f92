"""Peer: mlxtend fpgrowth and association_rules on a sparse one-hot matrix, written as CSV.

    python rules_mlxtend.py DATA SUPPORT CONFIDENCE OUT.csv
"""

import sys

import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

path, support, confidence, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with open(path, encoding="utf-8") as stream:
    baskets = [line.split() for line in stream if line.strip()]
encoder = TransactionEncoder()
onehot = pd.DataFrame.sparse.from_spmatrix(encoder.fit(baskets).transform(baskets, sparse=True), columns=encoder.columns_)
itemsets = fpgrowth(onehot, min_support=support, use_colnames=True)
rules = association_rules(itemsets, num_itemsets=len(baskets), metric="confidence", min_threshold=confidence)
rules["antecedents"] = rules["antecedents"].map(lambda items: "|".join(sorted(items)))
rules["consequents"] = rules["consequents"].map(lambda items: "|".join(sorted(items)))
rules.to_csv(out, index=False)
