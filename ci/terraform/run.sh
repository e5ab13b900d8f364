#!/usr/bin/env bash
# Terraform e2e: applies ci/terraform/main.tf (the hashicorp/aws provider's
# aws_iam_role with a pod identity trust policy, aws_iam_role_policy,
# aws_iam_policy, aws_iam_role_policy_attachment, aws_iam_user,
# aws_iam_access_key, aws_iam_user_policy, aws_eks_cluster and
# aws_eks_pod_identity_association) against `podid serve --auth sigv4`, gets
# a pod's credentials through `podid agent`, checks that the node user's
# access key authenticates, plans again expecting no changes
# (-detailed-exitcode 0), applies changes (updated in place) and plans again
# expecting none, destroys, and checks that nothing is left.
#
# Usage (from anywhere): bash ci/terraform/run.sh
# PODID_BIN=/path/to/podid uses a built binary instead of building one.
# TF_PLUGIN_MIRROR names the provider mirror (a directory holding
# registry.terraform.io/hashicorp/aws/...); by default it is searched for in
# the usual places. TF_LOG=debug shows every call the provider makes.
# Needs terraform, the provider in a filesystem mirror (no registry access),
# aws (the CLI) and python3; skips with a message when terraform or the
# provider is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/podid-serve.sh

if ! command -v terraform >/dev/null; then
  echo "terraform e2e: SKIP: terraform is not installed"
  exit 0
fi
mirror=${TF_PLUGIN_MIRROR:-}
if [ -z "$mirror" ]; then
  for d in /opt/tf-plugins /usr/share/terraform/plugins /usr/local/share/terraform/plugins \
    "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins"; do
    if [ -d "$d/registry.terraform.io/hashicorp/aws" ]; then
      mirror=$d
      break
    fi
  done
fi
if [ -z "$mirror" ]; then
  echo "terraform e2e: SKIP: no filesystem mirror of registry.terraform.io/hashicorp/aws found (set TF_PLUGIN_MIRROR)"
  exit 0
fi

work=$(mktemp -d)
server_pid=""
agent_pid=""
cleanup() {
  stop_pid "$agent_pid"
  stop_pid "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

podid_bin "terraform e2e" "$work"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1: $2" >&2; }

# No user configuration for the CLI and the provider.
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
  AWS_ENDPOINT_URL_EKS AWS_ENDPOINT_URL_EKS_AUTH AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_IAM 2>/dev/null || true
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

# The provider comes from the mirror only.
export TF_CLI_CONFIG_FILE="$work/terraformrc"
cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
tfdir="$work/tf"
mkdir -p "$tfdir"
cp ci/terraform/main.tf "$tfdir/"

mkdir -p "$work/run"
(cd "$work/run" && exec "$PODID_BIN" serve --listen 127.0.0.1:0 --log-level warn) >"$work/server.log" 2>&1 &
server_pid=$!
wait_for_podid "terraform e2e" "$work/server.log" "$server_pid"
ADMIN_KEY=$(sed -n 's/^ *export AWS_ACCESS_KEY_ID=\([^ ]*\).*/\1/p' "$work/server.log" | head -n1)
ADMIN_SECRET=$(sed -n 's/^ *export AWS_SECRET_ACCESS_KEY=\([^ ]*\).*/\1/p' "$work/server.log" | head -n1)
export TF_VAR_endpoint="$URL" TF_VAR_access_key="$ADMIN_KEY" TF_VAR_secret_key="$ADMIN_SECRET"

tf() { terraform -chdir="$tfdir" "$@"; }
admin() { AWS_ACCESS_KEY_ID=$ADMIN_KEY AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET aws "$@" --endpoint-url "$URL" --output json; }

if tf init -no-color >"$work/init.log" 2>&1; then
  pass "terraform init from the mirror ($mirror)"
else
  cat "$work/init.log" >&2
  fail "terraform init" "see above"
  exit 1
fi

if tf apply -no-color -auto-approve >"$work/apply.log" 2>&1; then
  pass "terraform apply"
else
  cat "$work/apply.log" >&2
  fail "terraform apply" "see above"
  exit 1
fi

role_arn=$(tf output -raw app_role_arn)
if [ "$role_arn" = "arn:aws:iam::000000000000:role/pods/tf-app" ]; then pass "the role's ARN has its path"; else fail "role ARN" "$role_arn"; fi
out=$(admin iam get-role --role-name tf-app)
if python3 -c "import json,sys; r=json.loads(sys.argv[1])['Role']; d=r['AssumeRolePolicyDocument']; s=d['Statement'][0]; sys.exit(0 if s['Principal']=={'Service':'pods.eks.amazonaws.com'} and sorted(s['Action'])==['sts:AssumeRole','sts:TagSession'] and r['MaxSessionDuration']==7200 else 1)" "$out"; then
  pass "the role's trust policy reads back through the CLI"
else
  fail "get-role" "$out"
fi

oidc_arn=$(tf output -raw oidc_provider_arn)
out=$(admin iam get-open-id-connect-provider --open-id-connect-provider-arn "$oidc_arn")
if [ "$oidc_arn" = "arn:aws:iam::000000000000:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/TFDEV0000000000000000000000000000" ] &&
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['ClientIDList']==['sts.amazonaws.com'] and len(d['ThumbprintList'])==1 else 1)" "$out"; then
  pass "aws_iam_openid_connect_provider reads back through the CLI"
else
  fail "get-open-id-connect-provider" "$oidc_arn $out"
fi

# A pod's credentials through the node agent.
"$PODID_BIN" token --endpoint "$URL" --access-key-id "$ADMIN_KEY" --secret-access-key "$ADMIN_SECRET" \
  --cluster tf-dev --namespace default --service-account app --pod-name app-1 \
  --pod-uid 6b7d5b7e-0000-4000-8000-000000000001 | tr -d '\n' >"$work/token"
agent_port=$((20000 + RANDOM % 10000))
AWS_ACCESS_KEY_ID=$ADMIN_KEY AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET AWS_ENDPOINT_URL_EKS_AUTH=$URL \
  "$PODID_BIN" agent --cluster tf-dev --listen "127.0.0.1:$agent_port" --probe-listen "" --log-level warn >"$work/agent.log" 2>&1 &
agent_pid=$!
who=""
for _ in $(seq 1 100); do # up to 10 s for the agent to listen
  if who=$(env AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$agent_port/v1/credentials" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$work/token" \
    aws sts get-caller-identity --endpoint-url "$URL" --output json 2>"$work/who.err"); then
    break
  fi
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    cat "$work/agent.log" >&2
    break
  fi
  sleep 0.1
done
if python3 -c "import json,sys; a=json.loads(sys.argv[1])['Arn']; sys.exit(0 if a.startswith('arn:aws:sts::000000000000:assumed-role/tf-app/') else 1)" "$who" 2>/dev/null; then
  pass "a pod gets the association role's credentials through podid agent"
else
  fail "pod credentials through the agent" "$who $(cat "$work/who.err")"
fi

# The node user's access key (from Terraform's state) authenticates as the user.
node_key=$(tf output -raw node_access_key_id)
node_secret=$(tf output -raw node_secret_access_key)
who=$(AWS_ACCESS_KEY_ID=$node_key AWS_SECRET_ACCESS_KEY=$node_secret aws sts get-caller-identity --endpoint-url "$URL" --output json 2>&1) || true
if python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1])['Arn']=='arn:aws:iam::000000000000:user/nodes/tf-node' else 1)" "$who" 2>/dev/null; then
  pass "aws_iam_access_key's key authenticates as the user"
else
  fail "the node user's key" "$who"
fi

rc=0
tf plan -no-color -detailed-exitcode >"$work/plan.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
  pass "terraform plan after apply: no changes"
else
  cat "$work/plan.log" >&2
  fail "terraform plan after apply" "exit status $rc (2: changes, 1: error)"
fi

# Updates in place: descriptions, tags, the trust policy's condition, the
# inline policies, a new version of the managed policy; then no drift again.
if tf apply -no-color -auto-approve -var generation=2 >"$work/apply2.log" 2>&1; then
  if grep -q "0 added, [1-9][0-9]* changed, 0 destroyed" "$work/apply2.log"; then
    pass "terraform apply of changes updates in place"
  else
    fail "terraform apply of changes" "$(grep -E 'Apply complete|must be replaced' "$work/apply2.log")"
  fi
else
  cat "$work/apply2.log" >&2
  fail "terraform apply of changes" "see above"
fi
out=$(admin iam list-policy-versions --policy-arn arn:aws:iam::000000000000:policy/pods/tf-app-queue)
if python3 -c "import json,sys; v=json.loads(sys.argv[1])['Versions']; sys.exit(0 if [x['VersionId'] for x in v if x['IsDefaultVersion']]==['v2'] else 1)" "$out"; then
  pass "the managed policy's change is its default version v2"
else
  fail "policy versions after the change" "$out"
fi
out=$(admin iam get-open-id-connect-provider --open-id-connect-provider-arn "$oidc_arn")
if python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if sorted(d['ClientIDList'])==['sts.amazonaws.com','tf-app'] and len(d['ThumbprintList'])==2 and {'Key':'generation','Value':'2'} in d['Tags'] else 1)" "$out"; then
  pass "the OpenID Connect provider's client IDs, thumbprints and tags change in place"
else
  fail "the OpenID Connect provider after the change" "$out"
fi
rc=0
tf plan -no-color -detailed-exitcode -var generation=2 >"$work/plan2.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
  pass "terraform plan after the changes: no changes"
else
  cat "$work/plan2.log" >&2
  fail "terraform plan after the changes" "exit status $rc (2: changes, 1: error)"
fi

if tf destroy -no-color -auto-approve -var generation=2 >"$work/destroy.log" 2>&1; then
  pass "terraform destroy"
else
  cat "$work/destroy.log" >&2
  fail "terraform destroy" "see above"
fi
left=$(admin iam list-roles --query 'length(Roles)')$(admin iam list-users --query 'length(Users)')$(admin iam list-policies --scope Local --query 'length(Policies)')$(admin eks list-clusters --query 'length(clusters)')$(admin iam list-open-id-connect-providers --query 'length(OpenIDConnectProviderList)')
if [ "$left" = "00000" ]; then pass "nothing is left after destroy"; else fail "after destroy" "roles, users, policies, clusters, OpenID Connect providers: $left"; fi

echo "terraform e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
