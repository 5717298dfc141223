#!/usr/bin/env python3
"""Cost of a prediction served from a replica against one served from the local grain's model, on one silo of a
running cluster (scripts/cluster.sh up). Standard library plus Debian's `wrk`.

1. Posts EXAMPLES examples of each of CAMPAIGNS campaigns (PREFIX0.., default c0..), campaign i through URL i mod the
   number of URLs (Orleans tends to activate a grain on the silo of its first call), in batches (fixed seed).
2. Predicts each campaign once on a target silo (the last URL, else the one before...); a campaign whose predict raised the silo's
   adctr_replica_fetches_total is active on another silo (served from a replica), the others are local.
3. Runs `wrk` closed-loop (CONNECTIONS connections, one thread, DURATION s) with a 1-candidate predict of one local
   campaign, then of one remote campaign, alternating ROUNDS times; prints requests/s and latency percentiles of each
   run and the medians, and the replica metrics of the target silo afterwards.

    python3 loadtests/replica_predict.py --urls http://127.0.0.1:18081,http://127.0.0.1:18082 --rounds 3
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import urllib.request


def post(url, path, body, content_type):
    req = urllib.request.Request(url + path, data=body.encode(), headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.read().decode()


def metric(url, name):
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(r"^" + re.escape(name) + r" ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


PREFIX = "c"


def predict_body(c):
    return json.dumps({"context": {"user_age": "a1", "device": "d0", "hour": "9"},
                       "candidates": [{"adId": "%s%d-a1" % (PREFIX, c), "campaignId": "%s%d" % (PREFIX, c), "features": {"ad_category": "k2"}}]})


def wrk(url, body, connections, duration):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' % json.dumps(body))
        f.write('done = function(summary, latency, requests)\n'
                '  io.write(string.format("RESULT %d %d %.1f %.1f %.1f\\n", summary.requests, summary.duration,'
                ' latency:percentile(50), latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.timeout))\nend\n')
        script = f.name
    try:
        out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "-s", script, url + "/v1/predict"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)
    n, micros, p50, p99, errors = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out).groups()
    return int(n) / (int(micros) / 1e6), float(p50), float(p99), int(float(errors))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", required=True)
    ap.add_argument("--campaigns", type=int, default=12)
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--prefix", default="c")
    a = ap.parse_args()
    global PREFIX
    PREFIX = a.prefix
    urls = a.urls.split(",")
    target = urls[-1]
    rng = random.Random(1)
    for c in range(a.campaigns):
        for start in range(0, a.examples, 500):
            lines = []
            for _ in range(min(500, a.examples - start)):
                lines.append(json.dumps({"context": {"user_age": "a%d" % rng.randrange(6), "device": "d%d" % rng.randrange(3),
                                                     "hour": str(rng.randrange(24))},
                                         "adId": "%s%d-a%d" % (PREFIX, c, rng.randrange(4)), "campaignId": "%s%d" % (PREFIX, c),
                                         "features": {"ad_category": "k%d" % rng.randrange(8)},
                                         "label": 1 if rng.random() < 0.1 else 0}))
            status, _ = post(urls[c % len(urls)], "/v1/examples", "\n".join(lines) + "\n", "application/x-ndjson")
            assert status == 200, status
    # Placement is Orleans' (resource-optimized, not deterministic): try each silo as the target, last URL first.
    for target in reversed(urls):
        local, remote = [], []
        for c in range(a.campaigns):
            before = metric(target, "adctr_replica_fetches_total")
            status, text = post(target, "/v1/predict", predict_body(c), "application/json")
            assert status == 200, (status, text)
            (remote if metric(target, "adctr_replica_fetches_total") > before else local).append(c)
        print("target %s: local campaigns %s, remote (replica) campaigns %s" % (target, local, remote))
        if local and remote:
            break
    else:
        raise SystemExit("no silo has both a local and a remote campaign; post more campaigns (--prefix NEW)")
    runs = {"local": [], "replica": []}
    for r in range(a.rounds):
        for kind, c in (("local", local[0]), ("replica", remote[0])):
            rps, p50, p99, errors = wrk(target, predict_body(c), a.connections, a.duration)
            runs[kind].append((rps, p50, p99))
            print("round %d %-7s %s%-3d %8.0f req/s  p50 %6.0f us  p99 %6.0f us  errors %d" % (r + 1, kind, PREFIX, c, rps, p50, p99, errors))
    for kind, rs in runs.items():
        print("median %-7s %8.0f req/s  p50 %6.0f us  p99 %6.0f us" % (
            kind, statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs), statistics.median(x[2] for x in rs)))
    print("ratio replica/local (median req/s): %.3f" % (statistics.median(x[0] for x in runs["replica"]) / statistics.median(x[0] for x in runs["local"])))
    with urllib.request.urlopen(target + "/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("adctr_replica") and "_bucket" not in line:
                print(line)


if __name__ == "__main__":
    main()
