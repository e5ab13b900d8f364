#!/usr/bin/env bash
# Browser tests of the web console: starts `podid serve --auth sigv4` on
# loopback and drives its /console/ in Debian's chromium through
# playwright-core (ci/console/console.test.mjs, node's test runner), after the
# unit tests of the console's modules (ci/console/unit.test.mjs).
# Screenshots of each page go to ci/console/out/ (ignored by git; or
# PODID_CONSOLE_OUT).
#
# Usage (from the repository root): bash ci/console/run.sh
# PODID_BIN=/path/to/podid uses a built binary instead of building one.
# Needs: go (unless PODID_BIN is set), node >= 20 and npm, and chromium,
# which this script installs from Debian's packages when it is missing
# (playwright's own browser downloads do not work here: it drives the
# system's chromium).
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/podid-serve.sh

work=$(mktemp -d)
server_pid=""
cleanup() {
  stop_pid "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ]; then
  echo "console: installing chromium from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$work/apt.out" 2>&1 && apt-get install -y -qq chromium >>"$work/apt.out" 2>&1 ||
    { cat "$work/apt.out" >&2; echo "console: could not install chromium" >&2; exit 1; }
  chromium=$(command -v chromium)
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "console: $tool is needed" >&2; exit 1; }
done

podid_bin console "$work"

start_podid_sigv4 console "$work"

(cd ci/console && timeout 180 npm ci --no-audit --no-fund --loglevel=error >"$work/npm.out" 2>&1) ||
  { cat "$work/npm.out" >&2; echo "console: npm ci in ci/console failed" >&2; exit 1; }

out=${PODID_CONSOLE_OUT:-ci/console/out}
rm -rf "$out"
mkdir -p "$out"
rc=0
PODID_URL="$URL" PODID_DATA_DIR="$data_dir" PODID_CONSOLE_OUT="$(cd "$out" && pwd)" CHROMIUM="$chromium" \
  timeout --kill-after=10 300 node --test --test-concurrency=1 ci/console/unit.test.mjs ci/console/console.test.mjs || rc=$?
echo "console: screenshots in $out/"
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "console: podid serve exited during the tests:" >&2
  cat "$log" >&2
  rc=1
fi
if [ "$rc" -ne 0 ]; then
  echo "console: server log:" >&2
  grep -v SECRET_ACCESS_KEY "$log" | tail -n 50 >&2
fi
exit "$rc"
