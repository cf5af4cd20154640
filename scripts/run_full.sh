#!/usr/bin/env bash
# Full stack in one terminal: a Celery worker and beat beside Daphne, all stopped together.
# Expects the environment of var/services.env (the Makefile's run-full loads it).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-${PORT:-8000}}"
BIN=.venv/bin
mkdir -p var/log var/run

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$BIN/celery" -A ecosystem_project worker -Q ecosystem --pool=threads -c 4 --loglevel=warning \
    >>var/log/celery-worker.log 2>&1 &
pids+=($!)
"$BIN/celery" -A ecosystem_project beat --loglevel=warning \
    --schedule var/run/celerybeat-schedule >>var/log/celery-beat.log 2>&1 &
pids+=($!)
echo "Celery worker and beat started (logs in var/log/)."
"$BIN/python" manage.py run_ecosystem --port "$PORT" --clock off &
pids+=($!)
wait -n
