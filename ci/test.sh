#!/usr/bin/env bash
# The test command: vet, the Go test suite (PostgreSQL tests included when a
# server can be started or TEST_POSTGRES_DSN is set), the AWS CLI script, and
# the boto3 and JS SDK flows (ci/xsdk), the Terraform e2e (ci/terraform) and the web console's browser tests
# (ci/console: Debian's chromium, installed if absent) against the built binary,
# and the short performance regression check (ci/bench-check.sh).
# Run from anywhere: bash ci/test.sh
#
# Output is results only: the setup steps' progress (package installs,
# initdb, the kube-apiserver build) goes to a log that is printed when a step
# fails; go test's "ok"/"FAIL" summary lines stay (its "[no test files]" lines
# go). A PostgreSQL this script started is stopped when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

setup_log=$(mktemp -t podid-ci-setup.XXXXXX)
pg_started=0
cleanup() {
  if [ "$pg_started" = 1 ]; then
    bash ci/postgres.sh --stop >>"$setup_log" 2>&1 || echo "ci/test.sh: stopping PostgreSQL failed; see $setup_log" >&2
  fi
  if [ -z "${PODID_KEEP_SETUP_LOG:-}" ]; then rm -f "$setup_log"; fi
}
trap cleanup EXIT

# setup runs a setup step quietly: its stdout is the step's result, its
# stderr goes to the log, shown if the step fails.
setup() {
  local out
  if ! out=$("$@" 2>>"$setup_log"); then
    echo "ci/test.sh: $* failed:" >&2
    cat "$setup_log" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

if [ -z "${TEST_POSTGRES_DSN:-}" ] && [ "${PODID_SKIP_POSTGRES:-}" != 1 ] && [ -f ci/postgres.sh ]; then
  # Installs PostgreSQL from Debian packages if needed and starts it on
  # loopback; one that was already running is left running.
  before=$(wc -l <"$setup_log")
  pg_env=$(setup bash ci/postgres.sh)
  if ! tail -n +"$((before + 1))" "$setup_log" | grep -q "already running"; then
    pg_started=1
  fi
  eval "$pg_env"
fi
export TEST_POSTGRES_DSN="${TEST_POSTGRES_DSN:-}"

if [ -z "${PODID_KUBE_APISERVER:-}" ] && [ "${PODID_SKIP_KUBE:-}" != 1 ]; then
  # Assigned first so that a failed build stops the run (eval of an empty
  # string would succeed).
  kube_env=$(setup bash ci/kube-apiserver.sh)
  eval "$kube_env"
  # The binaries are there now: a Kubernetes test that cannot find them
  # fails instead of skipping.
  export PODID_KUBE_REQUIRED=1
fi

# eksctl (internal/e2e TestEksctl) is built from its Go module: about 14
# CPU-minutes more on top of kube-apiserver's 21, so a fresh machine builds
# it only when PODID_EKSCTL_BUILD=1; a binary ci/eksctl.sh cached earlier
# is always used (the test skips without one).
eksctl_cached="${PODID_EKSCTL_CACHE:-/var/cache/podid-eksctl}/${PODID_EKSCTL_VERSION:-v0.215.0}/eksctl"
if [ -z "${PODID_EKSCTL:-}" ] && [ "${PODID_SKIP_EKSCTL:-}" != 1 ] &&
  { [ "${PODID_EKSCTL_BUILD:-}" = 1 ] || [ -x "$eksctl_cached" ]; }; then
  eksctl_env=$(setup bash ci/eksctl.sh)
  eval "$eksctl_env"
  export PODID_EKSCTL_REQUIRED=1
fi

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 40m ./... 2>&1 | { grep -v -e '\[no test files\]$' || true; }
echo "== AWS CLI flows"
bash ci/cli-test.sh
echo "== AWS CLI: IAM"
bash ci/iam-cli-test.sh
echo "== boto3 and JS SDK flows"; bash ci/xsdk/run.sh
echo "== Terraform e2e (IAM, EKS, pod identity)"; bash ci/terraform/run.sh
echo "== web console in chromium (ci/console)"; bash ci/console/run.sh
echo "== performance regression check (ci/bench-check.sh)"; bash ci/bench-check.sh
