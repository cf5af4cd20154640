#!/usr/bin/env bash
# Type-check the observatory's JavaScript strictly: JSDoc types checked by TypeScript
# (`tsc --noEmit --checkJs --strict`, options in tsconfig.json). TypeScript is installed
# from the npm registry into var/npm-tsc, pinned by scripts/tsc/package-lock.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="$ROOT/var/npm-tsc"
TSC="$CACHE_DIR/node_modules/.bin/tsc"
if ! cmp -s "$ROOT/scripts/tsc/package-lock.json" "$CACHE_DIR/package-lock.json" || [[ ! -x "$TSC" ]]; then
    mkdir -p "$CACHE_DIR"
    cp "$ROOT/scripts/tsc/package.json" "$ROOT/scripts/tsc/package-lock.json" "$CACHE_DIR/"
    npm ci --prefix "$CACHE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
fi
cd "$ROOT"
"$TSC" --project tsconfig.json
echo "tsc: static/observatory/*.js type-check clean (strict)"
