# Sourced by the CI scripts that start `podid serve` (ci/cli-test.sh, ci/iam-cli-test.sh,
# ci/xsdk/run.sh, ci/console/run.sh): building the binary, starting it,
# waiting for it, stopping processes.

# podid_bin NAME WORK: sets PODID_BIN (absolute) to the given binary, or
# builds one into WORK.
podid_bin() {
  local name=$1 work=$2
  if [ -z "${PODID_BIN:-}" ]; then
    echo "$name: building podid"
    go build -o "$work/podid" ./cmd/podid
    PODID_BIN="$work/podid"
  fi
  PODID_BIN=$(cd "$(dirname "$PODID_BIN")" && pwd)/$(basename "$PODID_BIN")
}

# start_podid_sigv4 NAME WORK [ARG...]: starts podid serve --auth sigv4
# (and ARGs, e.g. --iam off) on a loopback port the kernel picks, its data
# (admin keys, SQLite) in WORK/data and its output in WORK/server.log, and
# waits for it; sets server_pid, URL, data_dir and log.
start_podid_sigv4() {
  local name=$1 work=$2
  shift 2
  data_dir="$work/data"
  log="$work/server.log"
  "$PODID_BIN" serve --listen 127.0.0.1:0 --auth sigv4 --data-dir "$data_dir" --store "sqlite:$data_dir/podid.db" \
    --log-level warn "$@" >"$log" 2>&1 &
  server_pid=$!
  wait_for_podid "$name" "$log" "$server_pid"
}

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

# stop_pid PID: ends a process this script started (if still running) and
# reaps it.
stop_pid() {
  local pid=$1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
