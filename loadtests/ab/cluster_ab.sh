#!/usr/bin/env bash
# One node beside the 3-silo cluster of scripts/cluster.sh, in the same run (issue 11's figures): adctr-load's
# predict-1, predict-50 and examples scenarios (open model, steps of rising rate until a step misses the SLO), the
# cluster's requests spread over the three silos round robin (adctr-load --target URL1,URL2,URL3). For each: the
# highest rate that met the SLO, the CPU per request of the servers over the whole scenario (for the cluster with
# PostgreSQL's), the cross-silo share of grain calls (Orleans' request messages sent silo to silo over the grain calls
# the silos handled) and the PostgreSQL commit rate.
#   ADCTR_CLUSTER_DIR=/tmp/lc scripts/cluster.sh up       # first: the cluster, as the README's "Scale-out" starts it
#   loadtests/ab/cluster_ab.sh SERVER_DLL [MAX_SECONDS=60] # then this; it starts (and stops) the single node itself
# The examples scenario uses config/loadtests/cluster/examples-ndjson-cluster.json for both (rates from 5 batches/s:
# the single node's own profile starts at 100/s, above what the cluster takes on 2 cores).
set -euo pipefail
dll=$1; max_seconds=${2:-60}
cluster_dir=${ADCTR_CLUSTER_DIR:-./.cluster}; pg_port=${ADCTR_PG_PORT:-25432}
cd "$(dirname "$0")/../.."
load=loadtests/AdCtr.LoadTests/bin/Release/net10.0/adctr-load
[ -x "$load" ] || dotnet build -c Release loadtests/AdCtr.LoadTests >/dev/null
work=$(mktemp -d)
hz=$(getconf CLK_TCK)
single_port=18090
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)/psql

ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
# PostgreSQL's CPU: the postmaster's own, its reaped children's (cutime + cstime: connections that ended) and its live
# children's, so a backend that exits between two readings is counted once.
pg_ticks() {
  local pm; pm=$(head -1 "$cluster_dir/pg/data/postmaster.pid")
  local t; t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
  for c in $(pgrep -P "$pm"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
commits() { "$psql_bin" -h 127.0.0.1 -p "$pg_port" -U postgres -d adctr -tAc "SELECT xact_commit FROM pg_stat_database WHERE datname='adctr'"; }
metric() { # sum of a metric's series (those whose labels contain FILTER) over the given ports: metric NAME FILTER PORT...
  local name=$1 filter=$2; shift 2; local p
  for p in "$@"; do curl -s "http://127.0.0.1:$p/metrics"; done |
    awk -v n="$name" -v f="$filter" '{split($1, a, "{")} a[1] == n && index($1, f) > 0 {s += $2} END {printf "%.0f\n", s}'
}
# run PROFILE PORT... : one adctr-load scenario against the given ports, with the CPU and counters around it
run() {
  local profile=$1; shift
  local ports=("$@") n=${#ports[@]} pids=() p c0 c1 q0 q1 r0 l0 r1 l1 urls=""
  for p in "${ports[@]}"; do pids+=("$(cat "$work/pid-$p")"); urls+="${urls:+,}http://127.0.0.1:$p"; done
  c0=$(ticks "${pids[@]}"); [ "$n" -gt 1 ] && { q0=$(commits); c0=$((c0 + $(pg_ticks))); }
  r0=$(metric orleans_messaging_sent_messages_size_count 'message_direction="Request"' "${ports[@]}"); l0=$(metric orleans_app_requests_latency_seconds_count "" "${ports[@]}")
  local started; started=$(date +%s.%N)
  "$load" run --profile "$profile" --target "$urls" --max-seconds "$max_seconds" --out "$work/out-$n" >"$work/log-$n" 2>&1 || true
  local elapsed; elapsed=$(echo "$(date +%s.%N) - $started" | bc)
  c1=$(ticks "${pids[@]}"); [ "$n" -gt 1 ] && { q1=$(commits); c1=$((c1 + $(pg_ticks))); }
  r1=$(metric orleans_messaging_sent_messages_size_count 'message_direction="Request"' "${ports[@]}"); l1=$(metric orleans_app_requests_latency_seconds_count "" "${ports[@]}")
  python3 - "$work/out-$n" "$n" "$((c1 - c0))" "$hz" "$r0" "$r1" "$l0" "$l1" "${q0:-0}" "${q1:-0}" "$elapsed" <<'PY'
import glob, json, sys
out, n, ticks, hz, r0, r1, l0, l1, q0, q1, elapsed = sys.argv[1:]
n, ticks, hz, elapsed = int(n), int(ticks), int(hz), float(elapsed)
report = json.load(open(glob.glob(out + "/loadtest-*.json")[0]))
s = report["scenarios"][0] if "scenarios" in report else report["Scenarios"][0]
get = lambda d, k: d.get(k, d.get(k[0].upper() + k[1:]))
steps = get(s, "steps")
requests = sum(get(st, "requests") for st in steps)
best = get(s, "maxPassingRate")
remote, calls = float(r1) - float(r0), float(l1) - float(l0)
print("%-24s %-8s max rate within SLO %8s/s  %8.1f us CPU/req%s  cross-silo %5.1f %% of %d grain calls  PostgreSQL %5.0f commits/s  (%d requests, stop: %s)"
      % (get(s, "name"), "1 node" if n == 1 else "%d silos" % n, "%.0f" % best if best is not None else "none",
         ticks / hz * 1e6 / max(requests, 1), " (servers+PostgreSQL)" if n > 1 else "",
         100 * remote / calls if calls > 0 else 0.0, calls, (int(q1) - int(q0)) / elapsed, requests, get(s, "stopReason")))
PY
  rm -rf "$work/out-$n"
}

data=$(mktemp -d)
dotnet "$dll" --urls "http://127.0.0.1:$single_port" --AdCtr:Storage:Path="$data" --AdCtr:Cluster:SiloPort=0 --AdCtr:Cluster:GatewayPort=0 --Logging:LogLevel:Default=Warning >"$data.log" 2>&1 &
echo $! >"$work/pid-$single_port"
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$single_port/health/ready" >/dev/null 2>&1 && break; sleep 0.05; done
for i in 1 2 3; do cp "$cluster_dir/silo$i.pid" "$work/pid-$((18080 + i))"; done
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
profiles=(config/loadtests/predict-1.json config/loadtests/predict-50.json config/loadtests/cluster/examples-ndjson-cluster.json)
# Warm-up, not measured: every scenario once on each side for 20 s (JIT tiers, grain activations, replicas; a cold
# cluster missed predict-1's first step at 5,000/s that it passes warm).
for profile in "${profiles[@]}"; do
  for urls in "http://127.0.0.1:$single_port" "http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083"; do
    "$load" run --profile "$profile" --target "$urls" --max-seconds 20 --out "$work/warm" >/dev/null 2>&1 || true
  done
done
for profile in "${profiles[@]}"; do
  run "$profile" $single_port
  run "$profile" 18081 18082 18083
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$(cat "$work/pid-$single_port")"; wait "$(cat "$work/pid-$single_port")" 2>/dev/null || true
rm -rf "$data" "$work"
