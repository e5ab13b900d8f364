#!/usr/bin/env bash
# Drives `podid serve` through the AWS CLI, as users do: clusters, pod
# identity associations (create, describe, update, list with paging, delete),
# tags, the errors the CLI reports, and persistence across a restart.
#
# Usage (from the repository root): bash ci/cli-test.sh
# PODID_BIN=/path/to/podid uses a built binary instead of building one.
# Needs: go (unless PODID_BIN is set), aws (v1 or v2), python3.
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

podid_bin cli-test "$work"

# Dummy credentials (podid serve --auth none does not check them) and no
# user configuration.
export AWS_ACCESS_KEY_ID=podid-cli-test AWS_SECRET_ACCESS_KEY=podid-cli-test
. ci/cli-checks.sh

URL=""
run_dir="$work/run"
mkdir -p "$run_dir"

# start_server: podid serve on a free loopback port (the kernel picks it:
# --listen 127.0.0.1:0; the banner names the URL), with the default store
# (sqlite: → ./podid-data/podid.db in $run_dir); waits for /healthz.
start_server() {
  local log="$work/server.$1.log"
  (cd "$run_dir" && exec "$PODID_BIN" serve --listen 127.0.0.1:0 --auth none --log-level warn) >"$log" 2>&1 &
  server_pid=$!
  wait_for_podid cli-test "$log" "$server_pid"
}

# stop_server: SIGTERM, then the exit status must be 0 (graceful shutdown).
stop_server() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  if [ "$rc" -eq 0 ]; then pass "SIGTERM shuts down cleanly"; else fail "SIGTERM shuts down cleanly" "exit status $rc"; fi
}

eks() { aws eks "$@" --endpoint-url "$URL" --region us-east-1 --output json; }
# eks_in REGION ARGS...: the same, signed for another region.
eks_in() { local region=$1; shift; aws eks "$@" --endpoint-url "$URL" --region "$region" --output json; }

ROLE=arn:aws:iam::000000000000:role/pod-role
ROLE2=arn:aws:iam::000000000000:role/pod-role-2
TARGET=arn:aws:iam::111122223333:role/target

start_server 1

# --- clusters
out=$(eks create-cluster --name c1 --role-arn arn:aws:iam::000000000000:role/eks \
  --resources-vpc-config subnetIds=subnet-1,subnet-2 --tags env=test)
check "create-cluster is ACTIVE at once" "$out" \
  "d['cluster']['status']=='ACTIVE' and d['cluster']['arn']=='arn:aws:eks:us-east-1:000000000000:cluster/c1' and d['cluster']['endpoint']=='$URL' and d['cluster']['tags']=={'env':'test'}"
eks create-cluster --name c2 --role-arn arn:aws:iam::000000000000:role/eks --resources-vpc-config subnetIds=subnet-1 >/dev/null
out=$(eks describe-cluster --name c1)
check "describe-cluster" "$out" \
  "d['cluster']['name']=='c1' and d['cluster']['identity']['oidc']['issuer']=='$URL/clusters-oidc/c1' and d['cluster']['resourcesVpcConfig']['subnetIds']==['subnet-1','subnet-2']"
out=$(eks list-clusters --include all)
check "list-clusters" "$out" "d['clusters']==['c1','c2']"
out=$(eks list-clusters --max-results 1 --no-paginate)
check "list-clusters --max-results 1 returns one page and a nextToken" "$out" "d['clusters']==['c1'] and d.get('nextToken')"
tok=$(get "$out" "d['nextToken']")
out=$(eks list-clusters --max-results 1 --no-paginate --next-token "$tok")
check "list-clusters second page ends the listing" "$out" "d['clusters']==['c2'] and 'nextToken' not in d"
expect_error "describe-cluster of a missing cluster" ResourceNotFoundException eks describe-cluster --name nope
expect_error "create-cluster with a taken name" ResourceInUseException \
  eks create-cluster --name c1 --role-arn arn:aws:iam::000000000000:role/eks --resources-vpc-config subnetIds=subnet-1

# --- associations
out=$(eks create-pod-identity-association --cluster-name c1 --namespace default --service-account app \
  --role-arn "$ROLE" --tags team=a)
check "create-pod-identity-association" "$out" \
  "re.fullmatch(r'a-[a-z0-9]{17}', d['association']['associationId']) and d['association']['roleArn']=='$ROLE' and d['association']['tags']=={'team':'a'} and d['association']['disableSessionTags'] is False and d['association']['createdAt']==d['association']['modifiedAt']"
id1=$(get "$out" "d['association']['associationId']")
arn1=$(get "$out" "d['association']['associationArn']")
check "association ARN" "$out" "d['association']['associationArn']=='arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/$id1'"
out=$(eks create-pod-identity-association --cluster-name c1 --namespace default --service-account worker --role-arn "$ROLE")
id2=$(get "$out" "d['association']['associationId']")
out=$(eks create-pod-identity-association --cluster-name c1 --namespace other --service-account app --role-arn "$ROLE")
id3=$(get "$out" "d['association']['associationId']")
expect_error "duplicate create is ResourceInUseException" ResourceInUseException \
  eks create-pod-identity-association --cluster-name c1 --namespace default --service-account app --role-arn "$ROLE"
if grep -q "Association already exists: $id1" "$work/err"; then pass "duplicate names the existing association"; else fail "duplicate names the existing association" "$(cat "$work/err")"; fi

out=$(eks describe-pod-identity-association --cluster-name c1 --association-id "$id1")
check "describe-pod-identity-association" "$out" "d['association']['associationId']=='$id1' and d['association']['serviceAccount']=='app'"
expect_error "describe a missing association" ResourceNotFoundException \
  eks describe-pod-identity-association --cluster-name c1 --association-id a-00000000000000000
expect_error "association ID of the wrong length" InvalidParameterException \
  eks describe-pod-identity-association --cluster-name c1 --association-id a-short

out=$(eks update-pod-identity-association --cluster-name c1 --association-id "$id1" --role-arn "$ROLE2" --target-role-arn "$TARGET")
check "update sets role, target role and externalId" "$out" \
  "d['association']['roleArn']=='$ROLE2' and d['association']['targetRoleArn']=='$TARGET' and d['association']['externalId']=='us-east-1/000000000000/c1/default/app' and d['association']['modifiedAt']>d['association']['createdAt']"
out=$(eks update-pod-identity-association --cluster-name c1 --association-id "$id1" --target-role-arn "")
check "update with an empty target role removes it" "$out" \
  "'targetRoleArn' not in d['association'] and 'externalId' not in d['association'] and d['association']['roleArn']=='$ROLE2'"
expect_error "update that changes nothing" InvalidParameterException \
  eks update-pod-identity-association --cluster-name c1 --association-id "$id1" --role-arn "$ROLE2"
expect_error "policy without disableSessionTags" InvalidParameterException \
  eks update-pod-identity-association --cluster-name c1 --association-id "$id1" --policy '{"Version":"2012-10-17","Statement":[]}'
out=$(eks update-pod-identity-association --cluster-name c1 --association-id "$id1" --disable-session-tags \
  --policy '{"Version":"2012-10-17","Statement":[]}')
check "update with policy and disableSessionTags" "$out" \
  "d['association']['disableSessionTags'] is True and json.loads(d['association']['policy'])['Version']=='2012-10-17'"

out=$(eks list-pod-identity-associations --cluster-name c1 --page-size 2)
check "list (CLI paging, 2 per call) returns every association once" "$out" \
  "sorted(a['associationId'] for a in d['associations'])==sorted(['$id1','$id2','$id3'])"
out=$(eks list-pod-identity-associations --cluster-name c1 --max-results 2 --no-paginate)
check "list --max-results 2: a page of 2 and a nextToken" "$out" "len(d['associations'])==2 and d.get('nextToken')"
tok=$(get "$out" "d['nextToken']")
out=$(eks list-pod-identity-associations --cluster-name c1 --max-results 2 --no-paginate --next-token "$tok")
check "list last page: 1 item, no nextToken" "$out" "len(d['associations'])==1 and 'nextToken' not in d"
out=$(eks list-pod-identity-associations --cluster-name c1 --namespace default --service-account worker)
check "list filters" "$out" "[a['associationId'] for a in d['associations']]==['$id2']"
expect_error "list with --max-results 101" InvalidParameterException \
  eks list-pod-identity-associations --cluster-name c1 --max-results 101 --no-paginate
expect_error "list with a forged token" InvalidParameterException \
  eks list-pod-identity-associations --cluster-name c1 --next-token forged --no-paginate

# --- tags
eks tag-resource --resource-arn "$arn1" --tags owner=me,team=b >/dev/null
eks untag-resource --resource-arn "$arn1" --tag-keys owner >/dev/null
out=$(eks list-tags-for-resource --resource-arn "$arn1")
check "tag-resource, untag-resource, list-tags-for-resource (association)" "$out" "d['tags']=={'team':'b'}"
eks tag-resource --resource-arn arn:aws:eks:us-east-1:000000000000:cluster/c1 --tags tier=gold >/dev/null
out=$(eks list-tags-for-resource --resource-arn arn:aws:eks:us-east-1:000000000000:cluster/c1)
check "tags on a cluster" "$out" "d['tags']=={'env':'test','tier':'gold'}"
expect_error "aws: tag keys are reserved" BadRequestException eks tag-resource --resource-arn "$arn1" --tags aws:x=y
expect_error "tags of an unknown resource" NotFoundException \
  eks list-tags-for-resource --resource-arn arn:aws:eks:us-east-1:000000000000:cluster/nope

# --- regions: resources are the signing scope's region's, as on AWS
out=$(eks_in eu-west-1 create-cluster --name c1 --role-arn arn:aws:iam::000000000000:role/eks \
  --resources-vpc-config subnetIds=subnet-1)
check "create-cluster --region eu-west-1 (a name us-east-1 has too) returns an eu-west-1 ARN" "$out" \
  "d['cluster']['arn']=='arn:aws:eks:eu-west-1:000000000000:cluster/c1' and d['cluster']['identity']['oidc']['issuer']=='$URL/clusters-oidc/eu-west-1/c1'"
eks_in eu-west-1 create-cluster --name west-only --role-arn arn:aws:iam::000000000000:role/eks \
  --resources-vpc-config subnetIds=subnet-1 >/dev/null
out=$(eks list-clusters)
check "list-clusters in us-east-1 does not show eu-west-1's" "$out" "d['clusters']==['c1','c2']"
out=$(eks_in eu-west-1 list-clusters)
check "list-clusters in eu-west-1 shows only eu-west-1's" "$out" "d['clusters']==['c1','west-only']"
out=$(eks_in eu-west-1 create-pod-identity-association --cluster-name c1 --namespace default --service-account app \
  --role-arn "$ROLE" --target-role-arn "$TARGET")
check "an eu-west-1 association (the key us-east-1's c1 has too): its ARN and externalId" "$out" \
  "d['association']['associationArn'].startswith('arn:aws:eks:eu-west-1:000000000000:podidentityassociation/c1/') and d['association']['externalId']=='eu-west-1/000000000000/c1/default/app'"
west_id=$(get "$out" "d['association']['associationId']")
out=$(eks_in eu-west-1 list-pod-identity-associations --cluster-name c1)
check "list-pod-identity-associations in eu-west-1" "$out" "[a['associationId'] for a in d['associations']]==['$west_id']"
expect_error "describe eu-west-1's association in us-east-1" ResourceNotFoundException \
  eks describe-pod-identity-association --cluster-name c1 --association-id "$west_id"
expect_error "tags of an eu-west-1 ARN asked in us-east-1" NotFoundException \
  eks list-tags-for-resource --resource-arn arn:aws:eks:eu-west-1:000000000000:cluster/c1
expect_error "describe-cluster in us-east-1 of eu-west-1's west-only" ResourceNotFoundException \
  eks describe-cluster --name west-only
expect_error "a region podid does not serve" InvalidSignatureException eks_in xx-fake-1 list-clusters
if grep -q "Credential should be scoped to a valid region, not 'xx-fake-1'" "$work/err"; then
  pass "the refusal names the region as AWS does"
else
  fail "the refusal names the region as AWS does" "$(cat "$work/err")"
fi

# --- delete
out=$(eks delete-pod-identity-association --cluster-name c1 --association-id "$id3")
check "delete returns the full association" "$out" \
  "d['association']['associationId']=='$id3' and d['association']['roleArn']=='$ROLE' and 'createdAt' in d['association']"
expect_error "delete it again" ResourceNotFoundException \
  eks delete-pod-identity-association --cluster-name c1 --association-id "$id3"

# --- what eksctl calls: the cluster's CA, cluster versions, the pod identity agent add-on
out=$(eks describe-cluster --name c1)
ca=$(get "$out" "d['cluster']['certificateAuthority']['data']")
if base64 -d <<<"$ca" | openssl x509 -noout -text 2>/dev/null | grep -q "CA:TRUE"; then
  pass "describe-cluster: certificateAuthority.data is a CA certificate"
else
  fail "describe-cluster: certificateAuthority.data is a CA certificate" "$ca"
fi
out=$(eks describe-cluster-versions --default-only)
check "describe-cluster-versions --default-only" "$out" \
  "len(d['clusterVersions'])==1 and d['clusterVersions'][0]['defaultVersion'] is True and d['clusterVersions'][0]['clusterType']=='eks'"
out=$(eks describe-addon-versions --addon-name eks-pod-identity-agent)
check "describe-addon-versions" "$out" "d['addons'][0]['addonName']=='eks-pod-identity-agent' and d['addons'][0]['addonVersions']"
out=$(eks create-addon --cluster-name c1 --addon-name eks-pod-identity-agent)
check "create-addon eks-pod-identity-agent is ACTIVE" "$out" \
  "d['addon']['status']=='ACTIVE' and d['addon']['addonArn'].startswith('arn:aws:eks:us-east-1:000000000000:addon/c1/eks-pod-identity-agent/')"
expect_error "create-addon twice" ResourceInUseException \
  eks create-addon --cluster-name c1 --addon-name eks-pod-identity-agent
expect_error "create-addon vpc-cni" InvalidParameterException \
  eks create-addon --cluster-name c1 --addon-name vpc-cni
out=$(eks list-addons --cluster-name c1)
check "list-addons" "$out" "d['addons']==['eks-pod-identity-agent']"
out=$(eks describe-addon --cluster-name c1 --addon-name eks-pod-identity-agent)
check "describe-addon" "$out" "d['addon']['status']=='ACTIVE' and d['addon']['clusterName']=='c1'"
out=$(eks update-addon --cluster-name c1 --addon-name eks-pod-identity-agent --resolve-conflicts PRESERVE \
  --configuration-values '{"agent":{"additionalArgs":{"-b":"169.254.170.23"}}}')
check "update-addon applies at once" "$out" \
  "d['update']['type']=='AddonUpdate' and d['update']['status']=='Successful' and [p['type'] for p in d['update']['params']]==['ResolveConflicts','ConfigurationValues']"
out=$(eks describe-addon --cluster-name c1 --addon-name eks-pod-identity-agent)
check "describe-addon shows the update" "$out" "'169.254.170.23' in d['addon']['configurationValues']"
out=$(eks delete-addon --cluster-name c1 --addon-name eks-pod-identity-agent)
check "delete-addon" "$out" "d['addon']['status']=='DELETING'"
expect_error "describe-addon after delete-addon" ResourceNotFoundException \
  eks describe-addon --cluster-name c1 --addon-name eks-pod-identity-agent

out=$(eks delete-cluster --name c2)
check "delete-cluster" "$out" "d['cluster']['name']=='c2'"

# --- persistence across a restart
stop_server
if [ -f "$run_dir/podid-data/podid.db" ]; then pass "default store is ./podid-data/podid.db"; else fail "default store is ./podid-data/podid.db" "no file"; fi
start_server 2
out=$(eks list-clusters)
check "clusters persist across a restart" "$out" "d['clusters']==['c1']"
out=$(eks describe-pod-identity-association --cluster-name c1 --association-id "$id1")
check "associations persist across a restart" "$out" \
  "d['association']['roleArn']=='$ROLE2' and d['association']['disableSessionTags'] is True and d['association']['tags']=={'team':'b'}"
out=$(eks_in eu-west-1 list-clusters)
check "eu-west-1's clusters persist across a restart" "$out" "d['clusters']==['c1','west-only']"
out=$(eks list-pod-identity-associations --cluster-name c1)
check "deleted association stays deleted" "$out" "sorted(a['associationId'] for a in d['associations'])==sorted(['$id1','$id2'])"
stop_server

# --- bad flags
rc=0
"$PODID_BIN" serve --listen nohost --region Mars --auth nope >"$work/out" 2>"$work/err" || rc=$?
if [ "$rc" -ne 0 ] && grep -q -- "--listen" "$work/err" && grep -q "region" "$work/err" && grep -q -- "--auth" "$work/err"; then
  pass "bad flags: non-zero exit and every problem reported"
else
  fail "bad flags" "exit status $rc, stderr: $(cat "$work/err")"
fi

checks_summary cli-test
