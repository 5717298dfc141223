#!/usr/bin/env python3
"""Writes the request bodies of the A/B runs (fixed seed): predict with 1 and 50 candidates, and one NDJSON batch
of 1,000 labeled examples over 200 campaigns (the examples-ndjson profile's shape: 200 grain calls per batch)."""
import json, random, sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = random.Random(7)
context = {"user_age": "25-34", "gender": "f", "region": "r4", "device": "mobile", "interest": "sports",
           "site": "s12", "position": "1", "hour": "13", "weekday": "2"}

def candidates(n):
    return [{"adId": "a%d" % (c * 7), "campaignId": "c%d" % (c * 3 % 200), "advertiserId": "v%d" % (c % 13),
             "features": {"ad_category": "k%d" % (c % 9)}} for c in range(n)]

for n in (1, 50):
    with open("%s/predict-%d.json" % (out, n), "w") as f:
        json.dump({"requestId": "r-1", "context": context, "candidates": candidates(n)}, f)

with open("%s/examples-1000.ndjson" % out, "w") as f:
    for i in range(1000):
        ctx = {"user_age": rng.choice(["18-24", "25-34", "35-44", "45-54"]), "gender": rng.choice("fm"),
               "region": "r%d" % rng.randrange(50), "device": rng.choice(["mobile", "desktop", "tablet"]),
               "interest": "i%d" % rng.randrange(200), "site": "s%d" % rng.randrange(1000),
               "position": str(rng.randrange(8)), "hour": str(rng.randrange(24)), "weekday": str(rng.randrange(7))}
        f.write(json.dumps({"context": ctx, "adId": "a%d" % rng.randrange(1600), "campaignId": "c%d" % (i % 200),
                            "advertiserId": "v%d" % rng.randrange(40), "features": {"ad_category": "k%d" % rng.randrange(9)},
                            "label": 1 if rng.random() < 0.02 else 0}) + "\n")
