#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing, so that `make test` and
# `make bench` work on a fresh machine. The tests start their own servers.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing redis-server and redis-tools (Debian packages)..."
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq redis-server redis-tools >/dev/null
# Debian starts a system service on install; the tests use their own servers.
$sudo service redis-server stop >/dev/null 2>&1 || true
command -v redis-server >/dev/null
