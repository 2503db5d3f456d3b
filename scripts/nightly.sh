#!/usr/bin/env bash
# One nightly run of the ladder into results/history/<machine-id>/, judged against the recent nights.
# For cron, a systemd timer or a CI runner: see docs/nightly.md. Arguments go to `ladder nightly`
# (e.g. --profile quick, --resume, --markdown, --only baseline,jemalloc).
#
# Exit codes:
#   0   nothing regressed
#   10  a rung regressed (against the pooled passes of the last nights)
#   1   a rung or the run failed
#   2   bad input (an unknown option, profile or rung)
#   3   another nightly run holds the machine's lock
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
exec node bin/ladder.js nightly "$@"
