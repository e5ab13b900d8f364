#!/usr/bin/env python3
"""podid's EKS, EKS Auth and STS flows through boto3 (botocore signs: the real
SigV4 path of `podid serve --auth sigv4`).

Run by ci/xsdk/run.sh, which starts the server. Environment:
  PODID_URL       the server's base URL
  PODID_DATA_DIR  its --data-dir (admin-credentials.json is read from it)
  PODID_BIN       the podid binary (for `podid token`)
  PODID_AGENT_URL       `podid agent`'s /v1/credentials URL (its --cluster is py-c1)
  PODID_POD_TOKEN_FILE  where to write the pod token the agent is asked with
Prints "ok    NAME" or "FAIL  NAME: DETAIL" per check, then
"boto3: N passed, M failed"; exits 1 if any check failed.
"""

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import uuid

import boto3
import botocore

from checks import (ACCOUNT, CONFIG, DATA_DIR, REGION, URL, admin_keys, check, client, expect_error, fail,
                    finish, is_dt, ok, run_steps)

PODID_BIN = os.environ["PODID_BIN"]
AGENT_URL = os.environ["PODID_AGENT_URL"]
POD_TOKEN_FILE = os.environ["PODID_POD_TOKEN_FILE"]

CLUSTER = "py-c1"
CLUSTER2 = "py-c2"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pod-role"
ROLE2 = f"arn:aws:iam::{ACCOUNT}:role/pod-role-2"
TARGET = "arn:aws:iam::111122223333:role/target"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


def clusters_flows(eks):
    out = eks.create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        tags={"env": "test"},
    )
    c = out["cluster"]
    check("create_cluster: ACTIVE at once, ARN, tags",
          c["status"] == "ACTIVE" and c["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
          and c["tags"] == {"env": "test"}, repr(c))
    check("create_cluster: createdAt parses as a datetime", is_dt(c.get("createdAt")), repr(c.get("createdAt")))
    eks.create_cluster(name=CLUSTER2, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})

    c = eks.describe_cluster(name=CLUSTER)["cluster"]
    check("describe_cluster",
          c["name"] == CLUSTER and c["resourcesVpcConfig"]["subnetIds"] == ["subnet-1", "subnet-2"]
          and c["identity"]["oidc"]["issuer"] == f"{URL}/clusters-oidc/{CLUSTER}" and is_dt(c["createdAt"]), repr(c))

    pages = list(eks.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 1}))
    names = [n for p in pages for n in p["clusters"]]
    mine = [n for n in names if n.startswith("py-")]
    check("list_clusters paginator (PageSize 1): each cluster once, one per page",
          mine == [CLUSTER, CLUSTER2] and len(names) == len(set(names)) and all(len(p["clusters"]) <= 1 for p in pages)
          and len(pages) >= 2 and "nextToken" not in pages[-1], repr(pages))

    try:
        eks.get_waiter("cluster_active").wait(name=CLUSTER, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        ok("cluster_active waiter")
    except botocore.exceptions.WaiterError as e:
        fail("cluster_active waiter", str(e))
    expect_error("describe_cluster of a missing cluster", "ResourceNotFoundException", 404,
                 eks.describe_cluster, name="py-nope")
    expect_error("create_cluster with a taken name", "ResourceInUseException", 409,
                 eks.create_cluster, name=CLUSTER, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                 resourcesVpcConfig={"subnetIds": ["subnet-1"]})


def eksctl_flows(eks):
    """What eksctl calls beyond associations: the cluster's CA, the cluster
    versions, and the eks-pod-identity-agent add-on."""
    c = eks.describe_cluster(name=CLUSTER)["cluster"]
    pem = base64.b64decode(c["certificateAuthority"]["data"]).decode()
    check("describe_cluster: certificateAuthority.data is a PEM certificate",
          pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:80])
    v = eks.describe_cluster_versions(defaultOnly=True)["clusterVersions"]
    check("describe_cluster_versions(defaultOnly)", len(v) == 1 and v[0]["defaultVersion"] is True
          and is_dt(v[0]["releaseDate"]), repr(v))
    a = eks.describe_addon_versions(addonName="eks-pod-identity-agent")["addons"]
    check("describe_addon_versions", a and a[0]["addonVersions"][0]["addonVersion"], repr(a))
    out = eks.create_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")["addon"]
    check("create_addon: ACTIVE, addon ARN", out["status"] == "ACTIVE" and is_dt(out["createdAt"])
          and out["addonArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/{CLUSTER}/eks-pod-identity-agent/"), repr(out))
    expect_error("create_addon of another add-on", "InvalidParameterException", 400,
                 eks.create_addon, clusterName=CLUSTER, addonName="vpc-cni")
    check("list_addons", eks.list_addons(clusterName=CLUSTER)["addons"] == ["eks-pod-identity-agent"])
    d = eks.describe_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")["addon"]
    check("describe_addon", d["status"] == "ACTIVE" and d["clusterName"] == CLUSTER, repr(d))
    check("delete_addon", eks.delete_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")["addon"]["status"] == "DELETING")
    expect_error("describe_addon after delete_addon", "ResourceNotFoundException", 404,
                 eks.describe_addon, clusterName=CLUSTER, addonName="eks-pod-identity-agent")


def association_flows(eks):
    out = eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace="default", serviceAccount="app", roleArn=ROLE, tags={"team": "a"})
    a = out["association"]
    check("create_pod_identity_association",
          re.fullmatch(r"a-[a-z0-9]{17}", a["associationId"]) is not None and a["roleArn"] == ROLE
          and a["tags"] == {"team": "a"} and a["disableSessionTags"] is False
          and a["associationArn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER}/{a['associationId']}",
          repr(a))
    check("create: createdAt and modifiedAt parse as datetimes and are equal",
          is_dt(a.get("createdAt")) and a.get("createdAt") == a.get("modifiedAt"), repr(a))
    id1, arn1 = a["associationId"], a["associationArn"]

    out = eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace="default", serviceAccount="worker", roleArn=ROLE,
        targetRoleArn=TARGET, disableSessionTags=True, policy=POLICY, tags={"k1": "v1", "k2": ""})
    a = out["association"]
    check("create with a target role, disableSessionTags and a policy",
          a["targetRoleArn"] == TARGET and a["externalId"] == f"{REGION}/{ACCOUNT}/{CLUSTER}/default/worker"
          and a["disableSessionTags"] is True and json.loads(a["policy"]) == json.loads(POLICY)
          and a["tags"] == {"k1": "v1", "k2": ""}, repr(a))
    id2 = a["associationId"]

    id3 = eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace="other", serviceAccount="app", roleArn=ROLE)["association"]["associationId"]

    expect_error("duplicate create: 409 ResourceInUseException naming the existing ID", "ResourceInUseException", 409,
                 eks.create_pod_identity_association, clusterName=CLUSTER, namespace="default",
                 serviceAccount="app", roleArn=ROLE2, message_re=rf"Association already exists: {id1}")
    try:
        eks.create_pod_identity_association(clusterName=CLUSTER, namespace="default", serviceAccount="app", roleArn=ROLE)
        fail("duplicate create maps to eks.exceptions.ResourceInUseException", "succeeded")
    except eks.exceptions.ResourceInUseException:
        ok("duplicate create maps to eks.exceptions.ResourceInUseException")
    expect_error("create in a missing cluster", "ResourceNotFoundException", 404,
                 eks.create_pod_identity_association, clusterName="py-nope", namespace="default",
                 serviceAccount="app", roleArn=ROLE)
    expect_error("create with a policy but session tags on", "InvalidParameterException", 400,
                 eks.create_pod_identity_association, clusterName=CLUSTER, namespace="default",
                 serviceAccount="p", roleArn=ROLE, policy=POLICY)
    expect_error("create with a malformed role ARN", "InvalidParameterException", 400,
                 eks.create_pod_identity_association, clusterName=CLUSTER, namespace="default",
                 serviceAccount="bad", roleArn="not-an-arn-but-long-enough")

    # Idempotency: the same clientRequestToken and parameters return the original.
    tok = str(uuid.uuid4())
    r1 = eks.create_pod_identity_association(clusterName=CLUSTER, namespace="idem", serviceAccount="app",
                                             roleArn=ROLE, clientRequestToken=tok)["association"]
    r2 = eks.create_pod_identity_association(clusterName=CLUSTER, namespace="idem", serviceAccount="app",
                                             roleArn=ROLE, clientRequestToken=tok)["association"]
    check("create repeated with the same clientRequestToken returns the original",
          r1["associationId"] == r2["associationId"] and r1["createdAt"] == r2["createdAt"], f"{r1!r} / {r2!r}")
    id4 = r1["associationId"]

    a = eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=id1)["association"]
    check("describe_pod_identity_association",
          a["associationId"] == id1 and a["serviceAccount"] == "app" and a["namespace"] == "default"
          and is_dt(a["modifiedAt"]), repr(a))
    expect_error("describe a missing association", "ResourceNotFoundException", 404,
                 eks.describe_pod_identity_association, clusterName=CLUSTER, associationId="a-00000000000000000")
    expect_error("describe with a malformed association ID", "InvalidParameterException", 400,
                 eks.describe_pod_identity_association, clusterName=CLUSTER, associationId="a-short")

    before = a
    a = eks.update_pod_identity_association(clusterName=CLUSTER, associationId=id1, roleArn=ROLE2,
                                            targetRoleArn=TARGET)["association"]
    check("update: role change and target role set; externalId added; modifiedAt moves",
          a["roleArn"] == ROLE2 and a["targetRoleArn"] == TARGET
          and a["externalId"] == f"{REGION}/{ACCOUNT}/{CLUSTER}/default/app"
          and a["modifiedAt"] > before["modifiedAt"] and a["createdAt"] == before["createdAt"], repr(a))
    a = eks.update_pod_identity_association(clusterName=CLUSTER, associationId=id1, targetRoleArn="")["association"]
    check('update: targetRoleArn "" removes the target role and externalId',
          "targetRoleArn" not in a and "externalId" not in a and a["roleArn"] == ROLE2, repr(a))
    expect_error("update that changes nothing", "InvalidParameterException", 400,
                 eks.update_pod_identity_association, clusterName=CLUSTER, associationId=id1, roleArn=ROLE2)
    expect_error("update with no members", "InvalidParameterException", 400,
                 eks.update_pod_identity_association, clusterName=CLUSTER, associationId=id1)
    expect_error("update: policy without disableSessionTags", "InvalidParameterException", 400,
                 eks.update_pod_identity_association, clusterName=CLUSTER, associationId=id1, policy=POLICY)
    a = eks.update_pod_identity_association(clusterName=CLUSTER, associationId=id1, disableSessionTags=True,
                                            policy=POLICY)["association"]
    check("update: disableSessionTags and policy",
          a["disableSessionTags"] is True and json.loads(a["policy"]) == json.loads(POLICY), repr(a))
    expect_error("update a missing association", "ResourceNotFoundException", 404,
                 eks.update_pod_identity_association, clusterName=CLUSTER, associationId="a-00000000000000000",
                 roleArn=ROLE)

    pag = eks.get_paginator("list_pod_identity_associations")
    pages = list(pag.paginate(clusterName=CLUSTER, PaginationConfig={"PageSize": 2}))
    ids = [x["associationId"] for p in pages for x in p["associations"]]
    check("list paginator (PageSize 2): every association exactly once, pages of at most 2",
          sorted(ids) == sorted([id1, id2, id3, id4]) and len(pages) == 2
          and all(len(p["associations"]) <= 2 for p in pages) and "nextToken" not in pages[-1], repr(pages))
    item = next(x for p in pages for x in p["associations"] if x["associationId"] == id1)
    check("list items are summaries",
          {"clusterName", "namespace", "serviceAccount", "associationArn", "associationId"} <= set(item)
          <= {"clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn"},
          repr(item))
    full = pag.paginate(clusterName=CLUSTER, PaginationConfig={"PageSize": 1, "MaxItems": 3}).build_full_result()
    check("list paginator MaxItems 3: 3 items and a resume token",
          len(full["associations"]) == 3 and full.get("NextToken"), repr(full))
    out = eks.list_pod_identity_associations(clusterName=CLUSTER, namespace="default", serviceAccount="worker")
    check("list filters (namespace, serviceAccount)",
          [x["associationId"] for x in out["associations"]] == [id2] and "nextToken" not in out, repr(out))
    expect_error("list with maxResults 101", "InvalidParameterException", 400,
                 eks.list_pod_identity_associations, clusterName=CLUSTER, maxResults=101)
    expect_error("list with a forged nextToken", "InvalidParameterException", 400,
                 eks.list_pod_identity_associations, clusterName=CLUSTER, nextToken="forged")

    # Tags on association and cluster ARNs.
    eks.tag_resource(resourceArn=arn1, tags={"owner": "me", "team": "b"})
    eks.untag_resource(resourceArn=arn1, tagKeys=["owner"])
    out = eks.list_tags_for_resource(resourceArn=arn1)
    check("tag_resource, untag_resource, list_tags_for_resource (association ARN)", out["tags"] == {"team": "b"}, repr(out))
    cluster_arn = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
    eks.tag_resource(resourceArn=cluster_arn, tags={"tier": "gold", "x": "y"})
    eks.untag_resource(resourceArn=cluster_arn, tagKeys=["x", "absent"])
    out = eks.list_tags_for_resource(resourceArn=cluster_arn)
    check("tags on a cluster ARN", out["tags"] == {"env": "test", "tier": "gold"}, repr(out))
    # Keys and values with every character class the tag pattern allows:
    # UntagResource sends them in the query string, which SigV4 signs.
    odd = "team name/x+y=z@ é:.-_"
    eks.tag_resource(resourceArn=arn1, tags={odd: "välue ✓ & more", "plain": "1"})
    out = eks.list_tags_for_resource(resourceArn=arn1)
    check("tags with spaces, /+=@:, and non-ASCII round-trip",
          out["tags"] == {"team": "b", odd: "välue ✓ & more", "plain": "1"}, repr(out))
    eks.untag_resource(resourceArn=arn1, tagKeys=[odd, "plain"])
    out = eks.list_tags_for_resource(resourceArn=arn1)
    check("untag_resource with such keys (signed query string)", out["tags"] == {"team": "b"}, repr(out))
    expect_error("tag keys with the aws: prefix are reserved", "BadRequestException", 400,
                 eks.tag_resource, resourceArn=arn1, tags={"aws:x": "y"})
    expect_error("list tags of an unknown cluster ARN", "NotFoundException", 404,
                 eks.list_tags_for_resource, resourceArn=f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/py-nope")
    expect_error("tag an unknown association ARN", "NotFoundException", 404,
                 eks.tag_resource,
                 resourceArn=f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{CLUSTER}/a-00000000000000000",
                 tags={"a": "b"})

    out = eks.delete_pod_identity_association(clusterName=CLUSTER, associationId=id3)
    a = out["association"]
    check("delete returns the full association", a["associationId"] == id3 and a["roleArn"] == ROLE
          and is_dt(a["createdAt"]), repr(a))
    expect_error("delete it again", "ResourceNotFoundException", 404,
                 eks.delete_pod_identity_association, clusterName=CLUSTER, associationId=id3)
    expect_error("a body over --max-body-bytes: 413 RequestEntityTooLargeException", "RequestEntityTooLargeException", 413,
                 eks.create_pod_identity_association, clusterName=CLUSTER, namespace="big", serviceAccount="app",
                 roleArn=ROLE, disableSessionTags=True, policy="x" * (1 << 20))
    return id1, id2


def credential_flows(eks, akid, secret):
    """EKS Auth AssumeRoleForPodIdentity with a podid token, then STS with the
    vended credentials: GetCallerIdentity, and AssumeRole chaining."""
    a = eks.create_pod_identity_association(clusterName=CLUSTER, namespace="creds", serviceAccount="app",
                                            roleArn=ROLE)["association"]
    pod_uid = str(uuid.uuid4())
    token = subprocess.run(
        [PODID_BIN, "token", "--endpoint", URL, "--data-dir", DATA_DIR, "--cluster", CLUSTER,
         "--namespace", "creds", "--service-account", "app", "--pod-name", "app-1", "--pod-uid", pod_uid],
        check=True, capture_output=True, text=True, timeout=30).stdout.strip()

    auth = client("eks-auth", akid, secret)
    out = auth.assume_role_for_pod_identity(clusterName=CLUSTER, token=token)
    creds, user = out["credentials"], out["assumedRoleUser"]
    check("eks-auth assume_role_for_pod_identity: subject, audience, association",
          out["subject"] == {"namespace": "creds", "serviceAccount": "app"}
          and out["audience"] == "pods.eks.amazonaws.com"
          and out["podIdentityAssociation"]["associationId"] == a["associationId"]
          and out["podIdentityAssociation"]["associationArn"] == a["associationArn"], repr(out))
    check("eks-auth: assumed-role ARN and session name eks-{cluster}-{pod}-{uuid}",
          re.fullmatch(rf"arn:aws:sts::{ACCOUNT}:assumed-role/pod-role/eks-{CLUSTER}-app-1-[0-9a-f-]{{36}}", user["arn"])
          is not None and user["assumeRoleId"].endswith(":" + user["arn"].rsplit("/", 1)[1]), repr(user))
    now = datetime.datetime.now(datetime.timezone.utc)
    check("eks-auth: credentials.expiration parses as a datetime in the future",
          is_dt(creds["expiration"]) and creds["expiration"] > now and creds["accessKeyId"].startswith("ASIA"),
          repr(creds.get("expiration")))
    expect_error("eks-auth with a garbage token", "InvalidTokenException", 400,
                 auth.assume_role_for_pod_identity, clusterName=CLUSTER, token="aaa.bbb.ccc")
    expect_error("eks-auth in a cluster without the token's issuer", "InvalidTokenException", 400,
                 auth.assume_role_for_pod_identity, clusterName=CLUSTER2, token=token)

    sts = client("sts", creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    ident = sts.get_caller_identity()
    check("sts get_caller_identity with the vended credentials is the assumed role",
          ident["Arn"] == user["arn"] and ident["Account"] == ACCOUNT and ident["UserId"] == user["assumeRoleId"],
          repr(ident))

    out = sts.assume_role(RoleArn=TARGET, RoleSessionName="chained-py")
    ch = out["Credentials"]
    check("sts assume_role chained from the pod session",
          out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111122223333:assumed-role/target/chained-py"
          and is_dt(ch["Expiration"]) and ch["Expiration"] <= now + datetime.timedelta(hours=1, minutes=1),
          repr(out))
    sts2 = client("sts", ch["AccessKeyId"], ch["SecretAccessKey"], ch["SessionToken"])
    ident = sts2.get_caller_identity()
    check("sts get_caller_identity with the chained credentials",
          ident["Arn"] == "arn:aws:sts::111122223333:assumed-role/target/chained-py" and ident["Account"] == "111122223333",
          repr(ident))
    expect_error("chained assume_role longer than 1 hour", "ValidationError", 400,
                 sts.assume_role, RoleArn=TARGET, RoleSessionName="chained-long", DurationSeconds=7200)

    # Vended sessions may read the EKS API but not write it.
    veks = client("eks", creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    out = veks.describe_cluster(name=CLUSTER)
    check("vended session can read the EKS API", out["cluster"]["name"] == CLUSTER, repr(out))
    expect_error("vended session cannot write the EKS API", "AccessDeniedException", 403,
                     veks.create_cluster, name="py-denied", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                     resourcesVpcConfig={"subnetIds": ["subnet-1"]})

    # The container credential provider (what a pod's boto3 uses) against
    # `podid agent` with this pod's token. run.sh runs the agent for CLUSTER and
    # the JS flows read the same token file.
    with open(POD_TOKEN_FILE, "w") as f:
        f.write(token)
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = AGENT_URL
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = POD_TOKEN_FILE
    try:
        pod = boto3.session.Session(region_name=REGION)
        got = pod.get_credentials()
        method = got.method if got else None
        ident = pod.client("sts", endpoint_url=URL, config=CONFIG).get_caller_identity()
        check("boto3 container credential provider via podid agent: the pod's role",
              method == "container-role"
              and re.fullmatch(rf"arn:aws:sts::{ACCOUNT}:assumed-role/pod-role/eks-{CLUSTER}-app-1-[0-9a-f-]{{36}}",
                               ident["Arn"]) is not None, f"{method!r} {ident!r}")
    finally:
        del os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]

    # A target-role association: EKS Auth returns the target role's session.
    b = eks.create_pod_identity_association(clusterName=CLUSTER, namespace="creds", serviceAccount="chained",
                                            roleArn=ROLE, targetRoleArn=TARGET)["association"]
    token2 = subprocess.run(
        [PODID_BIN, "token", "--endpoint", URL, "--data-dir", DATA_DIR, "--cluster", CLUSTER,
         "--namespace", "creds", "--service-account", "chained", "--pod-name", "app-2", "--pod-uid", str(uuid.uuid4())],
        check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    out = auth.assume_role_for_pod_identity(clusterName=CLUSTER, token=token2)
    c = out["credentials"]
    ident = client("sts", c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]).get_caller_identity()
    check("eks-auth with a target role: the credentials are the target role's",
          ident["Account"] == "111122223333" and ident["Arn"].startswith("arn:aws:sts::111122223333:assumed-role/target/")
          and out["podIdentityAssociation"]["associationId"] == b["associationId"], f"{out!r} / {ident!r}")


def env_endpoint_flows(akid, secret):
    """boto3 finds podid through AWS_ENDPOINT_URL_EKS / _STS, as the README says."""
    os.environ["AWS_ENDPOINT_URL_EKS"] = URL
    os.environ["AWS_ENDPOINT_URL_STS"] = URL
    try:
        s = boto3.session.Session(aws_access_key_id=akid, aws_secret_access_key=secret, region_name=REGION)
        out = s.client("eks", config=CONFIG).describe_cluster(name=CLUSTER)
        check("boto3 reads AWS_ENDPOINT_URL_EKS", out["cluster"]["name"] == CLUSTER, repr(out))
        out = s.client("sts", config=CONFIG).get_caller_identity()
        check("boto3 reads AWS_ENDPOINT_URL_STS", out["Account"] == ACCOUNT, repr(out))
    finally:
        del os.environ["AWS_ENDPOINT_URL_EKS"], os.environ["AWS_ENDPOINT_URL_STS"]


def signature_flows(akid):
    bad = client("eks", akid, "wrong-secret-key-wrong-secret-key-wrong0")
    expect_error("a request signed with the wrong secret", "InvalidSignatureException", 403,
                 bad.list_clusters)
    unknown = client("eks", "AKIAUNKNOWNUNKNOWN00", "wrong-secret-key-wrong-secret-key-wrong0")
    expect_error("a request signed with an unknown access key", "UnrecognizedClientException", 403,
                 unknown.list_clusters)
    sts = client("sts", akid, "wrong-secret-key-wrong-secret-key-wrong0")
    expect_error("sts with the wrong secret", "SignatureDoesNotMatch", 403, sts.get_caller_identity)


def region_flows(akid, secret):
    """Resources are the signing region's, as on AWS: CLUSTER again in
    eu-west-1 is another cluster, with its own ARN, issuer and associations,
    whose pods get credentials at eu-west-1's EKS Auth."""
    west = "eu-west-1"
    eu = client("eks", akid, secret, region=west)
    c = eu.create_cluster(name=CLUSTER, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                          resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]
    check("create_cluster in eu-west-1 (a name us-east-1 has too): an eu-west-1 ARN and issuer",
          c["arn"] == f"arn:aws:eks:{west}:{ACCOUNT}:cluster/{CLUSTER}"
          and c["identity"]["oidc"]["issuer"] == f"{URL}/clusters-oidc/{west}/{CLUSTER}", repr(c))
    eu.create_cluster(name="py-eu-only", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                      resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    home = client("eks", akid, secret)
    names = [n for p in home.get_paginator("list_clusters").paginate() for n in p["clusters"]]
    check("list_clusters in us-east-1 does not show eu-west-1's", "py-eu-only" not in names, repr(names))
    names = [n for p in eu.get_paginator("list_clusters").paginate() for n in p["clusters"]]
    check("list_clusters in eu-west-1", names == [CLUSTER, "py-eu-only"], repr(names))
    a = eu.create_pod_identity_association(clusterName=CLUSTER, namespace="creds", serviceAccount="app",
                                           roleArn=ROLE2)["association"]
    check("an eu-west-1 association: its ARN",
          a["associationArn"] == f"arn:aws:eks:{west}:{ACCOUNT}:podidentityassociation/{CLUSTER}/{a['associationId']}",
          repr(a))

    token = subprocess.run(
        [PODID_BIN, "token", "--endpoint", URL, "--data-dir", DATA_DIR, "--region", west, "--cluster", CLUSTER,
         "--namespace", "creds", "--service-account", "app", "--pod-name", "app-eu", "--pod-uid", str(uuid.uuid4())],
        check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    out = client("eks-auth", akid, secret, region=west).assume_role_for_pod_identity(clusterName=CLUSTER, token=token)
    check("eks-auth in eu-west-1: eu-west-1's association",
          out["podIdentityAssociation"]["associationArn"] == a["associationArn"], repr(out))
    cr = out["credentials"]
    ident = client("sts", cr["accessKeyId"], cr["secretAccessKey"], cr["sessionToken"], region=west).get_caller_identity()
    check("the eu-west-1 pod's credentials are its association's role",
          ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/pod-role-2/eks-{CLUSTER}-app-eu-"), repr(ident))
    expect_error("eu-west-1's token at us-east-1's EKS Auth", "InvalidTokenException", 400,
                 client("eks-auth", akid, secret).assume_role_for_pod_identity, clusterName=CLUSTER, token=token)
    expect_error("a region podid does not serve", "InvalidSignatureException", 403,
                 client("eks", akid, secret, region="xx-fake-1").list_clusters,
                 message_re=r"Credential should be scoped to a valid region, not 'xx-fake-1'\.")
    for name in (CLUSTER, "py-eu-only"):
        eu.delete_cluster(name=name)
    home.describe_cluster(name=CLUSTER)
    ok("deleting eu-west-1's clusters leaves us-east-1's")


def main():
    akid, secret = admin_keys()
    eks = client("eks", akid, secret)
    steps = [("clusters", lambda: clusters_flows(eks)),
             ("associations and tags", lambda: association_flows(eks)),
             ("eksctl's calls", lambda: eksctl_flows(eks)),
             ("EKS Auth and STS", lambda: credential_flows(eks, akid, secret)),
             ("endpoint environment", lambda: env_endpoint_flows(akid, secret)),
             ("signatures", lambda: signature_flows(akid)),
             ("regions", lambda: region_flows(akid, secret))]
    run_steps(steps)
    try:
        out = eks.delete_cluster(name=CLUSTER2)
        check("delete_cluster", out["cluster"]["name"] == CLUSTER2, repr(out))
        expect_error("describe a deleted cluster", "ResourceNotFoundException", 404, eks.describe_cluster, name=CLUSTER2)
        eks.get_waiter("cluster_deleted").wait(name=CLUSTER2, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        ok("cluster_deleted waiter")
    except Exception as e:
        fail("delete_cluster raised", f"{type(e).__name__}: {e}")
    return finish("boto3")


if __name__ == "__main__":
    sys.exit(main())
