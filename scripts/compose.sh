#!/usr/bin/env bash
# Runs Docker Compose with whichever command this machine has: the `docker compose` plugin or
# the standalone `docker-compose`. Usage: scripts/compose.sh [compose arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
elif command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose "$@"
fi
echo "error: neither 'docker compose' nor 'docker-compose' is installed: install the Compose plugin (Debian: apt-get install docker-compose-plugin or docker-compose)" >&2
exit 1
