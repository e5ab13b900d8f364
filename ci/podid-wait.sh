# Sourced by the CI scripts that start `podid serve` (ci/cli-test.sh,
# ci/xsdk/run.sh, ci/console/run.sh).
#
# wait_for_podid NAME LOG PID: waits up to 30 s for the podid serve with
# process PID, whose output goes to LOG, to print its URL and answer
# /healthz, and sets URL. If the server exits or stays unhealthy, it prints
# the log (without the admin secret) and exits 1; NAME prefixes the message.
wait_for_podid() {
  local name=$1 log=$2 pid=$3
  URL=""
  for _ in $(seq 1 300); do
    URL=$(sed -n 's/^podid serve: EKS API at \(http:[^ ]*\).*/\1/p' "$log" | head -n1)
    if [ -n "$URL" ] && python3 - "$URL/healthz" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: podid serve exited:" >&2
      grep -v SECRET_ACCESS_KEY "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name: podid serve did not become healthy within 30 s" >&2
  grep -v SECRET_ACCESS_KEY "$log" >&2
  exit 1
}
