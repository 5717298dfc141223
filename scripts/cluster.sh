#!/usr/bin/env bash
# A local 3-silo AdCtr cluster with a private PostgreSQL 15 on loopback (README "Scale-out").
#   scripts/cluster.sh up      build if needed, start PostgreSQL and three servers, wait (bounded) until all are ready
#   scripts/cluster.sh down    stop the three servers (SIGTERM, then SIGKILL after 30 s) and PostgreSQL
#   scripts/cluster.sh purge   down, then delete the cluster's directory
# Everything (database files, logs, pid files) lives in $ADCTR_CLUSTER_DIR (default ./.cluster). Ports:
# PostgreSQL $ADCTR_PG_PORT (25432: below Linux's ephemeral range 32768-60999, so no outgoing connection can hold it), HTTP 18081-18083, silo-to-silo 21111-21113, no Orleans gateway.
# ADCTR_SILO_ARGS: more settings for every silo, e.g. "--AdCtr:Cluster:GlobalSyncInterval=00:00:05".
# ADCTR_SERVER_DLL: another build of the server to run (an A/B of two commits), instead of this checkout's Release build.
# Needs Debian's postgresql package (apt-get install postgresql) and the .NET SDK. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${ADCTR_CLUSTER_DIR:-$PWD/.cluster}
pg_port=${ADCTR_PG_PORT:-25432}
bin=/usr/lib/postgresql/15/bin
dll=${ADCTR_SERVER_DLL:-src/AdCtr.Server/bin/Release/net10.0/AdCtr.Server.dll}
silos=3

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

up() {
  [ -x "$bin/initdb" ] || { echo "cluster.sh: PostgreSQL 15 is missing: apt-get install postgresql" >&2; exit 1; }
  [ -f "$dll" ] || [ -n "${ADCTR_SERVER_DLL:-}" ] || dotnet build -c Release src/AdCtr.Server >/dev/null
  [ -f "$dll" ] || { echo "cluster.sh: $dll is missing" >&2; exit 1; }
  dll=$(realpath "$dll")
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ ! -d "$dir/pg" ]; then
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg"
    as_postgres "$bin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='adctr'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres adctr
  local cs="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=adctr"
  for i in $(seq 1 $silos); do
    if [ -f "$dir/silo$i.pid" ] && kill -0 "$(cat "$dir/silo$i.pid")" 2>/dev/null; then continue; fi
    mkdir -p "$dir/silo$i"
    # Durable: examples are acknowledged once journaled in this PostgreSQL, campaign checkpoints live there too (README
    # "Scale-out"); the silos' directories hold only their logs.
    (cd "$dir/silo$i" && exec nohup dotnet "$dll" --urls "http://127.0.0.1:$((18080 + i))" \
      --AdCtr:Cluster:Provider=PostgreSql "--AdCtr:Cluster:ConnectionString=$cs" \
      --AdCtr:Cluster:SiloPort=$((21110 + i)) --AdCtr:Cluster:GatewayPort=0 ${ADCTR_SILO_ARGS:-} >"$dir/silo$i.log" 2>&1) &
    echo $! >"$dir/silo$i.pid"
  done
  for i in $(seq 1 $silos); do
    local url="http://127.0.0.1:$((18080 + i))"
    for _ in $(seq 1 120); do   # bounded: 60 s per silo
      curl -sf -m 2 "$url/health/ready" >/dev/null 2>&1 && break
      kill -0 "$(cat "$dir/silo$i.pid")" 2>/dev/null || { echo "cluster.sh: silo $i exited; see $dir/silo$i.log" >&2; tail -3 "$dir/silo$i.log" >&2; exit 1; }
      sleep 0.5
    done
    curl -sf -m 2 "$url/health/ready" >/dev/null || { echo "cluster.sh: silo $i not ready after 60 s; see $dir/silo$i.log" >&2; exit 1; }
    echo "silo $i ready: $url (log $dir/silo$i.log)"
  done
  echo "membership: $("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d adctr -tAc \
    "SELECT count(*) FROM OrleansMembershipTable WHERE Status = 3") active silos in PostgreSQL 127.0.0.1:$pg_port/adctr"
}

down() {
  [ -d "$dir" ] || { echo "no cluster in $dir"; return 0; }
  for i in $(seq 1 $silos); do
    [ -f "$dir/silo$i.pid" ] || continue
    local pid; pid=$(cat "$dir/silo$i.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done   # bounded: 30 s
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/silo$i.pid"
  done
  if [ -d "$dir/pg/data" ]; then
    as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if [ "${1:-}" = purge ]; then
    rm -rf "$dir"
    echo "cluster stopped, $dir deleted"
  else
    echo "cluster stopped ($dir kept; 'purge' deletes it)"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  purge) down purge ;;
  *) echo "usage: $0 up|down|purge" >&2; exit 2 ;;
esac
