#!/usr/bin/env bash
# The test command: vet, the Go test suite (PostgreSQL tests included when a
# server can be started or TEST_POSTGRES_DSN is set), the AWS CLI script, and
# the boto3 and JS SDK flows (ci/xsdk), the Terraform e2e (ci/terraform) and the web console's browser tests
# (ci/console: Debian's chromium, installed if absent) against the built binary.
# Run from anywhere: bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_POSTGRES_DSN:-}" ] && [ "${PODID_SKIP_POSTGRES:-}" != 1 ] && [ -f ci/postgres.sh ]; then
  # Installs PostgreSQL from Debian packages if needed and starts it on loopback.
  eval "$(bash ci/postgres.sh)"
fi
export TEST_POSTGRES_DSN="${TEST_POSTGRES_DSN:-}"

if [ -z "${PODID_KUBE_APISERVER:-}" ] && [ "${PODID_SKIP_KUBE:-}" != 1 ]; then
  echo "== kube-apiserver, kubectl and etcd (ci/kube-apiserver.sh)"
  # Assigned first so that a failed build stops the run (eval of an empty
  # string would succeed).
  kube_env=$(bash ci/kube-apiserver.sh)
  eval "$kube_env"
  # The binaries are there now: a Kubernetes test that cannot find them
  # fails instead of skipping.
  export PODID_KUBE_REQUIRED=1
fi

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 40m ./...
echo "== AWS CLI flows"
bash ci/cli-test.sh
echo "== boto3 and JS SDK flows"; bash ci/xsdk/run.sh
echo "== Terraform e2e (IAM, EKS, pod identity)"; bash ci/terraform/run.sh
echo "== web console in chromium (ci/console)"; bash ci/console/run.sh
