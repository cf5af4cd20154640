#!/usr/bin/env bash
# Install Debian's Chromium and chromedriver for the browser tests (tests/e2e).
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright never
# downloads a browser of its own here: the tests launch /usr/bin/chromium.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser.sh: /usr/bin/chromium is missing and this user cannot run apt-get;" >&2
        echo "  install it with: apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
packages=(chromium chromium-driver fonts-liberation)
echo "Installing ${packages[*]} from Debian's packages ..."
if ! $SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"; then
    # The package lists are missing or stale on a fresh machine: refresh them once, retry.
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
fi
/usr/bin/chromium --version
