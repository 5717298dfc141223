#!/usr/bin/env bash
# One node beside the 3-silo cluster of scripts/cluster.sh, in the same run (issue 11's figures): predict-1,
# predict-50 and /v1/examples (batches of 1,000 over 200 campaigns) with wrk, requests spread over the silos (one
# wrk per silo, the connections split), and for each: requests/s, the CPU per request of the servers (and, for the
# cluster, of PostgreSQL too), the cross-silo share of grain calls (Orleans' request messages sent silo to silo over
# the grain calls the silos handled), and the PostgreSQL commit rate.
#   ADCTR_CLUSTER_DIR=/tmp/lc scripts/cluster.sh up      # first: the cluster, as the README's "Scale-out" starts it
#   loadtests/ab/cluster_ab.sh SERVER_DLL [SECONDS=10]    # then this; it starts (and stops) the single node itself
set -euo pipefail
dll=$1; secs=${2:-10}
cluster_dir=${ADCTR_CLUSTER_DIR:-./.cluster}; pg_port=${ADCTR_PG_PORT:-25432}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
python3 "$here/bodies.py" "$work"
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
# run NAME PATH BODY CT THREADS CONNECTIONS PORT... : warm up, then measure with one wrk per port
run() {
  local name=$1 path=$2 body=$3 ct=$4 threads=$5 conns=$6; shift 6
  local ports=("$@") n=${#ports[@]} pids=() p c0 c1 q0 q1 r0 l0 r1 l1 out total=0
  for p in "${ports[@]}"; do pids+=("$(cat "$work/pid-$p")"); done
  local w=()
  for p in "${ports[@]}"; do BODY=$body CT=$ct wrk -t1 -c$((conns / n > 0 ? conns / n : 1)) -d3s -s "$here/post.lua" "http://127.0.0.1:$p$path" >/dev/null & w+=($!); done
  wait "${w[@]}"; w=()
  c0=$(ticks "${pids[@]}"); [ "$n" -gt 1 ] && { q0=$(commits); c0=$((c0 + $(pg_ticks))); }
  r0=$(metric orleans_messaging_sent_messages_size_count 'message_direction="Request"' "${ports[@]}"); l0=$(metric orleans_app_requests_latency_seconds_count "" "${ports[@]}")
  for p in "${ports[@]}"; do BODY=$body CT=$ct wrk -t"$threads" -c$((conns / n > 0 ? conns / n : 1)) -d"${secs}s" -s "$here/post.lua" "http://127.0.0.1:$p$path" >"$work/wrk-$p" & w+=($!); done
  wait "${w[@]}"
  c1=$(ticks "${pids[@]}"); [ "$n" -gt 1 ] && { q1=$(commits); c1=$((c1 + $(pg_ticks))); }
  r1=$(metric orleans_messaging_sent_messages_size_count 'message_direction="Request"' "${ports[@]}"); l1=$(metric orleans_app_requests_latency_seconds_count "" "${ports[@]}")
  for p in "${ports[@]}"; do total=$((total + $(awk '/ requests in / {print $1}' "$work/wrk-$p"))); done
  python3 - "$name" "$n" "$total" "$secs" "$((c1 - c0))" "$hz" "$r0" "$r1" "$l0" "$l1" "${q0:-0}" "${q1:-0}" <<'PY'
import sys
name, n, total, secs, ticks, hz, r0, r1, l0, l1, q0, q1 = sys.argv[1:]
n, total, secs, ticks, hz = int(n), int(total), float(secs), int(ticks), int(hz)
remote, calls = float(r1) - float(r0), float(l1) - float(l0)
share = remote / calls if calls > 0 else 0.0
print("%-14s %-9s %10.0f req/s  %8.1f us CPU/req%s  cross-silo %5.1f %% of %d grain calls  PostgreSQL %6.0f commits/s"
      % (name, "1 node" if n == 1 else "%d silos" % n, total / secs, ticks / hz * 1e6 / max(total, 1),
         " (servers+PostgreSQL)" if n > 1 else "", 100 * share, calls, (int(q1) - int(q0)) / secs))
PY
}

data=$(mktemp -d)
dotnet "$dll" --urls "http://127.0.0.1:$single_port" --AdCtr:Storage:Path="$data" --AdCtr:Cluster:SiloPort=0 --AdCtr:Cluster:GatewayPort=0 --Logging:LogLevel:Default=Warning >"$data.log" 2>&1 &
echo $! >"$work/pid-$single_port"
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$single_port/health/ready" >/dev/null 2>&1 && break; sleep 0.05; done
for i in 1 2 3; do cp "$cluster_dir/silo$i.pid" "$work/pid-$((18080 + i))"; done
for scenario in predict-1 predict-50 examples-1000; do
  case $scenario in
    predict-1) a=(/v1/predict "$work/predict-1.json" application/json 1 32) ;;
    predict-50) a=(/v1/predict "$work/predict-50.json" application/json 1 32) ;;
    examples-1000) a=(/v1/examples "$work/examples-1000.ndjson" application/x-ndjson 1 6) ;;
  esac
  run "$scenario" "${a[@]}" $single_port
  run "$scenario" "${a[@]}" 18081 18082 18083
done
kill "$(cat "$work/pid-$single_port")"; wait "$(cat "$work/pid-$single_port")" 2>/dev/null || true
rm -rf "$data" "$work"
