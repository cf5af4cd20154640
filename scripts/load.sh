#!/usr/bin/env bash
# `make load`: the locust load test (tests/load/locustfile.py), headless and bounded in time,
# then a table of requests/s, failures, latency percentiles and observer delivery percentiles.
#
# Against a server that is already running:   LOAD_URL=http://127.0.0.1:8000 make load
# Otherwise it starts a `make run-full`-style stack of its own (Daphne + Celery worker + beat
# on the services of var/services.env, demo data seeded) on a free loopback port, and stops
# it afterwards.
#
# Environment: LOAD_URL, LOAD_USERS (20, observers included), LOAD_OBSERVERS (5),
# LOAD_SPAWN_RATE (10 per s), LOAD_DURATION (60s), LOAD_USERNAME / LOAD_PASSWORD (demo),
# LOAD_ECOSYSTEM (id; default Harbor Town). Results: var/load/ (CSV, JSON summary, logs).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

LOAD_USERS="${LOAD_USERS:-20}"
LOAD_SPAWN_RATE="${LOAD_SPAWN_RATE:-10}"
LOAD_DURATION="${LOAD_DURATION:-60s}"
export LOAD_OBSERVERS="${LOAD_OBSERVERS:-5}"
OUT=var/load
mkdir -p "$OUT"
export LOAD_SUMMARY_JSON="$OUT/summary.json"
rm -f "$LOAD_SUMMARY_JSON"

server_pid=""
metrics_dir=""
# shellcheck disable=SC2317  # called through the trap
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        # The stack runs in its own process group (setsid): stop exactly that group.
        kill -TERM -- "-$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$server_pid" 2>/dev/null || true
    fi
    if [ -n "$metrics_dir" ]; then rm -rf "$metrics_dir"; fi
}
trap cleanup EXIT INT TERM

free_port() {
    "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -z "${LOAD_URL:-}" ]; then
    if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
        echo "error: no LOAD_URL and no full-stack environment; run 'make load' (it starts the services)" >&2
        exit 1
    fi
    port="$(free_port)"
    LOAD_URL="http://127.0.0.1:$port"
    echo "Starting a full stack on $LOAD_URL (logs: $OUT/server.log) ..."
    "$BIN/python" manage.py migrate --noinput -v 0
    "$BIN/python" manage.py install_graph_constraints >/dev/null
    "$BIN/python" manage.py seed_demo >/dev/null
    # Every process of the stack writes its metrics here, so /metrics shows them all.
    metrics_dir="$(mktemp -d -t ecosystem-metrics.XXXXXX)"
    PROMETHEUS_MULTIPROC_DIR="$metrics_dir" setsid scripts/run_full.sh "$port" \
        >"$OUT/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null "$LOAD_URL/api/v1/health" 2>/dev/null; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 30 "$OUT/server.log" >&2
            echo "error: the server exited during start-up" >&2
            exit 1
        fi
        sleep 0.5
    done
    curl -sS -o /dev/null "$LOAD_URL/api/v1/health" || { echo "error: $LOAD_URL does not answer" >&2; exit 1; }
fi

echo "locust: $LOAD_USERS users ($LOAD_OBSERVERS WebSocket observers), $LOAD_DURATION against $LOAD_URL"
"$BIN/locust" -f tests/load/locustfile.py --host "$LOAD_URL" --headless \
    -u "$LOAD_USERS" -r "$LOAD_SPAWN_RATE" -t "$LOAD_DURATION" --stop-timeout 5 \
    --csv "$OUT/locust" --only-summary --loglevel WARNING >"$OUT/locust.log" 2>&1 \
    && status=0 || status=$?
# locust exits 1 when any request failed; the table says which. Anything else is an error.
if [ ! -s "$LOAD_SUMMARY_JSON" ]; then
    tail -n 40 "$OUT/locust.log" >&2
    echo "error: locust produced no summary (exit $status)" >&2
    exit 1
fi
echo
"$BIN/python" tests/load/load_report.py "$LOAD_SUMMARY_JSON"
echo "(CSV: $OUT/locust_stats.csv, summary: $LOAD_SUMMARY_JSON)"
exit 0
