#!/usr/bin/env bash
# make restore FILE=var/backups/<time>.dump: bring a dump of scripts/backup.sh back into the
# configured database, then rebuild what is derived from it.
#
# Stop the web processes, workers and beat first: the restore replaces every table the
# dump holds (pg_restore --clean --if-exists, in one transaction: it all happens or
# nothing does). Then Neo4j is rebuilt from the restored PostgreSQL: manage.py sync_graph
# --rebuild (the relationship graph), and the lore chunks' vectors are sent again by the
# lore reconcile (the beat runs it too). A graph that is absent does not fail the restore:
# the periodic reconcile catches up once Neo4j is back.
#
# Environment: DATABASE_URL (required), PG_BIN (Debian's /usr/lib/postgresql/15/bin),
# RESTORE_GRAPH_ARGS (extra sync_graph arguments, e.g. "--ecosystem ID"),
# RESTORE_SKIP_GRAPH=1 (no graph rebuild), PYTHON (.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

file=${1:?usage: scripts/restore.sh var/backups/<time>.dump}
[[ -f "$file" ]] || { echo "restore: no such file: $file" >&2; exit 2; }
: "${DATABASE_URL:?DATABASE_URL is not set (set -a; . var/services.env; set +a)}"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-.venv/bin/python}

"$PG_BIN/pg_restore" --clean --if-exists --no-owner --no-privileges \
    --single-transaction --exit-on-error --dbname="$DATABASE_URL" "$file"
echo "restore: $file restored into the configured database"

if [[ "${RESTORE_SKIP_GRAPH:-0}" == "1" || -z "${NEO4J_BOLT_URL:-}" ]]; then
    echo "restore: graph not rebuilt (no NEO4J_BOLT_URL or RESTORE_SKIP_GRAPH=1);" \
         "run manage.py sync_graph --rebuild when Neo4j is up"
    exit 0
fi
# One Python process for both steps (Django starts once). A step that fails is reported,
# not fatal: the data is back, and the reconcile catches the graph up once Neo4j answers.
"$PYTHON" manage.py shell -c '
import os, shlex
from django.core.management import call_command
try:
    call_command("sync_graph", "--rebuild", *shlex.split(os.environ.get("RESTORE_GRAPH_ARGS", "")))
except Exception as error:
    print(f"restore: graph rebuild failed ({error}); the reconcile catches up", flush=True)
try:
    from lore.graph import lore_sync_pending
    print("restore: lore chunks sent to the vector index:", lore_sync_pending(), flush=True)
except Exception as error:
    print(f"restore: lore vectors not sent ({error}); lore.graph_reconcile sends them", flush=True)
'
