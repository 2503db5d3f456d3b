#!/usr/bin/env bash
# The main job on a fresh machine: install, check (and fix, as root) the system, run the ladder.
# Arguments go to `ladder reproduce` (e.g. --profile quick, --only baseline,jemalloc).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
node bin/ladder.js doctor --fix
exec node bin/ladder.js reproduce "$@"
