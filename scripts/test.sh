#!/usr/bin/env bash
# The test command (`npm test`): sets up what the tests need, then runs every suite.
# Environments are cached outside the checkout (LADDER_CACHE_DIR, default ~/.cache/ladder).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# System packages: allocator libraries (via doctor), and Chromium + DejaVu fonts for the report test.
apt_need=()
[ -x /usr/bin/chromium ] || apt_need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_need+=(fonts-dejavu-core)
if [ ${#apt_need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${apt_need[@]}"
  else echo "the tests need: sudo apt-get install -y ${apt_need[*]}" >&2; exit 1; fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
node bin/ladder.js doctor --fix
node bin/ladder.js envs provision
py=$(node bin/ladder.js envs python torch)

echo "== typecheck"
npx tsc --noEmit
echo "== python tests (worker side, in the torch environment)"
(cd python && "$py" -m pytest -q tests)
echo "== vitest (unit and integration)"
npx vitest run
