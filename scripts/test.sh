#!/usr/bin/env bash
# The test command (`npm test`): sets up what the tests need, then runs every suite.
# Environments are cached outside the checkout (LADDER_CACHE_DIR, default ~/.cache/ladder).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
node bin/ladder.js envs provision
py=$(node bin/ladder.js envs python torch)

echo "== typecheck"
npx tsc --noEmit
echo "== python tests (worker side, in the torch environment)"
(cd python && "$py" -m pytest -q tests)
echo "== vitest (unit and integration)"
npx vitest run
