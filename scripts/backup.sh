#!/usr/bin/env bash
# make backup: one consistent dump of the PostgreSQL database to var/backups/<UTC time>.dump.
#
# pg_dump reads every table in one snapshot (a single REPEATABLE READ transaction), so the
# dump is consistent while the stack keeps running: an event, its interaction and the
# ecosystem's last_seq are either all in it or all not. Custom format (-Fc): compressed,
# restored table by table by scripts/restore.sh.
#
# PostgreSQL is the only state to back up. Neo4j (the relationship graph and the lore
# vector index) is rebuilt from PostgreSQL by restore.sh; Redis holds only the broker,
# the channel layer and caches (docs/operations.md, "Backups").
#
# Environment: DATABASE_URL (required; var/services.env), BACKUP_DIR (var/backups),
# PG_BIN (Debian's /usr/lib/postgresql/15/bin). Prints the path of the dump.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?DATABASE_URL is not set (set -a; . var/services.env; set +a)}"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BACKUP_DIR=${BACKUP_DIR:-var/backups}

mkdir -p "$BACKUP_DIR"
target="$BACKUP_DIR/$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

# Written under another name and renamed once complete: a .dump file is always whole.
"$PG_BIN/pg_dump" --format=custom --no-owner --no-privileges \
    --dbname="$DATABASE_URL" --file="$partial"
mv "$partial" "$target"
echo "$target"
