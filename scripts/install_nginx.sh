#!/usr/bin/env bash
# Install Debian's nginx for tests/platform/test_nginx_proxy.py, if it is not there yet.
# Idempotent; the package's service is not started (the test runs its own nginx on loopback).
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "nginx is missing; install it: sudo apt-get install -y nginx" >&2
    exit 1
fi

# Keep the package's postinst from starting a system nginx on port 80 (policy-rc.d 101 =
# "action not allowed"), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

log="$(mktemp)"
echo "installing nginx (apt-get)"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >"$log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "apt-get install nginx failed (log: $log)" >&2
        exit 1
    fi
fi
rm -f "$log"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
echo "nginx: $(/usr/sbin/nginx -v 2>&1)"
