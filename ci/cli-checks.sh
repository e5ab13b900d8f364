# Sourced by the AWS CLI scripts (ci/cli-test.sh, ci/iam-cli-test.sh): an AWS
# CLI without user configuration, and the checks that count "ok"/"FAIL"
# lines. Needs $work (the script's temporary directory) set before sourcing.

# No user configuration: an empty config and credentials file in $work, no
# pager, no instance metadata, no profile, session token or endpoint from the
# caller's environment; region us-east-1.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_EKS AWS_ENDPOINT_URL_IAM \
  AWS_ENDPOINT_URL_STS 2>/dev/null || true
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1: $2" >&2; }

# check NAME JSON PYTHON-EXPR: the expression, with d = the parsed JSON (an
# empty output is {}), must be true.
check() {
  if python3 -c "import json,sys,re; d=json.loads(sys.argv[1]) if sys.argv[1].strip() else {}; sys.exit(0 if ($3) else 1)" "$2" 2>/dev/null; then
    pass "$1"
  else
    fail "$1" "$3 is false for: $2"
  fi
}

# get JSON PYTHON-EXPR: prints the expression's value.
get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

# expect_error NAME CODE CMD...: the CLI must fail with a service error
# (exit status 254 for v2, 255 for v1) naming CODE.
expect_error() {
  local name=$1 code=$2
  shift 2
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  if { [ "$rc" -eq 254 ] || [ "$rc" -eq 255 ]; } && grep -q "($code)" "$work/err"; then
    pass "$name"
  else
    fail "$name" "exit status $rc, stderr: $(cat "$work/err")"
  fi
}

# checks_summary NAME: prints the counts; the status is 1 if any check failed.
checks_summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
