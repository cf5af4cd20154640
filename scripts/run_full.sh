#!/usr/bin/env bash
# Full stack in one terminal: Celery workers and beat beside Daphne, all stopped together.
# Expects the environment of var/services.env (the Makefile's run-full loads it).
#
#   scripts/run_full.sh [PORT]                      one Daphne on PORT, one worker, beat
#   WEB_PROCESSES=3 WORKERS=2 scripts/run_full.sh   nginx on PORT in front of three Daphne
#                                                   processes on PORT+1..PORT+3, two workers
#
# With WEB_PROCESSES > 1, nginx (Debian's; scripts/install_nginx.sh) runs with the project's
# docker/nginx/nginx.conf and templates/ecosystem.conf.template, rendered under
# var/run/nginx/ with one upstream `server` line per Daphne process, and serves /static/
# from var/staticfiles (collectstatic). docs/operations.md, "More than one process".
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-${PORT:-8000}}"
WEB_PROCESSES="${WEB_PROCESSES:-1}"
WORKERS="${WORKERS:-1}"
BIN=.venv/bin
ROOT="$(pwd)"
mkdir -p var/log var/run

case "$WEB_PROCESSES$WORKERS" in *[!0-9]*) echo "WEB_PROCESSES and WORKERS are counts" >&2; exit 2 ;; esac
[ "$WEB_PROCESSES" -ge 1 ] && [ "$WORKERS" -ge 1 ] || { echo "WEB_PROCESSES, WORKERS >= 1" >&2; exit 2; }

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for index in $(seq 1 "$WORKERS"); do
    "$BIN/celery" -A ecosystem_project worker -Q ecosystem --pool=threads -c 4 --loglevel=warning \
        -n "worker$index@%h" >>"var/log/celery-worker-$index.log" 2>&1 &
    pids+=($!)
done
"$BIN/celery" -A ecosystem_project beat --loglevel=warning \
    --schedule var/run/celerybeat-schedule >>var/log/celery-beat.log 2>&1 &
pids+=($!)
echo "$WORKERS Celery worker(s) and beat started (logs in var/log/)."

if [ "$WEB_PROCESSES" -eq 1 ]; then
    "$BIN/python" manage.py run_ecosystem --port "$PORT" --clock off &
    pids+=($!)
    wait -n
    exit
fi

# Several web processes: Daphne on consecutive ports behind nginx on PORT.
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || scripts/install_nginx.sh
"$BIN/python" manage.py collectstatic --noinput -v 0
upstream=""
for index in $(seq 1 "$WEB_PROCESSES"); do
    web_port=$((PORT + index))
    "$BIN/python" manage.py run_ecosystem --port "$web_port" --clock off \
        >>"var/log/web-$index.log" 2>&1 &
    pids+=($!)
    upstream+="${upstream:+; server }127.0.0.1:$web_port"
done

NGINX_DIR="$ROOT/var/run/nginx"
mkdir -p "$NGINX_DIR/conf/conf.d"
cp docker/nginx/nginx.conf "$NGINX_DIR/conf/nginx.conf"
cp /etc/nginx/mime.types "$NGINX_DIR/conf/mime.types"
# The template's one `server ${NGINX_UPSTREAM};` line becomes one server per process.
sed -e "s|\${NGINX_LISTEN}|127.0.0.1:$PORT|" -e "s|\${NGINX_UPSTREAM}|$upstream|" \
    -e "s|\${NGINX_STATIC_ROOT}|$ROOT/var/staticfiles|" \
    -e "s|\${NGINX_ACCESS_LOG}|$ROOT/var/log/nginx-access.log|" \
    docker/nginx/templates/ecosystem.conf.template >"$NGINX_DIR/conf/conf.d/ecosystem.conf"
for directive in client_body proxy fastcgi uwsgi scgi; do
    echo "${directive}_temp_path $NGINX_DIR/$directive;"
done >"$NGINX_DIR/conf/conf.d/ecosystem-local-paths.conf"
nginx_args=(-p "$NGINX_DIR" -c "$NGINX_DIR/conf/nginx.conf" -e "$ROOT/var/log/nginx-error.log"
    -g "daemon off; pid $NGINX_DIR/nginx.pid; error_log $ROOT/var/log/nginx-error.log warn;")
"$NGINX" "${nginx_args[@]}" -t -q
"$NGINX" "${nginx_args[@]}" &
pids+=($!)
echo "nginx on http://127.0.0.1:$PORT/ in front of $WEB_PROCESSES Daphne processes" \
    "(127.0.0.1:$((PORT + 1))..$((PORT + WEB_PROCESSES)); logs var/log/web-N.log)."
wait -n
