#!/usr/bin/env bash
# Install the observatory's browser libraries from the npm registry and copy their dist
# files into static/vendor/ (gitignored). Called by `make vendor` (and so by `make run`
# and `make test`). The versions are pinned in scripts/vendor/package.json and its lock.
#
# Idempotent and offline when already done: the copy is stamped with the lock file's hash,
# so a second run with the same lock touches no network and takes milliseconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPEC_DIR="$ROOT/scripts/vendor"
CACHE_DIR="$ROOT/var/npm"
VENDOR_DIR="$ROOT/static/vendor"
STAMP="$VENDOR_DIR/.stamp"

# name in node_modules : file in its dist/ : name under static/vendor/
# (.js, not .mjs: every server maps .js to a JavaScript type, which module scripts need)
FILES=(
    "cytoscape:dist/cytoscape.esm.min.mjs:cytoscape.esm.min.js"
)

lock_hash="$(sha256sum "$SPEC_DIR/package.json" "$SPEC_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"

all_present() {
    local entry
    for entry in "${FILES[@]}"; do
        [[ -s "$VENDOR_DIR/${entry##*:}" ]] || return 1
    done
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$lock_hash" ]] && all_present; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "vendor.sh: npm is needed to install the observatory's graph library (cytoscape)." >&2
    echo "  On Debian: apt-get install -y npm" >&2
    exit 1
fi

mkdir -p "$CACHE_DIR" "$VENDOR_DIR"
cp "$SPEC_DIR/package.json" "$SPEC_DIR/package-lock.json" "$CACHE_DIR/"
echo "vendor.sh: installing browser libraries from the npm registry into var/npm ..."
npm ci --prefix "$CACHE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error

for entry in "${FILES[@]}"; do
    IFS=: read -r package source target <<<"$entry"
    cp "$CACHE_DIR/node_modules/$package/$source" "$VENDOR_DIR/$target"
    version="$(node -p "require('$CACHE_DIR/node_modules/$package/package.json').version" 2>/dev/null || echo '?')"
    echo "vendor.sh: static/vendor/$target ($package $version)"
done
echo "$lock_hash" >"$STAMP"
