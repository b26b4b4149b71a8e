#!/usr/bin/env bash
# API load with wrk against a release build on loopback, SQLite by default:
#   benches/load.sh                       # SQLite temp file
#   DEPOT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/depot_load benches/load.sh
# Starts Depot with the demo data on 127.0.0.1:18080, runs each endpoint for $DURATION with
# $CONNECTIONS connections on 2 threads, prints wrk's summary (requests/s, latency
# percentiles), then stops the server. Bounded in time; sends traffic only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
LISTEN=127.0.0.1:18080
work=$(mktemp -d)
export DEPOT_LISTEN=$LISTEN DEPOT_ADMIN_PASSWORD=load-password DEPOT_LOG=warn
export DEPOT_DATABASE_URL=${DEPOT_DATABASE_URL:-sqlite://$work/load.db}
if [[ $DEPOT_DATABASE_URL == postgres* ]]; then
  db=${DEPOT_DATABASE_URL##*/}
  psql "${DEPOT_DATABASE_URL%/*}/test" -qc "drop database if exists $db with (force)" -c "create database $db"
fi
cargo build --release --quiet
./target/release/depot --demo & server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://$LISTEN/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -sf "http://$LISTEN/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"load-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
run() {
  echo "== $1"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "http://$LISTEN$1" \
    | grep -E "Requests/sec|Latency  |50%|99%|Non-2xx|Socket errors"
}
run /healthz
run /v1/items/1
run "/v1/items?gtin=4006381333931"
run "/v1/items?limit=50"
