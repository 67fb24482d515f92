"""Peer: frequent itemsets with pyfim, then every rule and measure in plain Python, written as CSV.

This is the script a user would write to get mlxtend's rule set (all consequent sizes) from
pyfim: one dictionary of itemset counts and a loop over every split of every itemset. It
computes the ten measures dmrun writes, orders the rules as dmrun does (lift, then support,
then names) and writes the itemsets CSV as well, so both do the same work apart from dmrun's
run folder records and JSON copies.

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

rows = []
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
            leverage = s_ac - s_a * s_c
            conviction = (1.0 - s_c) / (1.0 - conf) if conf < 1.0 else math.inf
            denominator = max(s_ac * (1 - s_a), s_a * (s_c - s_ac))
            zhang = 0.0 if denominator == 0 else leverage / denominator
            certainty = 0.0 if 1 - s_c == 0 else (conf - s_c) / (1 - s_c)
            kulczynski = (conf + (s_ac * n) / (s_c * n)) / 2
            rows.append((sorted(antecedent), sorted(consequent), s_a, s_c, s_ac, conf, conf / s_c, leverage, conviction,
                         zhang, s_ac / (s_a + s_c - s_ac), certainty, kulczynski, n / n))
# The same order as dmrun: lift, then support (both descending), then the item names.
rows.sort(key=lambda row: (-row[6], -row[4], row[0], row[1]))

with open(out, "w", newline="", encoding="utf-8") as stream:
    writer = csv.writer(stream)
    writer.writerow(["antecedents", "consequents", "antecedent support", "consequent support", "support", "confidence",
                     "lift", "leverage", "conviction", "zhangs_metric", "jaccard", "certainty", "kulczynski",
                     "representativity"])
    writer.writerows(["|".join(row[0]), "|".join(row[1]), *row[2:]] for row in rows)

# The itemsets too, by descending count, then length, then names, as dmrun writes them.
itemsets = sorted((-count, len(itemset), sorted(itemset)) for itemset, count in counts.items())
with open(out.removesuffix(".csv") + "-itemsets.csv", "w", newline="", encoding="utf-8") as stream:
    writer = csv.writer(stream)
    writer.writerow(["itemset", "length", "support", "count"])
    writer.writerows(["|".join(items), length, -negative / n, -negative] for negative, length, items in itemsets)
