"""Peer: frequent itemsets with pyfim, then every rule and measure in plain Python, written as CSV.

This is the script a user would write to get mlxtend's rule set (all consequent sizes) from
pyfim: one dictionary of itemset counts and a loop over every split of every itemset.

    python rules_pyfim.py DATA SUPPORT CONFIDENCE OUT.csv
"""

import csv
import math
import sys
from itertools import combinations

import fim

path, support, confidence, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with open(path, encoding="utf-8") as stream:
    baskets = [line.split() for line in stream if line.strip()]
n = len(baskets)
min_count = max(1, math.ceil(support * n - 1e-9))
found = fim.fpgrowth(baskets, target="s", supp=-min_count, report="a")
counts = {frozenset(items): count for items, count in found}
# pyfim leaves out itemsets made only of items found in every basket; add them back.
singles = {}
for basket in baskets:
    for item in basket:
        singles[item] = singles.get(item, 0) + 1
universal = sorted(item for item, count in singles.items() if count == n)
for size in range(1, len(universal) + 1):
    for subset in combinations(universal, size):
        counts.setdefault(frozenset(subset), n)

with open(out, "w", newline="", encoding="utf-8") as stream:
    writer = csv.writer(stream)
    writer.writerow(["antecedents", "consequents", "antecedent support", "consequent support", "support",
                     "confidence", "lift", "leverage", "conviction"])
    for itemset, count in counts.items():
        if len(itemset) < 2:
            continue
        s_ac = count / n
        for size in range(1, len(itemset)):
            for antecedent in combinations(sorted(itemset), size):
                antecedent = frozenset(antecedent)
                consequent = itemset - antecedent
                s_a = counts[antecedent] / n
                s_c = counts[consequent] / n
                conf = (s_ac * n) / (s_a * n)
                if conf < confidence:
                    continue
                conviction = (1.0 - s_c) / (1.0 - conf) if conf < 1.0 else math.inf
                writer.writerow(["|".join(sorted(antecedent)), "|".join(sorted(consequent)), s_a, s_c, s_ac,
                                 conf, conf / s_c, s_ac - s_a * s_c, conviction])
