#!/usr/bin/env bash
# Side-by-side throughput of `adctr-sim eval` builds on one file, alternating the builds every round (ABAB...),
# so that both see the same machine load. One line per run:
#   round build load(1 min) wall-s cpu-s(user+sys) rows/s(eval's figure) eval-seconds progressive-logloss/auc holdout-logloss/auc
# Usage: loadtests/eval_ab.sh ROUNDS THREADS DATA NAME=REPO_DIR[@VAR=VALUE,...] [NAME=REPO_DIR[@VAR=VALUE,...] ...]
#   @VAR=VALUE,... sets environment variables for that build's runs only (e.g. tc0=.@DOTNET_TieredCompilation=0).
#   REPO_DIR is a checkout whose src/AdCtr.Simulator was built with `dotnet build -c Release src/AdCtr.Simulator`
#   (another commit: `git worktree add /tmp/base COMMIT`, or `git archive COMMIT | tar -x -C /tmp/base`).
# Needs GNU time (/usr/bin/time) and python3.
set -euo pipefail
rounds=$1; threads=$2; data=$3; shift 3
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*}; dir=${spec#*=}; vars=()
    if [[ $dir == *@* ]]; then IFS=, read -ra vars <<< "${dir#*@}"; dir=${dir%%@*}; fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    out=$(env "${vars[@]}" /usr/bin/time -f '%e %U %S' -o /tmp/eval_ab.time \
      "$dir/src/AdCtr.Simulator/bin/Release/net10.0/adctr-sim" eval --data "$data" --format criteo --json --threads "$threads")
    read -r wall user sys < /tmp/eval_ab.time
    echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin); a = sys.argv
print(a[1], a[2], "load=" + a[3], "wall=" + a[4], "cpu=%.2f" % (float(a[5]) + float(a[6])), d["examplesPerSecond"], d["seconds"],
      "%s/%s" % (d["progressive"]["logLoss"], d["progressive"]["auc"]), "%s/%s" % (d["holdout"]["logLoss"], d["holdout"]["auc"]))' \
      "$r" "$name" "$load" "$wall" "$user" "$sys"
  done
done
