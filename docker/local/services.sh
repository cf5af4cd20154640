#!/usr/bin/env bash
# Start/stop the full-stack backing services WITHOUT Docker, on loopback only:
#   PostgreSQL 15 (Debian's binaries, a cluster of our own under var/postgres),
#   Redis (Debian's redis-server, our own pidfile-managed instance),
#   Neo4j Community 5 (embedded via docker/neo4j-launcher, built with Maven).
#
# Usage: docker/local/services.sh [start|stop|status|start-neo4j|stop-neo4j]
#
# Everything lives under the repository's var/ directory. `start` is idempotent and
# writes var/services.env (DATABASE_URL, REDIS_URL, NEO4J_BOLT_URL).
#
# Environment overrides: PG_PORT (5433), REDIS_PORT (6379), NEO4J_BOLT_PORT (7687),
# NEO4J_HEAP (1g), NEO4J_PAGECACHE_MB (256), NEO4J_START_TIMEOUT (180 s),
# PG_OS_USER (postgres; the non-root user that owns the cluster when run as root).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
VAR="$REPO_ROOT/var"
RUN_DIR="$VAR/run"
LOG_DIR="$VAR/log"

# Ports chosen at the last `start` are remembered, so `status`/`stop` without the same
# environment still talk to the right instances. The environment wins when set.
PORTS_FILE="$RUN_DIR/ports.env"
if [ -r "$PORTS_FILE" ]; then
    while IFS='=' read -r key value; do
        case "$key" in
            PG_PORT|REDIS_PORT|NEO4J_BOLT_PORT)
                [ -n "${!key:-}" ] || printf -v "$key" '%s' "$value" ;;
        esac
    done <"$PORTS_FILE"
fi
PG_PORT="${PG_PORT:-5433}"
REDIS_PORT="${REDIS_PORT:-6379}"
NEO4J_BOLT_PORT="${NEO4J_BOLT_PORT:-7687}"
NEO4J_HEAP="${NEO4J_HEAP:-1g}"
NEO4J_PAGECACHE_MB="${NEO4J_PAGECACHE_MB:-256}"
NEO4J_START_TIMEOUT="${NEO4J_START_TIMEOUT:-180}"
HOST=127.0.0.1

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_OS_USER="${PG_OS_USER:-postgres}"
# The cluster lives under var/ unless the non-root cluster owner cannot reach it (a clone
# under a private directory such as /root): then under /var/tmp, one per clone path. A
# cluster already made for this clone stays where it is, even if var/ became reachable
# since (or stopped being): two clusters would compete for one port.
mkdir -p "$VAR"  # judged below as it will be, not as a missing folder
PG_HOME="$VAR"
PG_TMP_HOME="/var/tmp/character-ecosystem-$(printf '%s' "$REPO_ROOT" | md5sum | cut -c1-12)"
if [ ! -f "$VAR/postgres/PG_VERSION" ]; then
    if [ -f "$PG_TMP_HOME/postgres/PG_VERSION" ] || { [ "$(id -u)" -eq 0 ] \
        && id -u "$PG_OS_USER" >/dev/null 2>&1 \
        && ! runuser -u "$PG_OS_USER" -- test -x "$VAR" 2>/dev/null; }; then
        PG_HOME="$PG_TMP_HOME"
    fi
fi
PG_DATA="$PG_HOME/postgres"
PG_SOCKET_DIR="$PG_HOME/run/postgres"
PG_LOG="$PG_HOME/log/postgres.log"
PG_DB=ecosystem
PG_ROLE=ecosystem
PG_PASSWORD=ecosystem

REDIS_DIR="$VAR/redis"
REDIS_PIDFILE="$RUN_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"

LAUNCHER_DIR="$REPO_ROOT/docker/neo4j-launcher"
LAUNCHER_JAR="$LAUNCHER_DIR/target/neo4j-launcher.jar"
NEO4J_HOME="$VAR/neo4j"
NEO4J_PIDFILE="$VAR/neo4j.pid"
NEO4J_LOG="$LOG_DIR/neo4j.log"
NEO4J_BUILD_LOG="$LOG_DIR/neo4j-launcher-build.log"

VENV_PY="$REPO_ROOT/.venv/bin/python"
ENV_FILE="$VAR/services.env"

DATABASE_URL="postgres://$PG_ROLE:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB"
REDIS_URL="redis://$HOST:$REDIS_PORT/0"
# Auth is disabled on the local Neo4j: any credentials are accepted; neomodel wants some.
NEO4J_BOLT_URL="bolt://neo4j:neo4j@$HOST:$NEO4J_BOLT_PORT"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------- helpers

is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
    # apt_install PACKAGE... — only used when a required tool is missing.
    is_root || die "missing packages ($*); install them: sudo apt-get install -y $*"
    say "installing $* (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$LOG_DIR/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$LOG_DIR/apt.log" 2>&1 \
            || die "apt-get install $* failed, see $LOG_DIR/apt.log"
    fi
}

# Is something listening on HOST:PORT (TCP)?
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Is PID alive and its command line contains PATTERN?
pid_matches() {
    local pid="$1" pattern="$2"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

read_pid() {
    if [ -s "$1" ]; then tr -dc '0-9' <"$1" 2>/dev/null || true; fi
}

# wait_for SECONDS DESCRIPTION COMMAND... — poll COMMAND every 0.5 s (DESCRIPTION only
# documents the call site).
wait_for() {
    local timeout="$1"; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.5
    done
}

# Run a command as the PostgreSQL cluster owner (postgres refuses to run as root).
as_pg() {
    if is_root; then
        runuser -u "$PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_dirs() {
    mkdir -p "$VAR" "$RUN_DIR" "$LOG_DIR"
}

# --------------------------------------------------------------------------- PostgreSQL

pg_running() {
    [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2
}

pg_psql() {
    # SQL as the cluster superuser over our own unix socket (trust auth).
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_prepare() {
    if [ ! -x "$PG_BIN/initdb" ]; then
        apt_install postgresql-15
        [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 binaries not found in $PG_BIN"
    fi
    if is_root; then
        if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
            useradd --system --user-group --home-dir /nonexistent --no-create-home \
                --shell /usr/sbin/nologin "$PG_OS_USER"
        fi
        if [ "$PG_HOME" = "$VAR" ] && ! runuser -u "$PG_OS_USER" -- test -x "$VAR"; then
            # First run on a fresh machine (the user was just created): re-exec to re-plan.
            exec "$0" start
        fi
    fi
    mkdir -p "$PG_DATA" "$PG_SOCKET_DIR" "$(dirname "$PG_LOG")"
    touch "$PG_LOG"
    if is_root; then
        chown "$PG_OS_USER:" "$PG_DATA" "$PG_SOCKET_DIR" "$PG_LOG"
    fi
    chmod 700 "$PG_DATA"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "postgres: initialising cluster in var/postgres"
        if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=trust --auth-host=scram-sha-256 >"$LOG_DIR/initdb.log" 2>&1; then
            die "initdb failed, see $LOG_DIR/initdb.log"
        fi
        printf "\n# Local settings written by docker/local/services.sh\ninclude_if_exists = 'ecosystem.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
    # Regenerated each start so PG_PORT / paths follow the environment and the clone path.
    cat >"$PG_DATA/ecosystem.conf" <<EOF
# Generated by docker/local/services.sh — do not edit, it is rewritten on every start.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 200
shared_buffers = 128MB
synchronous_commit = off
log_min_messages = warning
EOF
    if is_root; then
        chown "$PG_OS_USER:" "$PG_DATA/ecosystem.conf"
    fi
}

pg_provision() {
    pg_psql <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
        CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    ELSE
        ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SQL
    if [ "$(pg_psql -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
        pg_psql -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE ENCODING 'UTF8' TEMPLATE template0"
    fi
}

pg_start() {
    if pg_running; then
        wait_for 30 postgres pg_ready || die "postgres: running but not answering on $HOST:$PG_PORT"
        pg_provision
        say "postgres: already running on $HOST:$PG_PORT"
        return
    fi
    pg_prepare
    if port_open "$PG_PORT"; then
        die "postgres: port $HOST:$PG_PORT is taken by another process (set PG_PORT)"
    fi
    # 9>&-: daemons must not inherit the lock descriptor (see with_lock).
    if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s >/dev/null 2>&1 9>&-; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "postgres: failed to start, see $PG_LOG"
    fi
    wait_for 30 postgres pg_ready || die "postgres: started but not answering on $HOST:$PG_PORT"
    pg_provision
    say "postgres: started on $HOST:$PG_PORT"
}

pg_stop() {
    if pg_running; then
        as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s
        say "postgres: stopped"
    else
        say "postgres: not running"
    fi
}

pg_status() {
    if pg_running && pg_ready; then
        say "postgres: running on $HOST:$PG_PORT (var/postgres)"
    else
        say "postgres: stopped"
        return 1
    fi
}

# --------------------------------------------------------------------------- Redis

redis_ping() {
    [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

redis_ours() {
    # Our pidfile names a live redis-server, and it is the one answering on REDIS_PORT.
    local pid
    pid="$(read_pid "$REDIS_PIDFILE")"
    pid_matches "$pid" "redis-server" || return 1
    redis-cli -h "$HOST" -p "$REDIS_PORT" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"
}

redis_start() {
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server redis-tools
    fi
    if redis_ours; then
        say "redis: already running on $HOST:$REDIS_PORT"
        return
    fi
    if redis_ping; then
        say "redis: another instance already answers on $HOST:$REDIS_PORT (not ours), using it"
        return
    fi
    if port_open "$REDIS_PORT"; then
        die "redis: port $HOST:$REDIS_PORT is taken by a non-redis process (set REDIS_PORT)"
    fi
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_PIDFILE"
    redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
        --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
        --dir "$REDIS_DIR" --save "" --appendonly no >/dev/null 9>&-
    wait_for 20 redis redis_ping || die "redis: did not answer on $HOST:$REDIS_PORT, see $REDIS_LOG"
    say "redis: started on $HOST:$REDIS_PORT"
}

redis_stop() {
    if redis_ours; then
        local pid
        pid="$(read_pid "$REDIS_PIDFILE")"
        redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 20))
        while kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -lt "$deadline" ] || { kill -9 "$pid" 2>/dev/null || true; break; }
            sleep 0.2
        done
        rm -f "$REDIS_PIDFILE"
        say "redis: stopped"
    elif redis_ping; then
        say "redis: not ours (another instance on $HOST:$REDIS_PORT), left alone"
    else
        rm -f "$REDIS_PIDFILE"
        say "redis: not running"
    fi
}

redis_status() {
    if redis_ours; then
        say "redis: running on $HOST:$REDIS_PORT (pid $(read_pid "$REDIS_PIDFILE"))"
    elif redis_ping; then
        say "redis: another instance answers on $HOST:$REDIS_PORT (not ours)"
    else
        say "redis: stopped"
        return 1
    fi
}

# --------------------------------------------------------------------------- Neo4j

neo4j_pid() {
    local pid
    pid="$(read_pid "$NEO4J_PIDFILE")"
    if pid_matches "$pid" "neo4j-launcher.jar $NEO4J_HOME"; then
        printf '%s' "$pid"
    fi
}

neo4j_bolt_query() {
    # A real Bolt round trip. Falls back to a TCP probe when the venv/driver is not there yet.
    port_open "$NEO4J_BOLT_PORT" || return 1
    if [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import neo4j' >/dev/null 2>&1; then
        "$VENV_PY" - "$HOST" "$NEO4J_BOLT_PORT" <<'PY'
import sys
from neo4j import GraphDatabase
host, port = sys.argv[1], sys.argv[2]
with GraphDatabase.driver(f"bolt://{host}:{port}", auth=("neo4j", "neo4j"), connection_timeout=5) as driver:
    records, _, _ = driver.execute_query("RETURN 1 AS ok")
    assert records[0]["ok"] == 1
PY
    fi
}

neo4j_build() {
    command -v java >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
    if [ -s "$LAUNCHER_JAR" ] && [ -d "$LAUNCHER_DIR/target/lib" ] \
        && [ -z "$(find "$LAUNCHER_DIR/pom.xml" "$LAUNCHER_DIR/src" -newer "$LAUNCHER_JAR" -print -quit)" ]; then
        return
    fi
    command -v mvn >/dev/null 2>&1 || apt_install maven
    say "neo4j: building launcher with Maven (first run downloads Neo4j from Maven Central; log var/log/$(basename "$NEO4J_BUILD_LOG"))"
    local t0=$SECONDS
    if ! (cd "$LAUNCHER_DIR" && mvn -q -B -Dstyle.color=never package) >"$NEO4J_BUILD_LOG" 2>&1; then
        tail -n 30 "$NEO4J_BUILD_LOG" >&2 || true
        die "neo4j: Maven build failed, see $NEO4J_BUILD_LOG"
    fi
    # The jar is rebuilt only when pom.xml or sources change; touch it so a no-op build still counts.
    touch "$LAUNCHER_JAR"
    say "neo4j: launcher built in $((SECONDS - t0)) s"
}

neo4j_start() {
    ensure_dirs
    local pid
    pid="$(neo4j_pid)"
    if [ -n "$pid" ]; then
        if wait_for "$NEO4J_START_TIMEOUT" neo4j neo4j_bolt_query; then
            say "neo4j: already running on $HOST:$NEO4J_BOLT_PORT"
            return
        fi
        die "neo4j: process $pid is running but Bolt does not answer on $HOST:$NEO4J_BOLT_PORT, see $NEO4J_LOG"
    fi
    rm -f "$NEO4J_PIDFILE"
    if port_open "$NEO4J_BOLT_PORT"; then
        die "neo4j: port $HOST:$NEO4J_BOLT_PORT is taken by another process (set NEO4J_BOLT_PORT)"
    fi
    neo4j_build
    mkdir -p "$NEO4J_HOME"
    local t0=$SECONDS
    # setsid: own session, so a Ctrl-C in the shell that ran `make services` does not reach it.
    # The launcher writes its own pid to the pid file (correct even if setsid forks).
    {
        printf '\n==== %s starting neo4j-launcher\n' "$(date -Is)"
    } >>"$NEO4J_LOG"
    nohup setsid java \
        -Xms256m "-Xmx$NEO4J_HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
        -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC -Djdk.nio.maxCachedBufferSize=1024 \
        -Dio.netty.tryReflectionSetAccessible=true -Dlog4j2.disable.jmx=true \
        --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        "-Dlauncher.bolt.host=$HOST" "-Dlauncher.bolt.port=$NEO4J_BOLT_PORT" \
        "-Dlauncher.pagecache.mb=$NEO4J_PAGECACHE_MB" "-Dlauncher.pidfile=$NEO4J_PIDFILE" \
        -jar "$LAUNCHER_JAR" "$NEO4J_HOME" \
        </dev/null >>"$NEO4J_LOG" 2>&1 9>&- &
    local launched=$!
    # Until the JVM writes its own pid, record the one we know.
    [ -s "$NEO4J_PIDFILE" ] || printf '%s\n' "$launched" >"$NEO4J_PIDFILE"
    local deadline=$((SECONDS + NEO4J_START_TIMEOUT))
    until neo4j_bolt_query >/dev/null 2>&1; do
        if [ -z "$(neo4j_pid)" ] && ! kill -0 "$launched" 2>/dev/null; then
            tail -n 30 "$NEO4J_LOG" >&2 || true
            die "neo4j: launcher exited during start-up, see $NEO4J_LOG"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "neo4j: no Bolt answer on $HOST:$NEO4J_BOLT_PORT after ${NEO4J_START_TIMEOUT}s, see $NEO4J_LOG"
        fi
        sleep 1
    done
    say "neo4j: started on $HOST:$NEO4J_BOLT_PORT in $((SECONDS - t0)) s"
}

neo4j_stop() {
    local pid
    pid="$(neo4j_pid)"
    if [ -z "$pid" ]; then
        rm -f "$NEO4J_PIDFILE"
        say "neo4j: not running"
        return
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "neo4j: did not stop within 60 s, killing"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    # Bolt port must be free before a following start-neo4j.
    wait_for 10 neo4j-port bash -c "! (exec 3<>/dev/tcp/$HOST/$NEO4J_BOLT_PORT)" || true
    rm -f "$NEO4J_PIDFILE"
    say "neo4j: stopped"
}

neo4j_status() {
    local pid
    pid="$(neo4j_pid)"
    if [ -n "$pid" ] && neo4j_bolt_query >/dev/null 2>&1; then
        local rss
        rss="$(awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || true)"
        say "neo4j: running on $HOST:$NEO4J_BOLT_PORT (pid $pid, RSS $rss)"
    elif [ -n "$pid" ]; then
        say "neo4j: starting or unresponsive (pid $pid)"
        return 1
    else
        say "neo4j: stopped"
        return 1
    fi
}

# --------------------------------------------------------------------------- env file

save_ports() {
    printf 'PG_PORT=%s\nREDIS_PORT=%s\nNEO4J_BOLT_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" "$NEO4J_BOLT_PORT" >"$PORTS_FILE"
}

write_env() {
    local tmp="$ENV_FILE.tmp.$$"
    cat >"$tmp" <<EOF
# Written by docker/local/services.sh start — full-stack mode on loopback.
# Use: set -a; . var/services.env; set +a
DATABASE_URL=$DATABASE_URL
REDIS_URL=$REDIS_URL
NEO4J_BOLT_URL=$NEO4J_BOLT_URL
EOF
    mv -f "$tmp" "$ENV_FILE"
    say "env: wrote var/services.env"
}

# --------------------------------------------------------------------------- main

with_lock() {
    # Serialise concurrent invocations (two `make services` at once). Every daemon is
    # started with 9>&- so the lock is released when this script exits.
    ensure_dirs
    exec 9>"$RUN_DIR/services.lock"
    flock 9
}

cmd="${1:-start}"
case "$cmd" in
    start)
        with_lock
        save_ports
        pg_start
        redis_start
        neo4j_start
        write_env
        ;;
    stop)
        with_lock
        neo4j_stop
        redis_stop
        pg_stop
        ;;
    status)
        ensure_dirs
        rc=0
        pg_status || rc=1
        redis_status || rc=1
        neo4j_status || rc=1
        exit "$rc"
        ;;
    start-neo4j)
        with_lock
        neo4j_start
        ;;
    stop-neo4j)
        with_lock
        neo4j_stop
        ;;
    restart)
        "$0" stop
        exec "$0" start
        ;;
    -h|--help|help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        die "unknown command '$cmd' (start|stop|status|start-neo4j|stop-neo4j|restart)"
        ;;
esac
