#!/usr/bin/env bash
# Re-runs the measurement behind the model defaults in config/appsettings.json (issue 15): generates the stationary
# and drift scenarios (600,000 rows, seed 1), runs `adctr-sim tune --budget 27 --seed 1` on each, then scores the
# previous defaults and both winners on both scenarios with `adctr-sim eval` (progressive log loss, strictly
# sequential learning). Usage: loadtests/tune_defaults.sh [WORKDIR] (default /tmp/adctr-tune). Run from the repository
# root; the previous defaults are passed with --set, so the script does not depend on what the file holds now.
set -euo pipefail
work=${1:-/tmp/adctr-tune}
mkdir -p "$work"
dotnet build -c Release src/AdCtr.Simulator > /dev/null
sim=src/AdCtr.Simulator/bin/Release/net10.0/adctr-sim
previous=(--set AdCtr:Model:Global:Alpha=0.05 --set AdCtr:Model:Global:L1=0.5 --set AdCtr:Model:Global:L2=1
          --set AdCtr:Model:Campaign:Alpha=0.05 --set AdCtr:Model:Campaign:L1=0.5 --set AdCtr:Model:Campaign:L2=20)
for scenario in stationary drift; do
  "$sim" generate --scenario "$scenario" --events 600000 --seed 1 --out "$work/$scenario.ndjson" > /dev/null
  # tune's trial 0 is the configuration's values: start it from the previous defaults, as the committed run did
  "$sim" tune --data "$work/$scenario.ndjson" --format ndjson --budget 27 --seed 1 "${previous[@]}" \
      --out "$work/$scenario.best.json" > "$work/$scenario.tune.md"
  tail -n 25 "$work/$scenario.tune.md" | grep '^Best'
done
uptime
printf '| data | previous defaults | best on stationary | best on drift |\n|---|---:|---:|---:|\n'
for data in stationary drift; do
  row="| $data"
  for config in previous stationary drift; do
    if [ "$config" = previous ]; then args=("${previous[@]}"); else args=(--config "$work/$config.best.json"); fi
    ll=$("$sim" eval --data "$work/$data.ndjson" --format ndjson --json --holdout 0 --threads 1 "${args[@]}" \
         | python3 -c 'import json, sys; print(json.load(sys.stdin)["progressive"]["logLoss"])')
    row="$row | $ll"
  done
  echo "$row |"
done
