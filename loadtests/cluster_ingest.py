#!/usr/bin/env python3
"""Ingestion rate of POST /v1/examples through one or several AdCtr servers (standard library only).

Posts BATCHES batches of SIZE NDJSON examples, example j of a batch for campaign j mod CAMPAIGNS (fields drawn from a
fixed seed), batch i to the i-th URL round robin, CONCURRENCY batches in flight, each with its own Idempotency-Key.
A first pass of WARMUP batches is not measured. Prints examples/s and the p50/p99 batch latency; fails on any answer
other than 200/202. With --cpu-pids (the servers) and --pg-pid (PostgreSQL's postmaster, whose live and ended backends
are counted too) it also prints the CPU time they spent per batch during the measured pass, from /proc.

    python3 loadtests/cluster_ingest.py --urls http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083 \
        --batches 200 --size 300 --campaigns 60 --concurrency 3
"""
import argparse
import os
import random
import threading
import time
import urllib.request
import uuid


def body(rng, size, campaigns):
    lines = []
    for j in range(size):
        c = j % campaigns
        lines.append(
            '{"context":{"user_age":"a%d","device":"d%d","hour":"%d"},"adId":"c%d-a%d","campaignId":"c%d",'
            '"features":{"ad_category":"k%d"},"label":%d}'
            % (rng.randrange(6), rng.randrange(3), rng.randrange(24), c, rng.randrange(4), c, rng.randrange(8),
               1 if rng.random() < 0.1 else 0))
    return ("\n".join(lines) + "\n").encode()


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields, int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def cpu_seconds(pids, pg_pid):
    """CPU seconds of the servers, plus PostgreSQL's: the postmaster, its ended children (cutime + cstime) and its live ones."""
    total = sum(ticks(p)[1] for p in pids)
    if pg_pid:
        fields, own = ticks(pg_pid)
        total += own + int(fields[13]) + int(fields[14])
        for child in open("/proc/%d/task/%d/children" % (pg_pid, pg_pid)).read().split():
            try:
                total += ticks(int(child))[1]
            except OSError:
                pass  # ended between the listing and the reading: counted in cutime from now on
    return total / os.sysconf("SC_CLK_TCK")


def run(urls, bodies, concurrency, run_id):
    latencies = []
    errors = []
    lock = threading.Lock()
    next_batch = [0]

    def worker():
        try:
            post_all()
        except Exception as e:  # reported once by run(), not as a thread traceback
            with lock:
                errors.append(e)
                next_batch[0] = len(bodies)

    def post_all():
        while True:
            with lock:
                i = next_batch[0]
                next_batch[0] += 1
            if i >= len(bodies):
                return
            start = time.monotonic()
            request = urllib.request.Request(
                urls[i % len(urls)] + "/v1/examples", data=bodies[i],
                headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": "%s-%d" % (run_id, i)})
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                if response.status not in (200, 202):
                    raise RuntimeError("batch %d answered %d" % (i, response.status))
            with lock:
                latencies.append(time.monotonic() - start)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("cluster_ingest.py: %s" % errors[0])
    return time.monotonic() - started, sorted(latencies)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--urls", required=True, help="comma-separated server URLs")
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--size", type=int, default=300)
    p.add_argument("--campaigns", type=int, default=60)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--cpu-pids", default="", help="comma-separated server process ids whose CPU time to report")
    p.add_argument("--pg-pid", type=int, default=0, help="PostgreSQL's postmaster process id (its CPU time is added)")
    a = p.parse_args()
    pids = [int(x) for x in a.cpu_pids.split(",") if x]
    urls = a.urls.split(",")
    rng = random.Random(a.seed)
    run_id = uuid.uuid4().hex[:12]
    run(urls, [body(rng, a.size, a.campaigns) for _ in range(a.warmup)], a.concurrency, run_id + "w")
    bodies = [body(rng, a.size, a.campaigns) for _ in range(a.batches)]
    cpu0 = cpu_seconds(pids, a.pg_pid) if pids else 0
    elapsed, lat = run(urls, bodies, a.concurrency, run_id)
    cpu = ", %.2f ms CPU per batch" % ((cpu_seconds(pids, a.pg_pid) - cpu0) * 1000 / a.batches) if pids else ""
    print("%d batches x %d examples (%d campaigns) through %d server(s), concurrency %d: %.2f s, %.0f examples/s, "
          "p50 %.1f ms, p99 %.1f ms%s" % (a.batches, a.size, a.campaigns, len(urls), a.concurrency, elapsed,
                                          a.batches * a.size / elapsed, lat[len(lat) // 2] * 1000,
                                          lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, cpu))


if __name__ == "__main__":
    main()
