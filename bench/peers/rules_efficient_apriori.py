"""Peer: efficient-apriori (pure Python Apriori with rule generation), written as CSV.

    python rules_efficient_apriori.py DATA SUPPORT CONFIDENCE OUT.csv
"""

import csv
import sys

from efficient_apriori import apriori

path, support, confidence, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with open(path, encoding="utf-8") as stream:
    baskets = [tuple(line.split()) for line in stream if line.strip()]
_, rules = apriori(baskets, min_support=support, min_confidence=confidence)
with open(out, "w", newline="", encoding="utf-8") as stream:
    writer = csv.writer(stream)
    writer.writerow(["antecedents", "consequents", "support", "confidence", "lift", "conviction"])
    for rule in rules:
        writer.writerow(["|".join(sorted(rule.lhs)), "|".join(sorted(rule.rhs)), rule.support, rule.confidence,
                         rule.lift, rule.conviction])
