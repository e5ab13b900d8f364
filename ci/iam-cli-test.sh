#!/usr/bin/env bash
# Drives podid's IAM API through the AWS CLI (v1 or v2), as users do, against
# `podid serve --auth sigv4` (the CLI signs for service "iam" at the POST /
# IAM shares with STS): roles and trust policies, inline and managed
# policies with versions and attachments, users, access keys (the key then
# authenticates; Inactive and deleted keys are refused), OpenID Connect
# providers, the errors the CLI
# reports, the EKS token `aws eks get-token` makes (a presigned STS URL), and
# the records surviving a restart.
#
# Usage (from the repository root): bash ci/iam-cli-test.sh
# PODID_BIN=/path/to/podid uses a built binary instead of building one.
# Needs: go (unless PODID_BIN is set), aws, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/podid-serve.sh

work=$(mktemp -d)
server_pid=""
cleanup() {
  stop_pid "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

podid_bin "iam-cli-test" "$work"

. ci/cli-checks.sh

data="$work/data"
start_server() {
  "$PODID_BIN" serve --listen 127.0.0.1:0 --data-dir "$data" --store "sqlite:$data/podid.db" --log-level warn >"$work/server.$1.log" 2>&1 &
  server_pid=$!
  wait_for_podid iam-cli-test "$work/server.$1.log" "$server_pid"
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

start_server 1
export AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accessKeyId"])' "$data/admin-credentials.json")
export AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secretAccessKey"])' "$data/admin-credentials.json")

iam() { aws iam "$@" --endpoint-url "$URL" --output json; }
# as KEY SECRET CMD...: runs an aws command with other credentials.
as() { local k=$1 s=$2; shift 2; AWS_ACCESS_KEY_ID=$k AWS_SECRET_ACCESS_KEY=$s "$@"; }

TRUST='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'
PERMS='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}'
printf '%s' "$TRUST" >"$work/trust.json"

# --- roles
out=$(iam create-role --role-name app --path /pods/ --assume-role-policy-document "file://$work/trust.json" \
  --description "the app" --max-session-duration 7200 --tags Key=team,Value=a)
check "create-role" "$out" \
  "d['Role']['Arn']=='arn:aws:iam::000000000000:role/pods/app' and re.fullmatch(r'AROA[A-Z2-7]{17}', d['Role']['RoleId']) and d['Role']['AssumeRolePolicyDocument']['Statement'][0]['Principal']=={'Service':'pods.eks.amazonaws.com'} and d['Role']['MaxSessionDuration']==7200"
expect_error "create-role of a taken name" EntityAlreadyExists iam create-role --role-name APP --assume-role-policy-document "$TRUST"
expect_error "create-role with a malformed trust policy" MalformedPolicyDocument iam create-role --role-name bad --assume-role-policy-document '{"Statement":'
expect_error "create-role with an invalid name" ValidationError iam create-role --role-name 'a b' --assume-role-policy-document "$TRUST"
out=$(iam get-role --role-name app)
check "get-role" "$out" "d['Role']['Description']=='the app' and d['Role']['Tags']==[{'Key':'team','Value':'a'}]"
expect_error "get-role of a missing role" NoSuchEntity iam get-role --role-name nope
if grep -q "The role with name nope cannot be found." "$work/err"; then pass "NoSuchEntity worded as IAM's"; else fail "NoSuchEntity wording" "$(cat "$work/err")"; fi
iam update-role --role-name app --description new --max-session-duration 3600 >/dev/null
out=$(iam update-role-description --role-name app --description newer)
check "update-role, update-role-description" "$out" "d['Role']['Description']=='newer' and d['Role']['MaxSessionDuration']==3600"
iam update-assume-role-policy --role-name app --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:SourceAccount":"000000000000"}}}]}' >/dev/null
out=$(iam get-role --role-name app)
check "update-assume-role-policy" "$out" "d['Role']['AssumeRolePolicyDocument']['Statement'][0]['Condition']=={'StringEquals':{'aws:SourceAccount':'000000000000'}}"
iam tag-role --role-name app --tags Key=env,Value=dev >/dev/null
iam untag-role --role-name app --tag-keys team >/dev/null
out=$(iam list-role-tags --role-name app)
check "tag-role, untag-role, list-role-tags" "$out" "d['Tags']==[{'Key':'env','Value':'dev'}]"
out=$(iam list-instance-profiles-for-role --role-name app)
check "list-instance-profiles-for-role" "$out" "d['InstanceProfiles']==[]"
iam put-role-policy --role-name app --policy-name read --policy-document "$PERMS" >/dev/null
out=$(iam get-role-policy --role-name app --policy-name read)
check "put-role-policy, get-role-policy" "$out" "d['PolicyDocument']==json.loads('''$PERMS''') and d['RoleName']=='app'"
out=$(iam list-role-policies --role-name app)
check "list-role-policies" "$out" "d['PolicyNames']==['read']"
expect_error "put-role-policy without Resource" MalformedPolicyDocument \
  iam put-role-policy --role-name app --policy-name bad --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}'
expect_error "delete-role with an inline policy" DeleteConflict iam delete-role --role-name app
for n in b c; do iam create-role --role-name "$n" --assume-role-policy-document "$TRUST" >/dev/null; done
out=$(iam list-roles --page-size 1)
check "list-roles (CLI paging, 1 per call)" "$out" "[r['RoleName'] for r in d['Roles']]==['app','b','c']"
out=$(iam list-roles --max-items 2)
check "list-roles --max-items 2 gives a NextToken" "$out" "[r['RoleName'] for r in d['Roles']]==['app','b'] and d.get('NextToken')"
out=$(iam list-roles --starting-token "$(get "$out" "d['NextToken']")")
check "list-roles from the NextToken" "$out" "[r['RoleName'] for r in d['Roles']]==['c']"
out=$(iam list-roles --path-prefix /pods/)
check "list-roles --path-prefix" "$out" "[r['RoleName'] for r in d['Roles']]==['app']"
iam put-role-permissions-boundary --role-name b --permissions-boundary arn:aws:iam::aws:policy/PowerUserAccess >/dev/null
out=$(iam get-role --role-name b)
check "put-role-permissions-boundary" "$out" "d['Role']['PermissionsBoundary']['PermissionsBoundaryArn']=='arn:aws:iam::aws:policy/PowerUserAccess'"
iam delete-role-permissions-boundary --role-name b >/dev/null
iam delete-role --role-name c >/dev/null
expect_error "delete-role again" NoSuchEntity iam delete-role --role-name c

# --- managed policies and attachments
out=$(iam create-policy --policy-name read --path /team/ --policy-document "$PERMS" --description reads)
arn=$(get "$out" "d['Policy']['Arn']")
check "create-policy" "$out" "d['Policy']['Arn']=='arn:aws:iam::000000000000:policy/team/read' and d['Policy']['DefaultVersionId']=='v1' and re.fullmatch(r'ANPA[A-Z2-7]{17}', d['Policy']['PolicyId'])"
expect_error "create-policy of a taken name" EntityAlreadyExists iam create-policy --policy-name READ --policy-document "$PERMS"
out=$(iam get-policy --policy-arn "$arn")
check "get-policy" "$out" "d['Policy']['Description']=='reads' and d['Policy']['AttachmentCount']==0"
out=$(iam create-policy-version --policy-arn "$arn" --policy-document "$PERMS" --set-as-default)
check "create-policy-version --set-as-default" "$out" "d['PolicyVersion']['VersionId']=='v2' and d['PolicyVersion']['IsDefaultVersion']"
out=$(iam list-policy-versions --policy-arn "$arn")
check "list-policy-versions" "$out" "[v['VersionId'] for v in d['Versions']]==['v2','v1']"
out=$(iam get-policy-version --policy-arn "$arn" --version-id v1)
check "get-policy-version" "$out" "d['PolicyVersion']['Document']==json.loads('''$PERMS''') and not d['PolicyVersion']['IsDefaultVersion']"
expect_error "delete-policy-version of the default" DeleteConflict iam delete-policy-version --policy-arn "$arn" --version-id v2
iam set-default-policy-version --policy-arn "$arn" --version-id v1 >/dev/null
iam delete-policy-version --policy-arn "$arn" --version-id v2 >/dev/null
out=$(iam list-policy-versions --policy-arn "$arn")
check "set-default-policy-version, delete-policy-version" "$out" "[(v['VersionId'],v['IsDefaultVersion']) for v in d['Versions']]==[('v1',True)]"
iam tag-policy --policy-arn "$arn" --tags Key=k,Value=v >/dev/null
out=$(iam list-policy-tags --policy-arn "$arn")
check "tag-policy, list-policy-tags" "$out" "d['Tags']==[{'Key':'k','Value':'v'}]"
iam untag-policy --policy-arn "$arn" --tag-keys k >/dev/null
iam attach-role-policy --role-name app --policy-arn "$arn" >/dev/null
out=$(iam list-attached-role-policies --role-name app)
check "attach-role-policy, list-attached-role-policies" "$out" "d['AttachedPolicies']==[{'PolicyName':'read','PolicyArn':'$arn'}]"
out=$(iam list-entities-for-policy --policy-arn "$arn")
check "list-entities-for-policy" "$out" "[r['RoleName'] for r in d['PolicyRoles']]==['app']"
out=$(iam list-policies --scope Local --only-attached)
check "list-policies --only-attached" "$out" "[p['PolicyName'] for p in d['Policies']]==['read']"
expect_error "delete-policy while attached" DeleteConflict iam delete-policy --policy-arn "$arn"
expect_error "attach a missing policy" NoSuchEntity iam attach-role-policy --role-name app --policy-arn arn:aws:iam::000000000000:policy/nope

# --- users and access keys
out=$(iam create-user --user-name node --path /nodes/ --tags Key=k,Value=v)
check "create-user" "$out" "d['User']['Arn']=='arn:aws:iam::000000000000:user/nodes/node' and re.fullmatch(r'AIDA[A-Z2-7]{17}', d['User']['UserId'])"
user_id=$(get "$out" "d['User']['UserId']")
expect_error "create-user of a taken name" EntityAlreadyExists iam create-user --user-name NODE
out=$(iam get-user --user-name node)
check "get-user" "$out" "d['User']['UserId']=='$user_id'"
out=$(iam list-users)
check "list-users" "$out" "[u['UserName'] for u in d['Users']]==['node']"
iam tag-user --user-name node --tags Key=env,Value=dev >/dev/null
iam untag-user --user-name node --tag-keys k >/dev/null
out=$(iam list-user-tags --user-name node)
check "tag-user, untag-user, list-user-tags" "$out" "d['Tags']==[{'Key':'env','Value':'dev'}]"
iam put-user-policy --user-name node --policy-name p --policy-document "$PERMS" >/dev/null
out=$(iam get-user-policy --user-name node --policy-name p)
check "put-user-policy, get-user-policy" "$out" "d['PolicyDocument']==json.loads('''$PERMS''')"
out=$(iam list-user-policies --user-name node)
check "list-user-policies" "$out" "d['PolicyNames']==['p']"
iam attach-user-policy --user-name node --policy-arn "$arn" >/dev/null
out=$(iam list-attached-user-policies --user-name node)
check "attach-user-policy, list-attached-user-policies" "$out" "[p['PolicyArn'] for p in d['AttachedPolicies']]==['$arn']"
out=$(iam list-groups-for-user --user-name node)
check "list-groups-for-user" "$out" "d['Groups']==[]"
expect_error "get-login-profile (none)" NoSuchEntity iam get-login-profile --user-name node
out=$(iam create-access-key --user-name node)
check "create-access-key" "$out" "re.fullmatch(r'AKIA[A-Z2-7]{16}', d['AccessKey']['AccessKeyId']) and len(d['AccessKey']['SecretAccessKey'])==40 and d['AccessKey']['Status']=='Active'"
key=$(get "$out" "d['AccessKey']['AccessKeyId']")
secret=$(get "$out" "d['AccessKey']['SecretAccessKey']")
out=$(iam create-access-key --user-name node)
key2=$(get "$out" "d['AccessKey']['AccessKeyId']")
expect_error "a third access key" LimitExceeded iam create-access-key --user-name node
out=$(iam list-access-keys --user-name node)
check "list-access-keys" "$out" "[k['AccessKeyId'] for k in d['AccessKeyMetadata']]==['$key','$key2']"
out=$(iam get-access-key-last-used --access-key-id "$key")
check "get-access-key-last-used" "$out" "d['UserName']=='node'"

out=$(as "$key" "$secret" aws sts get-caller-identity --endpoint-url "$URL" --output json)
check "the user's key authenticates as the user" "$out" "d['Arn']=='arn:aws:iam::000000000000:user/nodes/node' and d['UserId']=='$user_id'"
# eks_token KEY SECRET: the token `aws eks get-token` makes for cluster dev
# with those keys, its STS (a presigned GetCallerIdentity URL) at podid.
eks_token() {
  AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_ENDPOINT_URL_STS=$URL aws eks get-token --cluster-name dev --output json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])'
}
# send_token TOKEN CLUSTER: GETs the token's URL as aws-iam-authenticator
# does (with the x-k8s-aws-id header); prints the status and the body.
send_token() {
  python3 - "$1" "$2" <<'PY'
import base64, sys, urllib.error, urllib.request
tok, cluster = sys.argv[1], sys.argv[2]
assert tok.startswith("k8s-aws-v1."), tok
b64 = tok[len("k8s-aws-v1."):]
url = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).decode()
req = urllib.request.Request(url, headers={"x-k8s-aws-id": cluster})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}
# expect_token NAME TOKEN CLUSTER STATUS SUBSTRING
expect_token() {
  local got
  got=$(send_token "$2" "$3" | tr -d '\n')
  case "$got" in
    "$4 "*"$5"*) pass "$1" ;;
    *) fail "$1" "$got" ;;
  esac
}
token=$(eks_token "$key" "$secret")
expect_token "aws eks get-token: the presigned GetCallerIdentity answers the user" "$token" dev 200 "<Arn>arn:aws:iam::000000000000:user/nodes/node</Arn>"
expect_token "aws eks get-token: another cluster's header is refused" "$token" prod 403 "<Code>SignatureDoesNotMatch</Code>"
iam update-access-key --user-name node --access-key-id "$key" --status Inactive >/dev/null
expect_token "aws eks get-token: an Inactive key's token is refused" "$token" dev 403 "<Code>InvalidClientTokenId</Code>"
expect_error "an Inactive key is refused (STS)" InvalidClientTokenId as "$key" "$secret" aws sts get-caller-identity --endpoint-url "$URL"
expect_error "an Inactive key is refused (IAM)" InvalidClientTokenId as "$key" "$secret" aws iam get-user --endpoint-url "$URL"
expect_error "an Inactive key is refused (EKS)" UnrecognizedClientException as "$key" "$secret" aws eks list-clusters --endpoint-url "$URL"
iam update-access-key --user-name node --access-key-id "$key" --status Active >/dev/null
out=$(as "$key" "$secret" aws sts get-caller-identity --endpoint-url "$URL" --output json)
check "Active again, accepted" "$out" "d['Arn'].endswith(':user/nodes/node')"
expect_error "delete-user with access keys" DeleteConflict iam delete-user --user-name node

# --- OpenID Connect providers (what Terraform's EKS modules and eksctl manage)
TP1=9e99a48a9960b14926bb7f3b02e22da2b0ab7280
TP2=$(printf 'b%.0s' $(seq 40))
ISSUER=https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
OIDC_ARN=arn:aws:iam::000000000000:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
out=$(iam create-open-id-connect-provider --url "$ISSUER" --client-id-list sts.amazonaws.com --thumbprint-list "$TP1" --tags Key=team,Value=a)
check "create-open-id-connect-provider" "$out" "d['OpenIDConnectProviderArn']=='$OIDC_ARN' and d['Tags']==[{'Key':'team','Value':'a'}]"
expect_error "create-open-id-connect-provider of a URL in use" EntityAlreadyExists iam create-open-id-connect-provider --url "$ISSUER"
if grep -q "Provider with url $ISSUER already exists." "$work/err"; then pass "EntityAlreadyExists worded as IAM's"; else fail "EntityAlreadyExists wording" "$(cat "$work/err")"; fi
expect_error "create-open-id-connect-provider of an http URL" ValidationError iam create-open-id-connect-provider --url http://example.com
expect_error "six thumbprints" InvalidInput iam create-open-id-connect-provider --url https://example.com --thumbprint-list $TP1 $TP2 $TP1 $TP2 $TP1 $TP2
iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN" --client-id app >/dev/null
iam remove-client-id-from-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN" --client-id sts.amazonaws.com >/dev/null
iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn "$OIDC_ARN" --thumbprint-list "$TP2" "$TP1" >/dev/null
iam tag-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN" --tags Key=env,Value=dev >/dev/null
iam untag-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN" --tag-keys team >/dev/null
out=$(iam get-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN")
check "get-open-id-connect-provider after the edits" "$out" \
  "d['Url']=='${ISSUER#https://}' and d['ClientIDList']==['app'] and d['ThumbprintList']==['$TP2','$TP1'] and d['Tags']==[{'Key':'env','Value':'dev'}] and d['CreateDate']"
out=$(iam list-open-id-connect-provider-tags --open-id-connect-provider-arn "$OIDC_ARN")
check "list-open-id-connect-provider-tags" "$out" "d['Tags']==[{'Key':'env','Value':'dev'}]"
out=$(iam list-open-id-connect-providers)
check "list-open-id-connect-providers" "$out" "d['OpenIDConnectProviderList']==[{'Arn':'$OIDC_ARN'}]"

# --- a restart keeps every record, and the key still authenticates
stop_server
start_server 2
out=$(iam get-role --role-name app)
check "the role survives a restart" "$out" "d['Role']['Arn']=='arn:aws:iam::000000000000:role/pods/app'"
out=$(as "$key" "$secret" aws sts get-caller-identity --endpoint-url "$URL" --output json)
check "the access key authenticates after a restart" "$out" "d['Arn'].endswith(':user/nodes/node')"
out=$(iam get-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN")
check "the OpenID Connect provider survives a restart" "$out" "d['ClientIDList']==['app']"

# --- teardown in IAM's order
iam delete-access-key --user-name node --access-key-id "$key" >/dev/null
iam delete-access-key --user-name node --access-key-id "$key2" >/dev/null
expect_error "a deleted key is refused" InvalidClientTokenId as "$key" "$secret" aws sts get-caller-identity --endpoint-url "$URL"
iam detach-user-policy --user-name node --policy-arn "$arn" >/dev/null
iam delete-user-policy --user-name node --policy-name p >/dev/null
iam delete-user --user-name node >/dev/null
iam detach-role-policy --role-name app --policy-arn "$arn" >/dev/null
expect_error "detach a policy not attached" NoSuchEntity iam detach-role-policy --role-name app --policy-arn "$arn"
iam delete-policy --policy-arn "$arn" >/dev/null
iam delete-role-policy --role-name app --policy-name read >/dev/null
iam delete-role --role-name app >/dev/null
iam delete-role --role-name b >/dev/null
iam delete-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN" >/dev/null
expect_error "get-open-id-connect-provider after the delete" NoSuchEntity iam get-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN"
if grep -q "OpenIDConnect Provider not found for arn $OIDC_ARN" "$work/err"; then pass "NoSuchEntity worded as IAM's"; else fail "NoSuchEntity wording" "$(cat "$work/err")"; fi
expect_error "delete-open-id-connect-provider again" NoSuchEntity iam delete-open-id-connect-provider --open-id-connect-provider-arn "$OIDC_ARN"
out=$(iam list-roles)
check "every record deleted" "$out" "d['Roles']==[]"
out=$(iam list-policies --scope Local)
check "no policies left" "$out" "d['Policies']==[]"

stop_server
checks_summary iam-cli-test
