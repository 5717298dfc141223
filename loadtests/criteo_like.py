#!/usr/bin/env python3
"""Writes a deterministic Criteo-format TSV (label, I1..I13, C1..C26; empty = missing) shaped like the
Criteo Display Advertising Challenge rows (about 250 bytes a row): heavy-tailed integer counts, 8-hex-digit
categoricals with Zipf-like popularity, some values missing, labels from a hidden logistic model (CTR ~25%).
Usage: python3 loadtests/criteo_like.py ROWS OUT [SEED]"""
import math, random, sys

def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    vocab = [max(10, int(10 ** rng.uniform(1, 5))) for _ in range(26)]
    effect = {}
    with open(out, "w") as f:
        for _ in range(rows):
            logit = -1.3
            cols = []
            for i in range(13):
                if rng.random() < 0.2:
                    cols.append("")
                else:
                    v = int(rng.paretovariate(1.2)) - 1
                    cols.append(str(v))
                    logit += 0.05 * math.log1p(v) * (1 if i % 2 else -1)
            for j in range(26):
                if rng.random() < 0.12:
                    cols.append("")
                    continue
                k = min(int(rng.paretovariate(1.1)), vocab[j])
                token = "%08x" % ((j * 2654435761 + k * 40503) & 0xFFFFFFFF)
                cols.append(token)
                if j < 8:
                    key = (j, k)
                    if key not in effect:
                        effect[key] = rng.gauss(0, 0.4)
                    logit += effect[key]
            label = 1 if rng.random() < 1 / (1 + math.exp(-logit)) else 0
            f.write(str(label) + "\t" + "\t".join(cols) + "\n")

main()
