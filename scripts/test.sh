#!/usr/bin/env bash
# The test command (`npm test`): sets up what the tests need, then runs every suite.
# Environments are cached outside the checkout (LADDER_CACHE_DIR, default ~/.cache/ladder).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# System packages: allocator libraries (via doctor), Chromium + DejaVu fonts for the report tests.
apt_need=()
[ -x /usr/bin/chromium ] || apt_need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_need+=(fonts-dejavu-core)
# A real Slurm for the fleet test (scripts/slurm-testbed.sh), its nodes in network namespaces.
for t in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge ip:iproute2; do
  command -v "${t%%:*}" >/dev/null || [ -x "/usr/sbin/${t%%:*}" ] || apt_need+=("${t#*:}")
done
if [ ${#apt_need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${apt_need[@]}"
  else echo "the tests need: sudo apt-get install -y ${apt_need[*]}" >&2; exit 1; fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
node bin/ladder.js doctor --fix
node bin/ladder.js envs provision
py=$(node bin/ladder.js envs python torch)

# The static checks and the Python tests are mostly one thread each: they run beside vitest (whose real
# tier leaves a core idle at times) with their output kept apart and printed after it, so the suite takes
# about as long as vitest alone. No verdict of either depends on timing.
checks_log=$(mktemp)
(
  set -e
  echo "== typecheck, lint and format (TypeScript)"
  npx tsc --noEmit
  npx biome check
  echo "== python lint and tests (worker side: tools in a venv apart, tests in the torch environment)"
  # ruff and pytest (python/requirements-dev.txt) never enter a measured environment: they live in a tools
  # venv made from the torch environment's base Python, keyed like envs/ by the file and the Python version,
  # its marker written last. pytest then runs with the torch environment's Python, the tools' site-packages
  # appended to sys.path (after the environment's own, so its packages always win).
  dev_req=python/requirements-dev.txt
  py_version=$("$py" -c 'import platform, sys; print(platform.python_version(), sys.platform, platform.machine())')
  tools_key=$({ printf 'python %s\nrequirements-dev.txt\n' "$py_version"; cat "$dev_req"; } | sha256sum | cut -c1-12)
  tools="${LADDER_CACHE_DIR:-$HOME/.cache/ladder}/tools-$tools_key"
  if [ ! -e "$tools/.ladder-tools" ]; then
    mkdir -p "$(dirname "$tools")"
    (
      flock 9
      if [ ! -e "$tools/.ladder-tools" ]; then  # another run may have built it while we waited
        echo "provisioning the tools venv in $tools"
        rm -rf "$tools"
        "$py" -m venv "$tools"
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$tools/bin/python" -m pip install -q -r "$dev_req"
        { echo "key $tools_key, python $py_version"; "$tools/bin/python" -m pip freeze; } >"$tools/.ladder-tools.tmp"
        mv "$tools/.ladder-tools.tmp" "$tools/.ladder-tools"
      fi
    ) 9>"$tools.lock"
  fi
  "$tools/bin/ruff" check python
  "$tools/bin/ruff" format --check python
  tools_site=$("$tools/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  (cd python && "$py" -c 'import sys; sys.path.append(sys.argv.pop(1)); import pytest; sys.exit(pytest.main(sys.argv[1:]))' \
    "$tools_site" -q tests)
) >"$checks_log" 2>&1 &
checks=$!
trap 'kill "$checks" 2>/dev/null || true; rm -f "$checks_log"' EXIT
echo "== vitest (tiers: unit, mock, faults, real), the static checks and Python tests beside it"
vitest_rc=0
npx vitest run || vitest_rc=$?
checks_rc=0
wait "$checks" || checks_rc=$?
echo "== typecheck, lint, format, Python lint and tests (run beside vitest)"
cat "$checks_log"
[ "$vitest_rc" = 0 ] || { echo "vitest failed (exit $vitest_rc)" >&2; exit "$vitest_rc"; }
[ "$checks_rc" = 0 ] || { echo "the static checks or Python tests failed (exit $checks_rc)" >&2; exit "$checks_rc"; }
echo "== vitest (machine tier: a cgroup slows the machine on purpose; run alone)"
npx vitest run --config vitest.machine.config.ts
