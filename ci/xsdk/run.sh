#!/usr/bin/env bash
# Cross-SDK flows: drives `podid serve --auth sigv4` through boto3
# (ci/xsdk/boto3_flows.py; IAM in ci/xsdk/boto3_iam.py; CloudTrail LookupEvents, with the AWS CLI,
# in ci/xsdk/boto3_cloudtrail.py) and the AWS SDK for JavaScript v3 (ci/xsdk/js/),
# each signing with SigV4 as in production: clusters, pod identity
# associations, paginators, waiters, tags, the errors each SDK maps, EKS Auth
# AssumeRoleForPodIdentity, STS with the vended credentials, and each SDK's
# container credential provider reading `podid agent`.
#
# Usage (from the repository root): bash ci/xsdk/run.sh
# PODID_BIN=/path/to/podid uses a built binary instead of building one.
# Needs: go (unless PODID_BIN is set), python3 with boto3; node and npm for
# the JS flows (skipped, with a message, when either is missing or
# PODID_SKIP_JS=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/podid-serve.sh

work=$(mktemp -d)
server_pid=""
agent_pid=""
cleanup() {
  stop_pid "$agent_pid"
  stop_pid "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

podid_bin xsdk "$work"

# No user configuration: every SDK gets its endpoint and keys explicitly.
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
  AWS_ENDPOINT_URL_EKS AWS_ENDPOINT_URL_EKS_AUTH AWS_ENDPOINT_URL_STS 2>/dev/null || true
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

passed=0
failed=0

# run_flows NAME TIMEOUT CMD...: runs a flow script with a time limit and
# counts its "ok"/"FAIL" lines; a non-zero exit without a FAIL line (a crash
# or the time limit) is one failure.
run_flows() {
  local name=$1 limit=$2
  shift 2
  local rc=0
  timeout --kill-after=5 "$limit" "$@" >"$work/$name.out" 2>&1 || rc=$?
  cat "$work/$name.out"
  local p f
  p=$(grep -c '^ok ' "$work/$name.out" || true)
  f=$(grep -c '^FAIL ' "$work/$name.out" || true)
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1))
    echo "FAIL  $name flows exited with status $rc (124: over the ${limit} limit)"
  fi
}

# --iam off: these flows are about the SDKs' wire, not IAM (their roles do not exist).
start_podid_sigv4 xsdk "$work" --iam off
if [ ! -s "$data_dir/admin-credentials.json" ]; then
  echo "xsdk: no $data_dir/admin-credentials.json" >&2
  exit 1
fi
akid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accessKeyId"])' "$data_dir/admin-credentials.json")
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secretAccessKey"])' "$data_dir/admin-credentials.json")

# The node agent for cluster py-c1 (created by the boto3 flows), signing its
# EKS Auth calls with the admin keys; both SDKs' container credential
# providers are pointed at it with a pod token the boto3 flows write.
agent_log="$work/agent.log"
AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 \
  "$PODID_BIN" agent --server "$URL" --cluster py-c1 --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 \
  >"$agent_log" 2>&1 &
agent_pid=$!
AGENT_URL=""
for _ in $(seq 1 300); do # up to 30 s
  creds_addr=$(sed -n 's/.*msg="agent listening" serves=credentials addr=\([^ ]*\).*/\1/p' "$agent_log" | head -n1)
  probe_addr=$(sed -n 's/.*msg="agent listening" serves=probes addr=\([^ ]*\).*/\1/p' "$agent_log" | head -n1)
  if [ -n "$creds_addr" ] && [ -n "$probe_addr" ] && python3 - "http://$probe_addr/healthz" <<'EOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
    AGENT_URL="http://$creds_addr/v1/credentials"
    break
  fi
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    echo "xsdk: podid agent exited:" >&2
    cat "$agent_log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$AGENT_URL" ]; then
  echo "xsdk: podid agent did not become healthy within 30 s" >&2
  cat "$agent_log" >&2
  exit 1
fi

export PODID_URL="$URL" PODID_DATA_DIR="$data_dir" PODID_BIN
export PODID_AGENT_URL="$AGENT_URL" PODID_POD_TOKEN_FILE="$work/pod-token"

echo "== boto3"
run_flows boto3 90 python3 ci/xsdk/boto3_flows.py
echo "== boto3: IAM"
run_flows boto3-iam 90 python3 ci/xsdk/boto3_iam.py
echo "== boto3 and the AWS CLI: CloudTrail LookupEvents (the audit trail of the flows above)"
run_flows boto3-cloudtrail 120 python3 ci/xsdk/boto3_cloudtrail.py

echo "== AWS SDK for JavaScript v3"
if [ "${PODID_SKIP_JS:-}" = 1 ]; then
  echo "xsdk: JS flows skipped (PODID_SKIP_JS=1)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "xsdk: JS flows skipped: node and npm are needed"
else
  # The admin keys and the endpoint reach the JS SDK through its ordinary
  # environment variables.
  if (cd ci/xsdk/js && timeout 120 npm ci --no-audit --no-fund --loglevel=error >"$work/npm.out" 2>&1); then
    AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 \
      AWS_ENDPOINT_URL_EKS="$URL" AWS_ENDPOINT_URL_STS="$URL" \
      run_flows js 90 node ci/xsdk/js/flows.mjs
  else
    cat "$work/npm.out"
    failed=$((failed + 1))
    echo "FAIL  npm ci in ci/xsdk/js"
  fi
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  failed=$((failed + 1))
  echo "FAIL  podid serve is still running after the flows"
  cat "$log"
fi
if ! kill -0 "$agent_pid" 2>/dev/null; then
  failed=$((failed + 1))
  echo "FAIL  podid agent is still running after the flows"
  cat "$agent_log"
fi

echo "xsdk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
