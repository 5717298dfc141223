#!/usr/bin/env bash
# Cluster ingestion, two builds side by side: each round starts a fresh 3-silo cluster of each build in turn
# (scripts/cluster.sh, its own PostgreSQL data directory), and loadtests/cluster_ingest.py posts BATCHES batches of
# 1,000 examples over 200 campaigns through the three silos round robin, 6 in flight, after a warm-up of 30; it prints
# examples/s, the p50/p99 batch latency and the CPU per batch of the three silos and PostgreSQL together. Then the
# medians per build.
#   loadtests/ab/cluster_ingest_ab.sh BEFORE_DLL AFTER_DLL [ROUNDS=3] [BATCHES=120]
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); rounds=${3:-3}; batches=${4:-120}
cd "$(dirname "$0")/../.."
out=$(mktemp)
for round in $(seq 1 "$rounds"); do
  for side in before after; do
    dll=$before; [ $side = after ] && dll=$after
    dir=$(mktemp -d /tmp/adctr-cluster-ab-XXXX); chmod 755 "$dir"   # PostgreSQL runs as postgres and must reach its data
    ADCTR_CLUSTER_DIR=$dir ADCTR_SERVER_DLL=$dll scripts/cluster.sh up >/dev/null
    pids=$(cat "$dir"/silo1.pid),$(cat "$dir"/silo2.pid),$(cat "$dir"/silo3.pid)
    line=$(python3 loadtests/cluster_ingest.py --urls http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083 \
      --batches "$batches" --size 1000 --campaigns 200 --concurrency 6 --warmup 30 --cpu-pids "$pids" --pg-pid "$(head -1 "$dir/pg/data/postmaster.pid")" 2>&1 | tail -1 || true)   # a failed run is reported, not fatal
    echo "$round $side load=$(cut -d' ' -f1 /proc/loadavg) $line" | tee -a "$out"
    ADCTR_CLUSTER_DIR=$dir scripts/cluster.sh purge >/dev/null
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side = line.split()[1]
    m = re.search(r"([\d.]+) examples/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms, ([\d.]+) ms CPU per batch", line)
    if m:
        runs.setdefault(side, []).append([float(x) for x in m.groups()])
for side, rs in runs.items():
    med = [statistics.median(r[k] for r in rs) for k in range(4)]
    print("%-6s median of %d: %.0f examples/s, p50 %.1f ms, p99 %.1f ms, %.2f ms CPU per batch (servers + PostgreSQL)" % (side, len(rs), *med))
if len(runs) == 2:
    b = [statistics.median(r[k] for r in runs["before"]) for k in (0, 3)]
    a = [statistics.median(r[k] for r in runs["after"]) for k in (0, 3)]
    print("after / before: examples/s %.2fx, CPU per batch %.2fx" % (a[0] / b[0], a[1] / b[1]))
PY
rm -f "$out"
