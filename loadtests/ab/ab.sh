#!/usr/bin/env bash
# A/B of two server builds (and the echo app) on this machine: predict-1, predict-50 and /v1/examples with wrk,
# start-up time to /health/ready. Rounds alternate the builds so drifting machine load hits both alike.
#   [SCENARIOS="predict-1 predict-50 examples-1000"] loadtests/ab/ab.sh BEFORE_DLL AFTER_DLL ECHO_DLL [ROUNDS=3] [SECONDS=10]
# Prints one line per measurement: round, target, scenario, requests/s (wrk), and a median table at the end.
set -euo pipefail
before=$1 after=$2 echo_dll=$3 rounds=${4:-3} secs=${5:-10}
scenarios=${SCENARIOS:-predict-1 predict-50 examples-1000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
python3 "$here/bodies.py" "$work"
results="$work/results.tsv"
port=5391

ready_ms() { # start the server, print milliseconds to /health/ready
  local dll=$1 data=$2 t0 t1
  t0=$(date +%s%N)
  dotnet "$dll" --urls "http://127.0.0.1:$port" --AdCtr:Storage:Path="$data" --Logging:LogLevel:Default=Warning >"$data.log" 2>&1 &
  echo $! >"$work/pid"
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.02
  done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
stop() { # the server was started inside $(ready_ms ...), a subshell: `wait` cannot wait for it, so poll until it is gone
  local pid; pid=$(cat "$work/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 3000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  wait "$pid" 2>/dev/null || true
}
cpu_ticks() { # user + system CPU of the server process so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$(cat "$work/pid")/stat"
}
rate() { # wrk's requests/s, and the server's CPU time per request in microseconds (robust to other load)
  local c0 c1 out
  c0=$(cpu_ticks)
  out=$(BODY=$2 CT=$3 wrk -t"$4" -c"$5" -d"${secs}s" -s "$here/post.lua" "http://127.0.0.1:$port$1")
  c1=$(cpu_ticks)
  echo "$out" | awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
    / requests in / {n = $1} /Requests\/sec/ {rps = $2}
    END {printf "%s\t%.1f\n", rps, (n > 0 ? ticks / hz * 1e6 / n : 0)}'
}

for round in $(seq 1 "$rounds"); do
  for target in echo before after; do
    data="$work/data-$target-$round"
    if [ "$target" = echo ]; then
      case " $scenarios " in *" predict-1 "*) ;; *) continue ;; esac
      dotnet "$echo_dll" --urls "http://127.0.0.1:$port" >"$data.log" 2>&1 &
      echo $! >"$work/pid"
      # Up to 30 s: under load average 16 the echo app once took more than 6 s to listen and the run stopped.
      for _ in $(seq 1 1500); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.02; done
      rate /echo "$work/predict-1.json" application/json 1 32 >/dev/null # warm-up
      printf '%s\techo\tpredict-1\t%s\n' "$round" "$(rate /echo "$work/predict-1.json" application/json 1 32)" | tee -a "$results"
      stop
      continue
    fi
    dll=$before; [ "$target" = after ] && dll=$after
    printf '%s\t%s\tready-ms\t%s\n' "$round" "$target" "$(ready_ms "$dll" "$data")" | tee -a "$results"
    # Each scenario is warmed up as long as it is measured first: tiered JIT compiles the ingest path's methods
    # only after they run hot, and a measurement taken before that (the examples scenario used to follow the
    # predict warm-up alone) measured instrumented code at a third of the warm throughput under load.
    for scenario in $scenarios; do
      case $scenario in
        predict-1) args=(/v1/predict "$work/predict-1.json" application/json 1 32) ;;
        predict-50) args=(/v1/predict "$work/predict-50.json" application/json 1 32) ;;
        examples-1000) args=(/v1/examples "$work/examples-1000.ndjson" application/x-ndjson 2 4) ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
      esac
      rate "${args[@]}" >/dev/null
      printf '%s\t%s\t%s\t%s\n' "$round" "$target" "$scenario" "$(rate "${args[@]}")" | tee -a "$results"
    done
    stop
  done
done

echo
echo "medians over $rounds rounds (requests/s; predict-50: x50 = scores/s; examples-1000: x1000 = examples/s; :cpu-us = server CPU microseconds per request)"
python3 - "$results" <<'PY'
import sys, statistics, collections
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, target, scenario, *values = line.split()
    v[(target, scenario)].append(float(values[0]))
    if len(values) > 1:
        v[(target, scenario + ":cpu-us")].append(float(values[1]))
for (target, scenario), xs in sorted(v.items()):
    print("%-7s %-21s median %12.1f   runs %s" % (target, scenario, statistics.median(xs), " ".join("%.1f" % x for x in xs)))
PY
rm -rf "$work"
